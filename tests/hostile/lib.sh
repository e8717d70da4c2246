# Shared helpers for the hostile-peer tests (sourced). Everything runs on 127.0.0.1: the real
# punchline-cli (PUNCHLINE_CLI, or build/app/punchline-cli) against Python peers from
# tests/lab/tools/hostile_peer.py. A test exits 0 (pass), 1 (fail) or 77 (skipped: a tool is
# missing). Every process a test starts is ended by its pid on exit, the temp dir removed.
set -u
export LC_ALL=C.UTF-8

H_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
H_TOP="$(cd "$H_DIR/../.." && pwd)"
H_TOOL="$H_TOP/tests/lab/tools/hostile_peer.py"
H_NAME="$(basename "$0" .sh)"
H_FAIL=0
H_PASS=0
H_PIDS=()
declare -A H_PID=()
declare -A H_FD=()
H_T0=$(date +%s.%N)
export LSAN_OPTIONS="${LSAN_OPTIONS:-suppressions=$H_TOP/tests/lsan.supp:print_suppressions=0}"
# Leak reports at exit must not change what a test sees; crashes still abort.
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=0}"

h_log() { printf '[%s %6.2f] %s\n' "$H_NAME" "$(echo "$(date +%s.%N) - $H_T0" | bc)" "$*"; }

h_skip() {
    h_log "SKIP: $*"
    exit 77
}

h_require() {
    H_CLI="${PUNCHLINE_CLI:-}"
    if [[ -z $H_CLI ]]; then
        for c in "$H_TOP/build/app/punchline-cli" "$H_TOP/build-test/app/punchline-cli"; do
            [[ -x $c ]] && H_CLI=$c && break
        done
    fi
    [[ -n $H_CLI && -x $H_CLI ]] || h_skip "punchline-cli not built (set PUNCHLINE_CLI)"
    if ! python3 -c 'import ssl' 2>/dev/null; then
        h_skip "python3 with the ssl module is needed"
    fi
    command -v openssl >/dev/null || h_skip "openssl is needed"
    command -v jq >/dev/null || h_skip "jq is needed"
    command -v bc >/dev/null || h_skip "bc is needed"
    H_TMP=$(mktemp -d "/tmp/punchline-hostile.XXXXXX")
    trap h_cleanup EXIT
    trap 'exit 1' INT TERM
}

h_cleanup() {
    local pid
    for pid in "${H_PIDS[@]}"; do
        kill -TERM "$pid" 2>/dev/null
    done
    for pid in "${H_PIDS[@]}"; do
        for _ in $(seq 1 30); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        kill -KILL "$pid" 2>/dev/null
        { wait "$pid"; } 2>/dev/null
    done
    if [[ ${H_KEEP:-0} == 1 ]]; then
        echo "kept $H_TMP"
    else
        rm -rf "$H_TMP"
    fi
}

h_free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# h_cli NAME [args...]: starts punchline-cli (JSON output unless H_PLAIN=1) with profile
# $H_TMP/NAME.profile on loopback; its stdin is a FIFO (h_say NAME TEXT writes a line to it).
h_cli() {
    local name=$1
    shift
    local fifo="$H_TMP/$name.in"
    [[ -p $fifo ]] || mkfifo "$fifo"
    local json=--json
    [[ ${H_PLAIN:-0} == 1 ]] && json=
    # shellcheck disable=SC2086
    "$H_CLI" $json --profile "$H_TMP/$name.profile" --name "$name" --stun none --ip-echo none --dht none \
        --port-mapping off --local 127.0.0.1 "$@" <"$fifo" >>"$H_TMP/$name.out" 2>>"$H_TMP/$name.err" &
    H_PID[$name]=$!
    H_PIDS+=("$!")
    # Hold the FIFO open for writing so the program never sees EOF on stdin.
    local fd
    exec {fd}>"$fifo"
    H_FD[$name]=$fd
    echo "$name: $H_CLI $json $*" >>"$H_TMP/commands"
}

h_say() { printf '%s\n' "$2" >&"${H_FD[$1]}"; }

# h_py NAME args...: runs hostile_peer.py in the background, output in $H_TMP/NAME.out.
h_py() {
    local name=$1
    shift
    python3 "$H_TOOL" "$@" >"$H_TMP/$name.out" 2>"$H_TMP/$name.err" &
    H_PID[$name]=$!
    H_PIDS+=("$!")
    echo "$name: hostile_peer.py $*" >>"$H_TMP/commands"
}

h_alive() { kill -0 "${H_PID[$1]}" 2>/dev/null; }

