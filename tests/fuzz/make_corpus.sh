#!/bin/sh
# tests/fuzz/make_corpus.sh MAKE_CORPUS_BIN — (re)writes the seed corpora in
# tests/fuzz/corpus/: the project's real text files copied as they are
# (phenotypes, grammars, configs, ENERGIZE's fixtures when ../shared is
# there), the head of real stats.csv files, and the binary seeds the
# generator (tests/fuzz/make_corpus.c) writes with the project's writers.
# Reproducers of fixed bugs (tests/fuzz/corpus/<harness>/regress-*) are kept.
# Run from the repository root: `make fuzz-corpus`.
set -eu
gen=$1
c=tests/fuzz/corpus
fx=
for d in ../shared/fixtures/energize shared/fixtures/energize /work/shared/fixtures/energize; do
    [ -d "$d" ] && { fx=$d; break; }
done
mkdir -p $c/phenotype $c/grammar $c/config $c/stats

for f in bench/*.phen; do cp "$f" $c/phenotype/"$(basename "$f")"; done
for f in configs/*.grammar; do cp "$f" $c/grammar/"$(basename "$f")"; done
for f in configs/*.yaml experiments/*.yaml; do
    cp "$f" $c/config/"$(basename "$(dirname "$f")")-$(basename "$f")"
done
if [ -n "$fx" ]; then
    for f in phenotype1.txt phenotype2.txt; do
        [ -f "$fx/$f" ] && cp "$fx/$f" $c/phenotype/energize-$f
    done
    for f in "$fx"/*.grammar; do cp "$f" $c/grammar/energize-"$(basename "$f")"; done
    for f in "$fx"/*.json "$fx"/*.yaml; do
        [ -f "$f" ] && cp "$f" $c/config/energize-"$(basename "$f")"
    done
else
    echo "make_corpus.sh: no ENERGIZE fixtures beside the checkout; their seeds are not refreshed" >&2
fi

# stats.csv: the header and first rows of real runs when there are any (a
# (1+λ) run and an NSGA-II run), a row cut mid-line, quotes and blank lines.
for d in runs/compare/A-seed1 runs/compare/E-seed1; do
    [ -f "$d/stats.csv" ] || continue
    head -n 6 "$d/stats.csv" >$c/stats/"$(basename "$d")-head.csv"
    { head -n 4 "$d/stats.csv"; sed -n 5p "$d/stats.csv" | cut -c1-60 | tr -d '\n'; } \
        >$c/stats/"$(basename "$d")-cut.csv"
done
printf 'generation,index,id,valid,params,flops,accuracy,test_accuracy,energy_j_per_inference,meter,fitness,fitness_mean,phenotype\n0,0,0-0,1,100,2000,0.5,0.49,0.001,model-estimate,0.5,0.5,"layer:fc act:softmax out_features:10 bias:True input:-1"\n\n0,1,0-1,0,,,,,,,-1e+30,-1e+30,"a | b"\n1,0,1-0,1,120,2400,0.6,0.58,0.0009,rapl,0.6,0.55,\n' \
    >$c/stats/minimal.csv

"$gen" $c
