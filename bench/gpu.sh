#!/usr/bin/env bash
# bench/gpu.sh — enevo vs PyTorch on one CUDA GPU: training and inference
# images/s of the reference networks, enevo against PyTorch eager and against
# PyTorch with CUDA graphs, interleaved in one session.
# See bench/README.md ("GPU") for what is measured and how.
#
# usage: bench/gpu.sh [--seconds S] [--rounds R] [--out DIR] [--batch-size B]
#                     [--nets "small medium"] [--tf32] [--timeout T]
#
#   --seconds S     length of one timing window in each benchmark (default 2)
#   --rounds R      interleaved rounds per net (default 2); each round runs
#                   enevo, then torch eager, then torch CUDA graph
#   --out DIR       results directory (default bench/out/gpu): results.json,
#                   table.md, logs/ (stdout, stderr, exit code of every run)
#   --batch-size B  (default 64)
#   --nets LIST     networks bench/<net>.phen to run (default "small medium")
#   --tf32          pass --tf32 to enevo (PyTorch always runs with its TF32
#                   defaults; both sides' settings are printed and recorded)
#   --timeout T     kill a single run after T seconds (default 120 + 15*S;
#                   0: no limit)
#
# Environment: ENEVO (enevo binary, default ./enevo), PYTHON (a python3 that
# imports torch with CUDA; default python3; it also parses the JSON).
# A run that fails is recorded (exit code, last lines of its stderr) and
# shown as "failed" in the table; the session goes on.  Exit status: 0 when
# every run succeeded, 1 when some failed, 2 on a usage error.
set -u

cd "$(dirname "$0")/.." || exit 2

SECS=2
ROUNDS=2
OUT=bench/out/gpu
BATCH=64
NETS="small medium"
TF32=0
TIMEOUT=
ENEVO=${ENEVO:-./enevo}
PY=${PYTHON:-python3}

die() { echo "bench/gpu.sh: $*" >&2; exit 2; }

while [ $# -gt 0 ]; do
    case "$1" in
        --seconds) [ $# -ge 2 ] || die "--seconds needs a value"; SECS=$2; shift 2 ;;
        --rounds) [ $# -ge 2 ] || die "--rounds needs a value"; ROUNDS=$2; shift 2 ;;
        --out) [ $# -ge 2 ] || die "--out needs a value"; OUT=$2; shift 2 ;;
        --batch-size) [ $# -ge 2 ] || die "--batch-size needs a value"; BATCH=$2; shift 2 ;;
        --nets) [ $# -ge 2 ] || die "--nets needs a value"; NETS=$2; shift 2 ;;
        --tf32) TF32=1; shift ;;
        --timeout) [ $# -ge 2 ] || die "--timeout needs a value"; TIMEOUT=$2; shift 2 ;;
        -h|--help) sed -n '2,/^set -u/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        *) die "unknown argument '$1' (see --help)" ;;
    esac
done

case "$SECS" in ''|*[!0-9.]*|*.*.*|.) die "--seconds: '$SECS' is not a positive number" ;; esac
case "$ROUNDS" in ''|*[!0-9]*) die "--rounds: '$ROUNDS' is not a positive integer" ;; esac
[ "$ROUNDS" -ge 1 ] || die "--rounds must be at least 1"
case "$BATCH" in ''|*[!0-9]*) die "--batch-size: '$BATCH' is not a positive integer" ;; esac
[ "$BATCH" -ge 1 ] || die "--batch-size must be at least 1"
[ -n "$NETS" ] || die "--nets is empty"
for net in $NETS; do
    [ -f "bench/$net.phen" ] || die "bench/$net.phen not found"
done
if [ -z "$TIMEOUT" ]; then
    TIMEOUT=$(awk -v s="$SECS" 'BEGIN { printf "%d", 120 + 15 * s }')
fi
case "$TIMEOUT" in ''|*[!0-9]*) die "--timeout: '$TIMEOUT' is not a whole number of seconds" ;; esac
if [ "$TIMEOUT" != 0 ] && ! command -v timeout >/dev/null 2>&1; then
    echo "bench/gpu.sh: warning: no 'timeout' command; runs have no time limit" >&2
    TIMEOUT=0
