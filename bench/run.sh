#!/usr/bin/env bash
# bench/run.sh — enevo vs PyTorch (CPU) throughput on the reference networks,
# plus the OpenBLAS SGEMM rate of this machine.  `make bench` runs it.
# See bench/README.md for what is measured and how.
#
# usage: bench/run.sh [--seconds S] [--quick] [--rounds R] [--threads T]
#                     [--batch-size B] [--nets "small medium"] [--no-enevo]
#                     [--isa "AVX2 AVX512_CORE"]
#
#   --seconds S    length of one timing window in each benchmark (default 3)
#   --quick        --seconds 1 --rounds 1, SGEMM windows of 0.3 s
#   --rounds R     interleaved enevo/torch rounds per net (default 2)
#   --threads T    threads for every benchmark (default 2)
#   --batch-size B (default 64)
#   --nets LIST    networks bench/<net>.phen to run (default "small medium")
#   --no-enevo     run only the PyTorch and SGEMM parts
#   --isa LIST     run the whole side-by-side once per instruction-set cap, one
#                  table each: enevo and PyTorch's oneDNN get ONEDNN_MAX_CPU_ISA
#                  (and DNNL_MAX_CPU_ISA) = the cap, PyTorch's own ATen kernels
#                  ATEN_CPU_CAPABILITY (AVX2 -> avx2, AVX512* -> avx512, lower ->
#                  default). Caps only lower the ISA: an AVX2 machine can check
#                  SSE41 and AVX2, an AVX-512 one all three. Default: no cap.
#
# Environment: ENEVO (enevo binary, default ./enevo), PYTHON (default
# /usr/bin/python3, the one with Debian's PyTorch).
# Results: a table on stdout, bench/out/results.json (with --isa: one
# results-<ISA>.json each), logs in bench/out/logs/.
set -u

cd "$(dirname "$0")/.." || exit 1

SECONDS_PER=3
ROUNDS=2
THREADS=2
BATCH=64
NETS="small medium"
SGEMM_SECONDS=1
NO_ENEVO=0
ISAS=""
ENEVO=${ENEVO:-./enevo}
PY=${PYTHON:-/usr/bin/python3}

die() { echo "bench/run.sh: $*" >&2; exit 2; }

while [ $# -gt 0 ]; do
    case "$1" in
        --seconds) [ $# -ge 2 ] || die "--seconds needs a value"; SECONDS_PER=$2; shift 2 ;;
        --quick) SECONDS_PER=1; ROUNDS=1; SGEMM_SECONDS=0.3; shift ;;
        --rounds) [ $# -ge 2 ] || die "--rounds needs a value"; ROUNDS=$2; shift 2 ;;
        --threads) [ $# -ge 2 ] || die "--threads needs a value"; THREADS=$2; shift 2 ;;
        --batch-size) [ $# -ge 2 ] || die "--batch-size needs a value"; BATCH=$2; shift 2 ;;
        --nets) [ $# -ge 2 ] || die "--nets needs a value"; NETS=$2; shift 2 ;;
        --no-enevo) NO_ENEVO=1; shift ;;
        --isa) [ $# -ge 2 ] || die "--isa needs a list, e.g. \"AVX2 AVX512_CORE\""; ISAS=$2; shift 2 ;;
        -h|--help) sed -n '2,/^set -u/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        *) die "unknown argument '$1' (see --help)" ;;
    esac
done

[ -x "$PY" ] || die "$PY not found (PyTorch reference needs Debian's python3-torch)"
"$PY" -c 'import torch' 2>/dev/null || die "$PY cannot import torch (apt-get install python3-torch)"
for net in $NETS; do
    [ -f "bench/$net.phen" ] || die "bench/$net.phen not found"
done
if [ "$NO_ENEVO" = 0 ] && [ ! -x "$ENEVO" ]; then
    die "enevo binary '$ENEVO' not found or not executable: build it with 'make' (or run 'make bench'),
