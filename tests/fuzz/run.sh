#!/bin/sh
# tests/fuzz/run.sh BUILD SECONDS [HARNESS...] — runs each libFuzzer harness
# (BUILD/fuzz_<name>) for SECONDS on its seed corpus (tests/fuzz/corpus/<name>)
# and prints one table row per harness: executions, exec/s, seconds, CPU
# seconds, executions per CPU second, result.
# Exit status 1 when any harness crashed, leaked, hit undefined behaviour, ran
# out of time on one input or allocated more than 2 GiB (FUZZ_MALLOC_MB).
#
# New inputs go to BUILD/corpus/<name> (kept between runs, never checked in);
# a failing input is written to BUILD/artifacts/<name>-crash-..., and the log
# of each harness to BUILD/logs/<name>.log. Environment: FUZZ_MALLOC_MB (2048),
# FUZZ_RSS_MB (3072), FUZZ_TIMEOUT (per input, 60 s of wall-clock time, which a
# busy machine stretches), FUZZ_ARGS (more flags).
set -u
build=$1
seconds=$2
shift 2
[ $# -gt 0 ] || set -- $(cd tests/fuzz && ls fuzz_*.c | sed 's/^fuzz_//; s/\.c$//')
malloc_mb=${FUZZ_MALLOC_MB:-2048}
rss_mb=${FUZZ_RSS_MB:-3072}
timeout=${FUZZ_TIMEOUT:-60}
mkdir -p "$build/logs" "$build/artifacts"

# User + system seconds of this shell's finished children (`times`, line 2).
cpu_seconds() {
    awk 'NR == 2 {
        t = 0
        for (i = 1; i <= 2; i++) { split($i, a, "m"); t += a[1] * 60 + a[2] }
        print t }' "$build/logs/.times"
}

failed=0
rows=""
for h in "$@"; do
    bin="$build/fuzz_$h"
    seeds="tests/fuzz/corpus/$h"
    work="$build/corpus/$h"
    log="$build/logs/$h.log"
    if [ ! -x "$bin" ]; then
        echo "fuzz: no harness $bin" >&2
        failed=1
        continue
    fi
    mkdir -p "$work"
    dict=""
    [ -f "tests/fuzz/$h.dict" ] && dict="-dict=tests/fuzz/$h.dict"
    echo "fuzz: $h for ${seconds} s ..." >&2
    start=$(date +%s)
    times >"$build/logs/.times" # here, not in $(...): a subshell has no children
    cpu0=$(cpu_seconds)
    # detect_leaks: LeakSanitizer after each input that leaks; the sanitizers
    # abort on their first report, so every finding ends the run non-zero.
    ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:allocator_may_return_null=0} \
    UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1} \
        "$bin" -max_total_time="$seconds" -malloc_limit_mb="$malloc_mb" \
        -rss_limit_mb="$rss_mb" -timeout="$timeout" -print_final_stats=1 \
        -artifact_prefix="$build/artifacts/$h-" $dict ${FUZZ_ARGS:-} \
        "$work" "$seeds" >"$log" 2>&1
    rc=$?
    secs=$(( $(date +%s) - start ))
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
    rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -n 1)
    times >"$build/logs/.times"
    cpu=$(awk -v a="$cpu0" -v b="$(cpu_seconds)" 'BEGIN { printf "%.1f", b - a }')
    # On a shared machine the wall-clock rate says little: executions per
    # CPU second is the harness's own speed.
    cpurate=$(awk -v e="${execs:-0}" -v c="$cpu" 'BEGIN { printf "%.0f", (c > 0 ? e / c : 0) }')
    if [ "$rc" -eq 0 ]; then
        result=ok
    elif grep -q "malloc(.*) exceeds limit\|out-of-memory (malloc" "$log"; then
        result="allocates > ${malloc_mb} MiB"
    elif grep -q "out-of-memory" "$log"; then
        result="rss > ${rss_mb} MiB"
    elif grep -q "LeakSanitizer" "$log"; then
        result=leak
    elif grep -q "runtime error:" "$log"; then
        result="undefined behaviour"
    elif grep -q "ERROR: AddressSanitizer" "$log"; then
        result="memory error"
    elif grep -q "ALARM: working on the last Unit\|timeout after" "$log"; then
        result=timeout
    else
        result="crash (rc $rc)"
    fi
    [ "$rc" -eq 0 ] || failed=1
    [ "$rc" -eq 0 ] || echo "fuzz: $h: $result; see $log and $build/artifacts/$h-*" >&2
    rows="$rows$(printf '| %-10s | %12s | %8s | %5s | %5s | %10s | %s |' "$h" "${execs:-?}" \
        "${rate:-?}" "$secs" "$cpu" "$cpurate" "$result")
"
done

printf '| %-10s | %12s | %8s | %5s | %5s | %10s | %s |\n' harness executions "exec/s" "s" \
    "cpu s" "exec/cpu s" result
printf '|%s|%s|%s|%s|%s|%s|%s|\n' ------------ -------------: ---------: ------: ------: \
    -----------: --------
printf '%s' "$rows"
exit $failed
