#!/usr/bin/env bash
# Runs AFL++ (through cargo-afl, on stable Rust) on each fuzz target in
# turn, one at a time on one core, until it has done FUZZ_EXECS executions
# (FUZZ_POND_EXECS for open_pond and recovery), then prints a tally from
# each target's fuzzer_stats and exits non-zero if any target saved a
# crash. FUZZ_SECONDS, when set, also bounds each target's time (whichever
# comes first). Usage: fuzz/afl.sh [target...] (default: every target).
# Everything it writes is under fuzz/target/ (ignored by git).
set -euo pipefail
cd "$(dirname "$0")"

CARGO=${CARGO:-cargo}
EXECS=${FUZZ_EXECS:-10000000}
POND_EXECS=${FUZZ_POND_EXECS:-$EXECS}
TIMEOUT_MS=${FUZZ_TIMEOUT_MS:-2000}
LIMITS=()
[ -z "${FUZZ_SECONDS:-}" ] || LIMITS=(-V "$FUZZ_SECONDS")
BUILD=target/afl-build
OUT=target/afl
CORPUS=target/corpus
ALL=(frames index offsets wire topic_meta queue_events queue_snapshot meta_files open_pond recovery)
TARGETS=("$@")
[ ${#TARGETS[@]} -gt 0 ] || TARGETS=("${ALL[@]}")

export AFL_SKIP_CPUFREQ=1 AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1 AFL_NO_UI=1

# Instrumented binaries in their own target dir (other RUSTFLAGS than the
# short run's build), and the seed corpora.
"$CARGO" afl build --release --features afl --target-dir "$BUILD"
"$CARGO" run --release -q --bin seeds -- "$CORPUS" "${TARGETS[@]}"

mkdir -p "$OUT"
for t in "${TARGETS[@]}"; do
    case $t in
        open_pond | recovery) n=$POND_EXECS ;;
        *) n=$EXECS ;;
    esac
    echo "== $t: $n executions${FUZZ_SECONDS:+ or $FUZZ_SECONDS s} (log: fuzz/$OUT/$t.log)"
    rm -rf "${OUT:?}/$t"
    # afl-fuzz exits 0 when -E is reached; a failure to start shows in the tally.
    "$CARGO" afl fuzz -i "$CORPUS/$t" -o "$OUT/$t" -E "$n" ${LIMITS[@]+"${LIMITS[@]}"} -t "$TIMEOUT_MS" -m none \
        -- "$BUILD/release/$t" >"$OUT/$t.log" 2>&1 || echo "   afl-fuzz exited with $? (see the log)"
done

stat() { sed -n "s/^$1 *: *//p" "$2" 2>/dev/null; }
status=0
printf '\n%-15s %12s %8s %8s %6s %10s %9s\n' target executions crashes hangs corpus 'execs/s' 'time (s)'
for t in "${TARGETS[@]}"; do
    f=$OUT/$t/default/fuzzer_stats
    if [ ! -f "$f" ]; then
        printf '%-15s %12s\n' "$t" "no stats: afl-fuzz did not run (see fuzz/$OUT/$t.log)"
        status=1
        continue
    fi
    crashes=$(stat saved_crashes "$f")
    printf '%-15s %12s %8s %8s %6s %10s %9s\n' "$t" "$(stat execs_done "$f")" "$crashes" \
        "$(stat saved_hangs "$f")" "$(stat corpus_count "$f")" "$(stat execs_per_sec "$f")" "$(stat run_time "$f")"
    [ "${crashes:-0}" = 0 ] || status=1
done
for t in "${TARGETS[@]}"; do
    for c in "$OUT/$t"/default/crashes/id:*; do
        [ -e "$c" ] || continue
        echo "crash: fuzz/$c  (replay: fuzz/$BUILD/release/$t < 'fuzz/$c')"
    done
done
exit $status