set ENEVO=path, or pass --no-enevo to run only the PyTorch and SGEMM parts"
fi

# Same thread count for everything, also for libraries that read the env.
export OMP_NUM_THREADS=$THREADS OPENBLAS_NUM_THREADS=$THREADS

OUT=bench/out
LOGS=$OUT/logs
mkdir -p "$LOGS" build || exit 1
rm -f "$LOGS"/*.log "$LOGS"/*.json

# ---- SGEMM reference -----------------------------------------------------
SGEMM=build/bench-sgemm
if [ ! -x "$SGEMM" ] || [ bench/sgemm.c -nt "$SGEMM" ]; then
    echo "== building $SGEMM"
    ${CC:-cc} -O2 bench/sgemm.c -lopenblas -o "$SGEMM" || die "cannot build $SGEMM (needs libopenblas-dev)"
fi

FAILED=0

# run NAME CMD...: runs CMD, logs stdout+stderr, saves the last stdout line
# (the JSON object) to $LOGS/NAME.json.
run() {
    local name=$1; shift
    echo "== $name: $*"
    "$@" >"$LOGS/$name.log" 2>"$LOGS/$name.err"
    local rc=$?
    tail -n 1 "$LOGS/$name.log" >"$LOGS/$name.json"
    if [ $rc -ne 0 ] || ! "$PY" -c 'import json,sys; json.load(open(sys.argv[1]))' "$LOGS/$name.json" 2>/dev/null; then
        echo "   FAILED (exit $rc, last stdout line is not JSON); see $LOGS/$name.log, $LOGS/$name.err" >&2
        tail -n 5 "$LOGS/$name.err" | sed 's/^/   | /' >&2
        rm -f "$LOGS/$name.json"
        FAILED=1
        return 1
    fi
    local line; line=$(head -c 300 "$LOGS/$name.json")
    echo "   $line"
}

run sgemm "$SGEMM" --threads "$THREADS" --seconds "$SGEMM_SECONDS" --json

# ---- networks, enevo and torch interleaved ---------------------------------
# bench_nets PREFIX: every net, ROUNDS interleaved rounds; logs named PREFIX<net>-...
bench_nets() {
    local pre=$1 net r
    for net in $NETS; do
        r=1
        while [ "$r" -le "$ROUNDS" ]; do
            if [ "$NO_ENEVO" = 0 ]; then
                run "$pre$net-enevo-$r" "$ENEVO" bench "bench/$net.phen" --batch-size "$BATCH" \
                    --threads "$THREADS" --seconds "$SECONDS_PER" --json
            fi
            run "$pre$net-torch-$r" "$PY" bench/torch_bench.py "bench/$net.phen" --batch-size "$BATCH" \
                --threads "$THREADS" --seconds "$SECONDS_PER" --json
            r=$((r + 1))
        done
    done
}

# aten_cap ISA: the ATEN_CPU_CAPABILITY that matches a oneDNN cap.
aten_cap() {
    case "$1" in
        AVX512*) echo avx512 ;;
        AVX2*) echo avx2 ;;
        *) echo default ;;
    esac
}

summary() {
"$PY" - "$LOGS" "$2" "$NETS" "$ROUNDS" "$THREADS" "$BATCH" "$SECONDS_PER" "$NO_ENEVO" "$1" "$3" <<'EOF'
import json, os, sys, time, platform, subprocess

logs, out, nets, rounds, threads, batch, secs, no_enevo, prefix, isa = sys.argv[1:11]
nets, rounds = nets.split(), int(rounds)
TARGETS = {"small": (2.0, 3.0), "medium": (1.3, 1.5)}  # (train, infer) enevo/torch
if isa.startswith("AVX2"):  # issue 11: the targets on AVX2 machines
    TARGETS = {"small": (3.0, 4.0), "medium": (1.5, 2.0)}


def load(name):
    try:
        with open(os.path.join(logs, name + ".json")) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def load_net(name):
    return load(prefix + name)


def best(runs, key):
    vals = [r[key] for r in runs if isinstance(r.get(key), (int, float))]
    return max(vals) if vals else None


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def git_rev():
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                              text=True, timeout=5).stdout.strip() or None
    except Exception:
        return None


sgemm = load("sgemm") or {}
peak = sgemm.get("sgemm_gflops_large")
res = {
    "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    "git": git_rev(),
    "cpu": cpu_model(),
    "nproc": os.cpu_count(),
    "threads": int(threads),
    "batch_size": int(batch),
    "seconds_per_window": float(secs),
    "rounds": rounds,
    "isa_cap": isa or None,
    "enevo_cpu_isa": None,
    "aggregate": "best of rounds (each round: median of 3 windows)",
    "gflops_note": "train GFLOP/s = train img/s * 3 * flops_per_image / 1e9 "
                   "(fwd+bwd ~ 3x fwd estimate); infer GFLOP/s = img/s * flops_per_image / 1e9",
    "sgemm": sgemm,
    "nets": {},
}


def fmt(v, f="%.0f"):
    return "n/a" if v is None else f % v


def ratio(a, b):
    return a / b if a is not None and b else None


rows = []
for net in nets:
    en = [r for r in (load_net("%s-enevo-%d" % (net, i)) for i in range(1, rounds + 1)) if r]
    to = [r for r in (load_net("%s-torch-%d" % (net, i)) for i in range(1, rounds + 1)) if r]
    e_tr, e_in = best(en, "train_images_per_s"), best(en, "infer_images_per_s")
    t_tr, t_in = best(to, "train_images_per_s"), best(to, "infer_images_per_s")
    fpi = next((r["flops_per_image"] for r in en if r.get("flops_per_image")), None)
    t_fpi = next((r["flops_per_image"] for r in to if r.get("flops_per_image")), None)
    tr_gf = e_tr * 3 * fpi / 1e9 if e_tr is not None and fpi else None
    in_gf = e_in * fpi / 1e9 if e_in is not None and fpi else None
    tgt = TARGETS.get(net, (None, None))
    d = {
        "enevo": {"train_images_per_s": e_tr, "infer_images_per_s": e_in,
                  "flops_per_image": fpi,
                  "params": next((r.get("params") for r in en if "params" in r), None),
                  "runs": en},
        "torch": {"train_images_per_s": t_tr, "infer_images_per_s": t_in,
                  "flops_per_image": t_fpi,
                  "params": next((r.get("params") for r in to if "params" in r), None),
                  "torch_version": next((r.get("torch_version") for r in to), None),
                  "runs": to},
        "train_ratio": ratio(e_tr, t_tr), "infer_ratio": ratio(e_in, t_in),
        "train_ratio_target": tgt[0], "infer_ratio_target": tgt[1],
        "enevo_train_gflops": tr_gf, "enevo_infer_gflops": in_gf,
        "enevo_train_sgemm_share": ratio(tr_gf, peak), "enevo_infer_sgemm_share": ratio(in_gf, peak),
    }
    if fpi and t_fpi and fpi != t_fpi:
        d["flops_mismatch"] = "enevo %d vs torch_bench %d FLOPs/image (torch_bench counts conv/fc multiply-adds only)" % (fpi, t_fpi)
    res["nets"][net] = d
    rows.append((net, d))
    res["enevo_cpu_isa"] = res["enevo_cpu_isa"] or next((r.get("cpu_isa") for r in en if r.get("cpu_isa")), None)
    slow = [k for r in en for k in r.get("kernels_training", []) + r.get("kernels_inference", [])
            if k.get("reference")]
    if slow:
        d["reference_kernels"] = slow

with open(out, "w") as f:
    json.dump(res, f, indent=2)
    f.write("\n")


def rt(r, t):
    if r is None:
        return "n/a"
    s = "%.2fx" % r
    if t is not None:
        s += " (%s%.1f)" % (">=" if r >= t else "<", t)
    return s


print()
if isa:
    print("== ISA cap %s (ONEDNN_MAX_CPU_ISA; oneDNN runs %s; ATEN_CPU_CAPABILITY for PyTorch)"
          % (isa, res["enevo_cpu_isa"] or "?"))
print("enevo vs PyTorch %s, CPU %s, %s thread(s), batch %s, best of %d round(s) x median of 3 x %s s"
      % (res["nets"][nets[0]]["torch"]["torch_version"] if nets else "?", res["cpu"], threads,
         batch, rounds, secs))
hdr = ("net", "enevo train", "torch train", "ratio", "enevo infer", "torch infer", "ratio",
       "train GF/s", "infer GF/s", "train %SGEMM", "infer %SGEMM")
w = (8, 12, 12, 14, 12, 12, 14, 11, 11, 13, 13)
print("  ".join(h.rjust(n) if i else h.ljust(n) for i, (h, n) in enumerate(zip(hdr, w))))
for net, d in rows:
    cells = (net,
             fmt(d["enevo"]["train_images_per_s"]), fmt(d["torch"]["train_images_per_s"]),
             rt(d["train_ratio"], d["train_ratio_target"]),
             fmt(d["enevo"]["infer_images_per_s"]), fmt(d["torch"]["infer_images_per_s"]),
             rt(d["infer_ratio"], d["infer_ratio_target"]),
             fmt(d["enevo_train_gflops"], "%.1f"), fmt(d["enevo_infer_gflops"], "%.1f"),
             fmt(None if d["enevo_train_sgemm_share"] is None else 100 * d["enevo_train_sgemm_share"], "%.1f%%"),
             fmt(None if d["enevo_infer_sgemm_share"] is None else 100 * d["enevo_infer_sgemm_share"], "%.1f%%"))
    print("  ".join(c.rjust(n) if i else c.ljust(n) for i, (c, n) in enumerate(zip(cells, w))))
print("img/s = images per second; ratio = enevo/torch (target in parentheses).")
print("GF/s = enevo achieved GFLOP/s: train = img/s * 3 * forward FLOPs/image / 1e9 (fwd+bwd ~ 3x fwd"
      " estimate),")
print("       infer = img/s * forward FLOPs/image / 1e9 (multiply-add = 2 FLOPs).")
print("%%SGEMM = share of OpenBLAS SGEMM %s GFLOP/s (2048^3, same threads, this run)."
      % fmt(peak, "%.1f"))
for net, d in rows:
    if d.get("flops_mismatch"):
        print("note: %s: forward FLOP counts differ: %s" % (net, d["flops_mismatch"]))
for net, d in rows:
    for k in d.get("reference_kernels", []):
        print("SLOW PATH: %s: %s: %s runs %s (a oneDNN reference kernel)" % (net, k["layer"], k["op"], k["impl"]))
if no_enevo == "1":
    print("(--no-enevo: enevo columns not measured)")
print("results: %s" % out)
EOF
[ $? -eq 0 ] || FAILED=1
}

if [ -z "$ISAS" ]; then
    bench_nets ""
    summary "" "$OUT/results.json" ""
else
    for isa in $ISAS; do
        echo "== ISA cap $isa"
        (
            export ONEDNN_MAX_CPU_ISA=$isa DNNL_MAX_CPU_ISA=$isa ATEN_CPU_CAPABILITY=$(aten_cap "$isa")
            bench_nets "$isa-"
            exit "$FAILED"
        ) || FAILED=1
    done
    for isa in $ISAS; do
        summary "$isa-" "$OUT/results-$isa.json" "$isa"
    done
fi
if [ "$FAILED" != 0 ]; then
    echo "bench/run.sh: some benchmarks failed (see above and $LOGS/)" >&2
    exit 1
fi
exit 0