fi

command -v "$PY" >/dev/null 2>&1 || die "python '$PY' not found (set PYTHON=path)"
"$PY" -c 'import json, sys' 2>/dev/null || die "'$PY' does not run"
if ! "$PY" -c 'import torch' 2>/dev/null; then
    echo "bench/gpu.sh: warning: '$PY' cannot import torch; the torch runs will fail" >&2
fi
if [ ! -x "$ENEVO" ]; then
    echo "bench/gpu.sh: warning: enevo binary '$ENEVO' not found or not executable" \
         "(build it, or set ENEVO=path); the enevo runs will fail" >&2
fi

LOGS=$OUT/logs
mkdir -p "$LOGS" || die "cannot create $LOGS"
rm -f "$LOGS"/*.log "$LOGS"/*.err "$LOGS"/*.json "$LOGS"/*.rc "$LOGS"/*.wall

# ---- the GPU -----------------------------------------------------------------
if command -v nvidia-smi >/dev/null 2>&1; then
    GPU=$(nvidia-smi --query-gpu=name,driver_version --format=csv,noheader 2>&1 | head -n 8)
else
    GPU="(nvidia-smi not found)"
fi
printf '%s\n' "$GPU" >"$OUT/gpu.txt"
echo "GPU: $GPU"
echo "enevo: $ENEVO   python: $PY   batch $BATCH   $SECS s windows   $ROUNDS round(s)" \
     "  per-run time limit: $([ "$TIMEOUT" = 0 ] && echo none || echo "$TIMEOUT s")"

FAILED=0
ENEVO_EXTRA=()
[ "$TF32" = 1 ] && ENEVO_EXTRA+=(--tf32)

# run NAME CMD...: runs CMD (under the time limit), stdout to NAME.log, stderr
# to NAME.err, exit code to NAME.rc, seconds to NAME.wall, and the last stdout
# line that is a JSON object to NAME.json.  A failure is reported and recorded,
# never fatal.
run() {
    local name=$1; shift
    echo "== $name: $*"
    local t0=$SECONDS rc
    if [ "$TIMEOUT" != 0 ]; then
        timeout -k 10 "$TIMEOUT" "$@" >"$LOGS/$name.log" 2>"$LOGS/$name.err" </dev/null
    else
        "$@" >"$LOGS/$name.log" 2>"$LOGS/$name.err" </dev/null
    fi
    rc=$?
    echo "$rc" >"$LOGS/$name.rc"
    echo $((SECONDS - t0)) >"$LOGS/$name.wall"
    if [ "$rc" -eq 0 ] && "$PY" - "$LOGS/$name.log" "$LOGS/$name.json" <<'EOF'
import json, sys
for line in reversed(open(sys.argv[1], errors="replace").read().splitlines()):
    try:
        o = json.loads(line)
    except ValueError:
        continue
    if isinstance(o, dict):
        with open(sys.argv[2], "w") as f:
            json.dump(o, f)
            f.write("\n")
        sys.exit(0)
sys.exit(1)
EOF
    then
        echo "   ok ($((SECONDS - t0)) s): $(head -c 240 "$LOGS/$name.json")"
        return 0
    fi
    rm -f "$LOGS/$name.json"
    local why="exit $rc"
    [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ] && why="timed out after $TIMEOUT s (exit $rc)"
    [ "$rc" -eq 0 ] && why="exit 0 but no JSON object on stdout"
    echo "   FAILED ($why); see $LOGS/$name.log, $LOGS/$name.err" >&2
    tail -n 5 "$LOGS/$name.err" | sed 's/^/   | /' >&2
    FAILED=1
    return 1
}

# ---- interleaved runs ----------------------------------------------------------
for net in $NETS; do
    r=1
    while [ "$r" -le "$ROUNDS" ]; do
        run "$net-enevo-$r" "$ENEVO" bench "bench/$net.phen" --device cuda \
            --batch-size "$BATCH" --seconds "$SECS" ${ENEVO_EXTRA[@]+"${ENEVO_EXTRA[@]}"} --json
        run "$net-torch-$r" "$PY" bench/torch_bench.py "bench/$net.phen" --device cuda \
            --batch-size "$BATCH" --seconds "$SECS" --json
        run "$net-torchgraph-$r" "$PY" bench/torch_bench.py "bench/$net.phen" --device cuda \
            --cuda-graph --batch-size "$BATCH" --seconds "$SECS" --json
        r=$((r + 1))
    done
done

# ---- summary -------------------------------------------------------------------
"$PY" - "$LOGS" "$OUT" "$NETS" "$ROUNDS" "$BATCH" "$SECS" "$ENEVO" "$TF32" <<'EOF'
import json, os, subprocess, sys, time

logs, out, nets, rounds, batch, secs, enevo, tf32 = sys.argv[1:9]
nets, rounds = nets.split(), int(rounds)
TOOLS = (("enevo", "enevo"), ("torch", "torch eager"), ("torchgraph", "torch graph"))


def read(path, default=None):
    try:
        with open(path, errors="replace") as f:
            return f.read()
    except OSError:
        return default


def git_rev():
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                              text=True, timeout=5).stdout.strip() or None
    except Exception:
        return None


def load_runs(net, tool):
    ok, failed = [], []
    for r in range(1, rounds + 1):
        name = "%s-%s-%d" % (net, tool, r)
        base = os.path.join(logs, name)
        raw = read(base + ".json")
        rc = read(base + ".rc", "").strip()
        wall = read(base + ".wall", "").strip()
        if raw is not None:
            try:
                o = json.loads(raw)
                ok.append({"round": r, "wall_s": int(wall) if wall.isdigit() else None,
                           "json": o})
                continue
            except ValueError:
                pass
        err = (read(base + ".err") or "").splitlines()
        failed.append({"round": r, "exit_code": int(rc) if rc.lstrip("-").isdigit() else None,
                       "wall_s": int(wall) if wall.isdigit() else None,
                       "stderr_tail": err[-8:], "log": base + ".err"})
    return ok, failed


def best(runs, key):
    vals = [r["json"][key] for r in runs if isinstance(r["json"].get(key), (int, float))]
    return max(vals) if vals else None


def first(runs, key):
    return next((r["json"].get(key) for r in runs if r["json"].get(key) is not None), None)


gpu_smi = (read(os.path.join(out, "gpu.txt"), "") or "").strip()
res = {
    "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    "git": git_rev(),
    "gpu": gpu_smi,
    "batch_size": int(batch),
    "seconds_per_window": float(secs),
    "rounds": rounds,
    "enevo": enevo,
    "enevo_tf32_flag": tf32 == "1",
    "aggregate": "best of rounds (each round: median of 3 windows)",
    "nets": {},
}


def ratio(a, b):
    return a / b if a is not None and b else None


table_rows, failures = [], []
torch_meta = {}
for net in nets:
    d = {}
    for tool, label in TOOLS:
        ok, failed = load_runs(net, tool)
        d[tool] = {"train_images_per_s": best(ok, "train_images_per_s"),
                   "infer_images_per_s": best(ok, "infer_images_per_s"),
                   "rounds_ok": len(ok), "runs": ok, "failures": failed}
        for f in failed:
            failures.append((net, label, f))
        if tool != "enevo":
            for k in ("torch_version", "gpu_name", "cuda_matmul_allow_tf32", "cudnn_allow_tf32",
                      "cudnn_benchmark"):
                if k not in torch_meta and first(ok, k) is not None:
                    torch_meta[k] = first(ok, k)
        elif "enevo_tf32" not in torch_meta and first(ok, "tf32") is not None:
            torch_meta["enevo_tf32"] = first(ok, "tf32")
    e, t, g = d["enevo"], d["torch"], d["torchgraph"]
    for kind in ("train", "infer"):
        k = kind + "_images_per_s"
        d[kind + "_ratio_vs_eager"] = ratio(e[k], t[k])
        d[kind + "_ratio_vs_graph"] = ratio(e[k], g[k])
    res["nets"][net] = d
    table_rows.append((net, d))
res["torch"] = {k: v for k, v in torch_meta.items() if k != "enevo_tf32"}
res["enevo_tf32"] = torch_meta.get("enevo_tf32")


def cell(tool_d, key):
    v = tool_d[key]
    if v is None:
        return "failed"
    s = "%.0f" % v
    return s + "*" if tool_d["failures"] else s


def rcell(r):
    return "n/a" if r is None else "%.2fx" % r


hdr = ["net", "enevo train", "torch eager train", "ratio", "torch graph train", "ratio",
       "enevo infer", "torch eager infer", "ratio", "torch graph infer", "ratio"]
lines = ["| " + " | ".join(hdr) + " |", "|" + "|".join(["---"] + ["---:"] * (len(hdr) - 1)) + "|"]
for net, d in table_rows:
    e, t, g = d["enevo"], d["torch"], d["torchgraph"]
    row = [net,
           cell(e, "train_images_per_s"), cell(t, "train_images_per_s"),
           rcell(d["train_ratio_vs_eager"]), cell(g, "train_images_per_s"),
           rcell(d["train_ratio_vs_graph"]),
           cell(e, "infer_images_per_s"), cell(t, "infer_images_per_s"),
           rcell(d["infer_ratio_vs_eager"]), cell(g, "infer_images_per_s"),
           rcell(d["infer_ratio_vs_graph"])]
    lines.append("| " + " | ".join(row) + " |")

head = ["GPU (nvidia-smi): %s" % (gpu_smi.replace("\n", "; ") or "?"),
        "torch %s on %s; batch %s; best of %d round(s), each the median of 3 windows of %s s"
        % (torch_meta.get("torch_version", "?"), torch_meta.get("gpu_name", "?"), batch, rounds,
           secs),
        ""]
foot = ["",
        "img/s = images per second; ratio = enevo / the torch column left of it (>1: enevo "
        "faster).",
        "TF32: enevo %s; torch (its defaults) cudnn.allow_tf32=%s, cuda.matmul.allow_tf32=%s; "
        "cudnn.benchmark=%s."
        % ({True: "on (--tf32)", False: "off"}.get(torch_meta.get("enevo_tf32"), "?"),
           torch_meta.get("cudnn_allow_tf32", "?"), torch_meta.get("cuda_matmul_allow_tf32", "?"),
           torch_meta.get("cudnn_benchmark", "?")),
        "Timings are comparable only within this run, on this machine."]
if any(d[tool]["failures"] and d[tool]["rounds_ok"] for _, d in table_rows for tool, _ in TOOLS):
    foot.append("* some rounds of this cell failed; the number is the best of the others.")
if failures:
    foot += ["", "Failed runs:"]
    for net, label, f in failures:
        why = "exit %s" % f["exit_code"]
        if f["exit_code"] in (124, 137):
            why = "timed out (exit %s)" % f["exit_code"]
        elif f["exit_code"] == 0:
            why = "exit 0 but no JSON on stdout"
        last = [l for l in f["stderr_tail"] if l.strip()][-3:]
        foot.append("- %s / %s / round %d: %s%s" % (net, label, f["round"], why,
                                                    "" if last else " (stderr empty)"))
        foot += ["    %s" % l for l in last]
table = "\n".join(head + lines + foot) + "\n"
res["table_md"] = table
with open(os.path.join(out, "results.json"), "w") as f:
    json.dump(res, f, indent=2)
    f.write("\n")
with open(os.path.join(out, "table.md"), "w") as f:
    f.write(table)
print()
print(table, end="")
print("results: %s, %s; logs: %s" % (os.path.join(out, "results.json"),
                                     os.path.join(out, "table.md"), logs))
EOF
sum_rc=$?
if [ "$sum_rc" -ne 0 ]; then
    echo "bench/gpu.sh: the summary failed (exit $sum_rc); raw results are in $LOGS/" >&2
    exit 1
fi
if [ "$FAILED" != 0 ]; then
    echo "bench/gpu.sh: some runs failed (see the table and $LOGS/)" >&2
    exit 1
fi
exit 0
