#!/usr/bin/env bash
# scripts/gpu_check.sh — the GPU acceptance run of the CUDA backend, as one
# script for a lent GPU machine that has the NVIDIA driver, CUDA 13 and
# PyTorch but none of enevo's Debian libraries or data.
#
# Prepare here (a Debian machine with enevo's dependencies):
#   make CUDA=1 build-cuda/enevo build-cuda/enevo-tests
#   scripts/gpu_check.sh --pack     # .dev/: libraries and Fashion-MNIST
# then on the GPU machine, from the repository root, with build-cuda/ and
# .dev/ carried along:
#   scripts/gpu_check.sh [OUT_DIR] [STEPS]   (STEPS: tests,bench,measure,train,ab)
# Logs go to OUT_DIR (default gpu-out/); STEPS default tests,bench,measure,train.
set -u
cd "$(dirname "$0")/.." || exit 1

if [ "${1:-}" = "--pack" ]; then
    set -e
    L=/usr/lib/x86_64-linux-gnu
    mkdir -p .dev/lib .dev/data
    xz -T2 -6 -c "$L/libdnnl.so.2" >.dev/lib/libdnnl.so.2.xz
    cp "$L/libyaml-0.so.2" "$L/libcjson.so.1" "$L/libcmocka.so.0" "$L/libOpenCL.so.1" .dev/lib/
    cp /usr/share/datasets/fashion-mnist/*.gz .dev/data/
    du -sh .dev
    exit 0
fi

OUT=${1:-gpu-out}
STEPS=${2:-tests,bench,measure,train}
mkdir -p "$OUT"
has() { case ",$STEPS," in *",$1,"*) return 0 ;; esac; return 1; }

# Libraries: ours from .dev, CUDA's from wherever this machine keeps them.
LIBDIR=/tmp/enevo-lib
mkdir -p "$LIBDIR"
[ -f "$LIBDIR/libdnnl.so.2" ] || xz -dc .dev/lib/libdnnl.so.2.xz >"$LIBDIR/libdnnl.so.2"
cp -f .dev/lib/*.so.* "$LIBDIR/" 2>/dev/null
LP=$LIBDIR
for lib in libcudnn.so.9 libcublas.so.13 libcublasLt.so.13 libcudart.so.13; do
    d=$(find /usr/local/cuda/lib64 /usr/local/cuda/ /usr/lib /opt /usr/local/lib -name "$lib" \
        -print -quit 2>/dev/null | xargs -r dirname)
    [ -n "$d" ] && LP="$LP:$d"
done
export LD_LIBRARY_PATH="$LP:${LD_LIBRARY_PATH:-}"
mkdir -p /usr/share/datasets/fashion-mnist
cp -n .dev/data/*.gz /usr/share/datasets/fashion-mnist/ 2>/dev/null
E=build-cuda/enevo
{
    nvidia-smi --query-gpu=name,driver_version,power.draw --format=csv,noheader
    echo "LD_LIBRARY_PATH=$LD_LIBRARY_PATH"
    ldd "$E" | grep -E "not found|cudnn|cublas|cudart"
} 2>&1 | tee "$OUT/env.txt"

if has tests; then
    echo "== GPU tests"
    timeout 150 build-cuda/enevo-tests 'cuda_*' 2>&1 | tail -c 60000 >"$OUT/tests.log"
    grep -E "FAILED|OK \]|SKIPPED|passed|failed|skipped|worst|acc" "$OUT/tests.log" | tail -60
fi
if has bench; then
    echo "== bench (enevo vs PyTorch, batch 64)"
    ENEVO=$E timeout 300 bench/gpu.sh --seconds ${BENCH_SECONDS:-1.5} --rounds ${BENCH_ROUNDS:-2} --timeout 60 \
        --out "$OUT/bench" 2>&1 | tail -30
fi
if has variants; then
    # The same bench for a previous build (.dev/enevo-prev, if carried) and
    # for this build with TF32 convolutions, to compare changes side by side.
    for net in small medium; do
        for v in prev strict tf32; do
            case $v in
            prev) [ -x .dev/enevo-prev ] || continue; cmd=(.dev/enevo-prev bench bench/$net.phen --device cuda) ;;
            strict) cmd=($E bench bench/$net.phen --device cuda) ;;
            tf32) cmd=($E bench bench/$net.phen --device cuda --tf32) ;;
            esac
            r=$(timeout 30 "${cmd[@]}" --batch-size 64 --seconds 1.5 --json 2>/dev/null |
                python3 -c 'import json,sys; d=json.loads(sys.stdin.read()); print("train %.0f infer %.0f" % (d["train_images_per_s"], d["infer_images_per_s"]))')
            echo "variant $net $v: $r"
        done
    done
fi
if has measure; then
    echo "== measure (nvml)"
    for net in small medium; do
        timeout 90 $E measure bench/$net.phen --device cuda --meter nvml --batch-size 64 --json \
            >"$OUT/measure_$net.json" 2>"$OUT/measure_$net.log"
        echo "$net rc=$?"; tail -12 "$OUT/measure_$net.log"; cat "$OUT/measure_$net.json"
    done
fi
if has train; then
    echo "== train small, 1 epoch, cuda"
    timeout 120 $E train bench/small.phen --device cuda --epochs 1 2>&1 | tail -8
fi
if has ab; then
    echo "== experiments A and B, nvml"
    ENEVO=$E timeout 400 experiments/run.sh --scale tiny --configs experiments/nvml \
        --settings "A B" --seeds "${AB_SEEDS:-1}" --out "$OUT/ab" 2>&1 | tail -20
fi
