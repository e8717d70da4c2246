#!/bin/sh
# Runs every libFuzzer target for a bounded time and fails on the first crash, leak, timeout or
# sanitizer report.
#   tests/fuzz/run-fuzzers.sh BUILD_DIR [SECONDS_PER_TARGET] [TARGET...]
# BUILD_DIR is a clang build configured with -DPUNCHLINE_FUZZ=ON (see tests/fuzz/CMakeLists.txt);
# the targets are built first. The seed corpora in tests/fuzz/corpus/<target>/ are read, never
# written: new inputs go to a scratch corpus under BUILD_DIR, crash reproducers to
# BUILD_DIR/tests/fuzz/artifacts/.
set -eu

usage() {
    echo "usage: $0 BUILD_DIR [SECONDS_PER_TARGET] [TARGET...]" >&2
    exit 2
}

[ $# -ge 1 ] || usage
build=$1
seconds=${2:-60}
shift
[ $# -ge 1 ] && shift
targets=${*:-fuzz_frame fuzz_peercode fuzz_stun fuzz_transfer fuzz_record}
case $seconds in ''|*[!0-9]*) usage ;; esac

here=$(cd "$(dirname "$0")" && pwd)
bin="$build/tests/fuzz"
artifacts="$bin/artifacts"
mkdir -p "$artifacts"

cmake --build "$build" --target $targets

export ASAN_OPTIONS="${ASAN_OPTIONS:-abort_on_error=1:detect_leaks=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"

failed=""
for t in $targets; do
    seeds="$here/corpus/$t"
    work="$bin/corpus-$t"
    mkdir -p "$work"
    echo "== $t: ${seconds}s"
    if ! "$bin/$t" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=16384 \
            -print_final_stats=1 -artifact_prefix="$artifacts/$t-" "$work" "$seeds" \
            >"$bin/$t.log" 2>&1; then
        echo "!! $t failed; last lines of $bin/$t.log:" >&2
        tail -n 40 "$bin/$t.log" >&2
        failed="$failed $t"
    else
        grep -E '^stat::(number_of_executed_units|new_units_added)' "$bin/$t.log" || true
    fi
done

if [ -n "$failed" ]; then
    echo "fuzzing found problems in:$failed (reproducers in $artifacts)" >&2
    exit 1
fi
echo "all fuzzers ran clean"