# h_stop NAME [SIGNAL]: ends a process we started and waits for it (sets H_RC[NAME]).
# shellcheck disable=SC2034 # H_RC is for the tests
declare -A H_RC=()
h_stop() {
    local pid=${H_PID[$1]} sig=${2:-TERM}
    kill -"$sig" "$pid" 2>/dev/null
    for _ in $(seq 1 50); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null
    { wait "$pid"; } 2>/dev/null # no "Killed" job notice
    H_RC[$1]=$?
    if [[ -n ${H_FD[$1]:-} ]]; then
        local fd=${H_FD[$1]}
        exec {fd}>&-
        unset "H_FD[$1]"
    fi
}

# h_wait_exit NAME SEC: waits for a process to end by itself; sets H_RC[NAME]; false on timeout.
h_wait_exit() {
    local pid=${H_PID[$1]} end=$(($(date +%s) + $2))
    while kill -0 "$pid" 2>/dev/null; do
        [[ $(date +%s) -ge $end ]] && return 1
        sleep 0.1
    done
    wait "$pid" 2>/dev/null
    H_RC[$1]=$?
    return 0
}

# JSON lines of NAME's stdout (non-JSON lines skipped) filtered by a jq expression.
h_events() { jq -c "$2" "$H_TMP/$1.out" 2>/dev/null; }
h_count() { jq -c "select($2)" "$H_TMP/$1.out" 2>/dev/null | wc -l; }
h_field() { jq -r "select(.event == \"$2\") | $3" "$H_TMP/$1.out" 2>/dev/null | head -n 1; }

# h_wait_for NAME JQ-CONDITION SEC [N]: until NAME's output has N (default 1) matching events.
h_wait_for() {
    local end=$(($(date +%s) + $3)) want=${4:-1}
    while [[ $(h_count "$1" "$2") -lt $want ]]; do
        [[ $(date +%s) -ge $end ]] && return 1
        sleep 0.1
    done
}

# h_wait_file FILE SEC
h_wait_file() {
    local end=$(($(date +%s) + $2))
    while [[ ! -s $1 ]]; do
        [[ $(date +%s) -ge $end ]] && return 1
        sleep 0.05
    done
}

h_ok() {
    H_PASS=$((H_PASS + 1))
    h_log "ok   - $1"
}

h_bad() {
    H_FAIL=$((H_FAIL + 1))
    h_log "FAIL - $1"
}

h_check() {
    local what=$1
    shift
    if "$@"; then h_ok "$what"; else h_bad "$what"; fi
}

h_eq() { if [[ "$2" == "$3" ]]; then h_ok "$1"; else h_bad "$1 (expected '$2', got '$3')"; fi; }

# h_le WHAT VALUE MAX
h_le() { if [[ "$2" -le "$3" ]]; then h_ok "$1 ($2 <= $3)"; else h_bad "$1 ($2 > $3)"; fi; }

h_ge() { if [[ "$2" -ge "$3" ]]; then h_ok "$1 ($2 >= $3)"; else h_bad "$1 ($2 < $3)"; fi; }

h_dump() {
    local f
    echo "---- commands"
    cat "$H_TMP/commands" 2>/dev/null
    for f in "$@"; do
        echo "---- $f stdout (last 40 lines)"
        tail -n 40 "$H_TMP/$f.out" 2>/dev/null
        echo "---- $f stderr (last 25 lines)"
        tail -n 25 "$H_TMP/$f.err" 2>/dev/null
    done
}

# h_finish NAMES...: summary, the logs of NAMES on failure, exit status.
h_finish() {
    if [[ $H_FAIL -gt 0 ]]; then
        h_dump "$@"
        h_log "$H_FAIL check(s) failed, $H_PASS passed"
        exit 1
    fi
    h_log "all $H_PASS checks passed"
    exit 0
}

# shellcheck disable=SC2034 # B_PORT and B_FP are for the tests
# h_make_b: runs the real B once so that its profile (identity) exists and its code (for
# 127.0.0.1:$B_PORT) is in $H_TMP/B.code; B stops again. Sets B_PORT, B_FP.
h_make_b() {
    B_PORT=$(h_free_port)
    h_cli Bfirst --profile "$H_TMP/B.profile" --port "$B_PORT" --write-code "$H_TMP/B.code"
    if ! h_wait_file "$H_TMP/B.code" 20; then
        h_bad "B wrote its code"
        h_finish Bfirst
    fi
    B_FP=$(h_field Bfirst addresses .fingerprint)
    h_stop Bfirst
}

# Port of a CLI from its addresses event (local[0] = 127.0.0.1:PORT).
h_port_of() { h_field "$1" addresses '.local[0]' | sed 's/.*://'; }

h_rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }
h_fds() { ls "/proc/$1/fd" 2>/dev/null | wc -l; }

# Lines of stdin holding a bidi embedding/override/isolate/mark character.
h_bidi_lines() {
    python3 -c '
import re, sys
bidi = re.compile("[\u202a-\u202e\u2066-\u2069\u200e\u200f\u061c]")
print(sum(1 for line in sys.stdin.buffer.read().decode("utf-8", "replace").splitlines()
          if bidi.search(line)))'
}
