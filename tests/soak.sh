#!/bin/bash
# tests/soak.sh — a search killed at random moments and resumed, again and
# again; its final stats.csv must equal that of a run that was never
# interrupted (issue 16). Not part of `make test` (it takes minutes).
#
#   tests/soak.sh                       # 20 interruptions, SIGKILL and SIGTERM mixed
#   tests/soak.sh --kills 50 --seed 7   # more, another random sequence
#   ENEVO=build-asan/enevo tests/soak.sh
#
# The search: the built-in config on a small generated data set (1,200
# images of 12x12 in 10 classes, as IDX files), 1 epoch per network and the
# model meter, so its stats.csv is a function of the seed alone and a
# network takes about a second. Each interruption comes after a
# random 0.3-3 s of work (startup included): SIGKILL (as a crash or the OOM
# killer) or SIGTERM (as a scheduler's preemption), chosen at random; the
# run is then resumed with `enevo resume`. Exit status 0 when the stats.csv
# files are byte-identical, 1 otherwise.
set -euo pipefail
cd "$(dirname "$0")/.."
ENEVO=${ENEVO:-./enevo}
kills=20 seed=1 out=${TMPDIR:-/tmp}/enevo-soak.$$
while [ $# -gt 0 ]; do
    case "$1" in
    --kills) kills=$2; shift 2 ;;
    --seed) seed=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    *) echo "usage: tests/soak.sh [--kills N] [--seed S] [--out DIR]" >&2; exit 2 ;;
    esac
done
[ -x "$ENEVO" ] || make --no-print-directory enevo
mkdir -p "$out/data"
# Stripes of 5 orientations and 2 widths (10 classes) with noise: learnable, but not at once.
python3 - "$out/data" <<'PY'
import gzip, random, struct, sys
d = sys.argv[1]
for prefix, n, seed in (("train", 1000, 1), ("t10k", 200, 2)):
    r = random.Random(seed)
    img, lab = bytearray(), bytearray()
    for i in range(n):
        k = r.randrange(10)
        for y in range(12):
            for x in range(12):
                per = 4 if k < 5 else 6
                v = (x, y, x + y, x - y + 12, x // 3 + y)[k % 5] % per < per // 2
                img.append(max(0, min(255, int(160 * v + r.gauss(48, 40)))))
        lab.append(k)
    with gzip.open(f"{d}/{prefix}-images-idx3-ubyte.gz", "wb") as f:
        f.write(struct.pack(">IIII", 0x803, n, 12, 12) + bytes(img))
    with gzip.open(f"{d}/{prefix}-labels-idx1-ubyte.gz", "wb") as f:
        f.write(struct.pack(">II", 0x801, n) + bytes(lab))
PY
cat > "$out/soak.yaml" <<YAML
defaults: builtin
evolutionary: {generations: 15, lambda: 3, max_mflops: 5}
network: {learning: {default_train_epochs: 1, dataset: $out/data}}
energy: {meter: model}
YAML
budget=("$out/soak.yaml" --seed 3 --threads 2)
RANDOM=$seed
start=$(date +%s)

echo "soak: the uninterrupted run -> $out/ref"
"$ENEVO" evolve "${budget[@]}" --run-dir "$out/ref" > "$out/ref.log" 2>&1
ref_s=$(( $(date +%s) - start ))
echo "soak: $(( $(wc -l < "$out/ref/stats.csv") - 1 )) evaluations in $ref_s s"

run="$out/run" n=0 nkill=0 nterm=0 finished=0
"$ENEVO" evolve "${budget[@]}" --run-dir "$run" > "$out/run.log" 2>&1 &
pid=$!
while :; do
    # 0.3 to 3 s of work, then the signal.
    ms=$(( 300 + RANDOM % 2700 ))
    sleep "$(printf '%d.%03d' $(( ms / 1000 )) $(( ms % 1000 )))"
    if ! kill -0 "$pid" 2>/dev/null; then
        wait "$pid" && finished=1 || true
        [ "$finished" = 1 ] && break
    elif [ "$n" -lt "$kills" ]; then
        if [ $(( RANDOM % 2 )) = 0 ]; then sig=KILL; nkill=$((nkill + 1)); else sig=TERM; nterm=$((nterm + 1)); fi
        kill -s "$sig" "$pid" 2>/dev/null || true
        st=0; wait "$pid" || st=$?
        n=$((n + 1))
        rows=$(( $(wc -l < "$run/stats.csv" 2>/dev/null || echo 1) - 1 ))
        echo "soak: interruption $n/$kills: SIG$sig at $rows evaluations (exit status $st)"
        # SIGTERM must end the run cleanly (143), SIGKILL kills it (137).
        if [ "$sig" = TERM ] && [ "$st" != 143 ] && [ "$st" != 0 ]; then
            echo "soak: SIGTERM gave exit status $st, expected 143" >&2
            tail -5 "$out/run.log" >&2
            exit 1
        fi
    else
        wait "$pid" && finished=1 || true
        break
    fi
    [ "$finished" = 1 ] && break
    if [ -f "$run/config.used.yaml" ]; then
        "$ENEVO" resume "$run" --threads 2 >> "$out/run.log" 2>&1 &
    else # killed before the run directory had its config: start again
        "$ENEVO" evolve "${budget[@]}" --run-dir "$run" >> "$out/run.log" 2>&1 &
    fi
    pid=$!
done
total=$(( $(date +%s) - start ))
if [ "$n" -lt "$kills" ]; then
    echo "soak: the run finished after only $n of $kills interruptions; give it a larger budget" >&2
    exit 1
fi
if cmp -s "$out/ref/stats.csv" "$run/stats.csv"; then
    echo "soak: $n interruptions ($nkill SIGKILL, $nterm SIGTERM), $(( $(wc -l < "$run/stats.csv") - 1 )) evaluations: stats.csv identical to the uninterrupted run's ($total s in all)"
    rm -rf "$out"
    exit 0
fi
echo "soak: stats.csv differs from the uninterrupted run's: diff $out/ref/stats.csv $run/stats.csv" >&2
exit 1
