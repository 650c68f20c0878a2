#!/bin/bash
# The paper's comparison (ENERGIZE.md §6): settings A-D with one search
# budget, over several seeds, then `enevo report`. Settings E and F
# (NSGA-II, experiments/E-pareto.yaml and F-pareto-partition.yaml) evaluate
# the same number of networks per run as A-D at each scale.
#
#   experiments/run.sh                 # default scale: about 45-60 min on 2 cores
#   experiments/run.sh --scale tiny    # a smoke run: under 10 minutes
#   experiments/run.sh --seeds "1 2 3 4 5" --out runs/paper --settings "A B"
#   experiments/run.sh --settings "A B C D E F"   # (1+lambda) against NSGA-II
#   experiments/run.sh --configs experiments/nvml --settings "A B" --seeds 1
#                                      # on a GPU: A and B measured with NVML
# ENEVO names the binary (default ./enevo; build-cuda/enevo for the GPU).
#
# Scales (generations x (1+lambda), epochs per individual, training images):
#   tiny     2 x (1+2), 1 epoch,  1,500 images
#   default  8 x (1+3), 3 epochs,  8,000 images
#   compare  25 x (1+3), 2 epochs, 8,000 images (issue 12's comparison:
#            at least 96 evaluations per run; about 70-90 min for A B E x 3)
# Evaluations per run: A-D evaluate lambda networks in generation 0 and
# lambda + 1 in each later one (the parent is re-trained: reevaluate_parent),
# tiny 2 + 3 = 5, default 3 + 7 x 4 = 31. E and F (NSGA-II) evaluate
# `population` in generation 0 and lambda in each later one:
#   tiny     population 3, lambda 2, 2 generations: 3 + 2 = 5
#   default  population 6, lambda 5, 6 generations: 6 + 5 x 5 = 31
#   compare  A-D 3 + 24 x 4 = 99; E, F population 11, lambda 8,
#            12 generations: 11 + 11 x 8 = 99
set -euo pipefail
cd "$(dirname "$0")/.."
scale=default seeds="1 2 3" out=runs/experiments settings="A B C D" extra=() configs=experiments
ENEVO=${ENEVO:-./enevo}
while [ $# -gt 0 ]; do
    case "$1" in
    --scale) scale=$2; shift 2 ;;
    --seeds) seeds=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --settings) settings=$2; shift 2 ;;
    --configs) configs=$2; shift 2 ;;
    --) shift; extra=("$@"); break ;;
    *) echo "usage: experiments/run.sh [--scale tiny|default|compare] [--seeds LIST] [--out DIR] [--settings LIST] [--configs DIR] [-- evolve flags]" >&2; exit 2 ;;
    esac
done
case "$scale" in
tiny) budget=(--generations 2 --lambda 2 --epochs 1 --train-subset 1500)
      nsga2=(--generations 2 --population 3 --lambda 2 --epochs 1 --train-subset 1500) ;;
default) budget=(--generations 8 --lambda 3 --epochs 3 --train-subset 8000)
      nsga2=(--generations 6 --population 6 --lambda 5 --epochs 3 --train-subset 8000) ;;
compare) budget=(--generations 25 --lambda 3 --epochs 2 --train-subset 8000)
      nsga2=(--generations 12 --population 11 --lambda 8 --epochs 2 --train-subset 8000) ;;
*) echo "experiments/run.sh: unknown scale '$scale' (tiny, default or compare)" >&2; exit 2 ;;
esac
[ "$ENEVO" != ./enevo ] || [ -x ./enevo ] || make --no-print-directory enevo
mkdir -p "$out/logs"
start=$(date +%s)
for s in $seeds; do
    for x in $settings; do
        cfg=$(ls "$configs/$x"-*.yaml)
        dir="$out/$x-seed$s"
        echo "== setting $x ($cfg), seed $s -> $dir ($(( $(date +%s) - start )) s so far)"
        # A run directory that exists is resumed (same config), so a killed
        # experiment continues where it stopped.
        case "$x" in E | F) b=("${nsga2[@]}") ;; *) b=("${budget[@]}") ;; esac
        "$ENEVO" evolve "$cfg" --seed "$s" --run-dir "$dir" "${b[@]}" "${extra[@]}" \
            > "$out/logs/$x-seed$s.log" 2>&1 || { echo "   failed: see $out/logs/$x-seed$s.log"; continue; }
        tail -3 "$out/logs/$x-seed$s.log" | sed 's/^/   /'
    done
done
runs=()
for s in $seeds; do for x in $settings; do [ -d "$out/$x-seed$s" ] && runs+=("$out/$x-seed$s"); done; done
# A is the baseline; without A in the list, the first setting run.
baseline=A
case " $settings " in *" A "*) ;; *) baseline=${settings%% *} ;; esac
"$ENEVO" report "${runs[@]}" --out "$out/report" --baseline "$baseline"
echo "report: $out/report/report.md and report.html ($(( $(date +%s) - start )) s in all)"
