#!/usr/bin/env bash
# Helpers for lab tests (source it). Gives: assertions with a TAP-like log and the closing line
# "N passed, N failed"; a per-test temp dir and LAB_ID with teardown on any exit; starting
# punchline-cli inside a lab host and reading its JSON events with jq.
#
#   source "$(dirname "$0")/lab_test.sh"
#   lt_init                      # temp dir, LAB_ID, traps
#   lt_lab_up NAT_A NAT_B DELAY_MS [SAME_LAN]
#   lt_cli_start A hostA 41000 --write-code "$LT_TMP/A.code" --peer "@$LT_TMP/B.code" ...
#   lt_cli_wait A 90             # exit code in LT_RC[A]
#   lt_check "A exited 0" test "${LT_RC[A]}" = 0
#   lt_finish                    # prints the summary, exits 0 only if nothing failed
#
# Env: PUNCHLINE_CLI (default $PUNCHLINE_BINARY_DIR/app/punchline-cli), LAB_KEEP_TMP=1 (keep
# the temp dir with the CLIs' output), plus everything lab.sh reads.

LT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lab.sh
source "$LT_DIR/lab.sh"

PUNCHLINE_CLI=${PUNCHLINE_CLI:-${PUNCHLINE_BINARY_DIR:-$LT_DIR/../../build}/app/punchline-cli}
# --port-mapping off: no test asks a router unless it says so (the portmap tests pass
# --port-mapping on after these; the last one given wins).
LT_STUN_ARGS=(--stun "$LAB_IP_STUN1:$LAB_STUN_PORT" --stun "$LAB_IP_STUN2:$LAB_STUN_PORT"
    --ip-echo none --port-mapping off)

LT_PASS=0
LT_FAIL=0
LT_TMP=""
declare -A LT_PID=() LT_RC=() LT_IN=() LT_T0=() LT_ELAPSED=()
LT_BG=() # helper subshells (late paste) to stop on exit

lt_log() { printf '# %s\n' "$*"; }
LT_STRETCH=0
lt_ok() {
    ((LT_STRETCH)) && printf 'stretch '
    printf 'ok - %s\n' "$*"
    LT_PASS=$((LT_PASS + 1))
}
lt_fail() {
    ((LT_STRETCH)) && printf 'stretch '
    printf 'not ok - %s\n' "$*"
    LT_FAIL=$((LT_FAIL + 1))
}
# lt_check DESCRIPTION command...: passes if the command succeeds.
lt_check() {
    local desc=$1
    shift
    if "$@"; then lt_ok "$desc"; else lt_fail "$desc"; fi
}
# lt_eq DESCRIPTION EXPECTED ACTUAL
lt_eq() {
    if [[ "$2" == "$3" ]]; then lt_ok "$1"; else lt_fail "$1: expected '$2', got '$3'"; fi
}
# lt_match DESCRIPTION REGEX ACTUAL
lt_match() {
    if [[ "$3" =~ $2 ]]; then lt_ok "$1"; else lt_fail "$1: '$3' does not match /$2/"; fi
}

lt_cleanup() {
    local name pid
    for pid in "${LT_BG[@]}"; do kill -TERM "$pid" 2>/dev/null; done
    for name in "${!LT_PID[@]}"; do
        if [[ -n "${LT_PID[$name]}" ]] && kill -0 "${LT_PID[$name]}" 2>/dev/null; then
            kill -TERM "${LT_PID[$name]}" 2>/dev/null
        fi
    done
    for name in "${!LT_IN[@]}"; do
        eval "exec ${LT_IN[$name]}>&-" 2>/dev/null
    done
    [[ -n "${LAB_ID:-}" ]] && lab_down
    if [[ -n "$LT_TMP" && -d "$LT_TMP" ]]; then
        if [[ "${LAB_KEEP_TMP:-0}" == 1 || $LT_FAIL -gt 0 && "${LAB_KEEP_TMP:-}" != 0 ]]; then
            lt_log "outputs kept in $LT_TMP"
        else
            rm -rf "$LT_TMP"
        fi
    fi
}

# lt_init: one temp dir and a LAB_ID unique to this process (LAB_TEST_ID overrides; an
# exported LAB_ID of an interactive lab is deliberately ignored, since tests tear their lab
# down and rebuild it); everything is torn down on exit.
lt_init() {
    command -v jq >/dev/null || { echo "jq is needed (apt-get install jq)"; exit 1; }
    [[ $EUID -eq 0 ]] || { echo "lab tests must run as root"; exit 1; }
    LAB_ID=${LAB_TEST_ID:-pt$$}
    export LAB_ID
    LT_TMP=$(mktemp -d "${TMPDIR:-/tmp}/pl-labtest.XXXXXX")
    trap 'lt_cleanup' EXIT
    trap 'lt_fail "interrupted"; exit 130' INT TERM HUP
}

lt_finish() {
    printf '%d passed, %d failed\n' "$LT_PASS" "$LT_FAIL"
    [[ $LT_FAIL -eq 0 && $LT_PASS -gt 0 ]]
    exit $?
}

# lt_require_cli: exits 77 (CTest SKIP_RETURN_CODE if wanted) when the program is missing.
lt_require_cli() {
    if [[ ! -x "$PUNCHLINE_CLI" ]]; then
        echo "punchline-cli not found at $PUNCHLINE_CLI (set PUNCHLINE_CLI or PUNCHLINE_BINARY_DIR)"
        exit 77
    fi
}

# lt_lab_up NAT_A NAT_B DELAY_MS [SAME_LAN]: a fresh lab (the previous one of this test is
# removed first). A third home: `HOMES=3 NAT_C=drop lt_lab_up …` (hostC behind natC).
lt_lab_up() {
    lab_down
    if ! NAT_A=$1 NAT_B=$2 DELAY_MS=$3 SAME_LAN=${4:-0} lab_up; then
        lt_fail "lab up (NAT_A=$1 NAT_B=$2 DELAY_MS=$3 HOMES=${HOMES:-2})"
        exit 1
    fi
    local three=""
    [[ "${HOMES:-2}" == 3 ]] && three=" HOMES=3 NAT_C=${NAT_C:-drop}"
    lt_log "lab $LAB_ID up: NAT_A=$1 NAT_B=$2 DELAY_MS=$3 SAME_LAN=${4:-0}$three"
}

# lt_cli_start NAME HOST PORT [extra args...]: starts punchline-cli in HOST's namespace with
# its own profile, the lab's STUN servers, --json, and stdin on a FIFO that stays open (so
# stdin EOF never ends it; write lines with lt_cli_say). Output: $LT_TMP/NAME.out / .err.
# A hard 'timeout' (LT_HARD_TIMEOUT, default 180 s) guards against a hung program.
lt_cli_start() {
    local name=$1 host=$2 port=$3
    shift 3
    # The friend finder is on by default (public bootstrap): off unless the test names nodes.
    [[ " $* " == *" --dht "* ]] || set -- --dht none "$@"
    mkdir -p "$LT_TMP/$name"
    mkfifo "$LT_TMP/$name.in"
    local fd
    exec {fd}<>"$LT_TMP/$name.in"
    LT_IN[$name]=$fd
    {
        echo "$PUNCHLINE_CLI --profile $LT_TMP/$name/profile --name $name --port $port" \
            "${LT_STUN_ARGS[*]} --json $*"
    } >"$LT_TMP/$name.cmd"
    LT_T0[$name]=$(date +%s.%N)
    ip netns exec "$(lab_ns "$host")" timeout -k 5 "${LT_HARD_TIMEOUT:-180}" \
        "$PUNCHLINE_CLI" --profile "$LT_TMP/$name/profile" --name "$name" --port "$port" \
        "${LT_STUN_ARGS[@]}" --json "$@" \
        <"$LT_TMP/$name.in" >"$LT_TMP/$name.out" 2>"$LT_TMP/$name.err" &
    LT_PID[$name]=$!
    lt_log "started $name on $host:$port (pid ${LT_PID[$name]}): $*"
}

# lt_cli_say NAME TEXT: one line on the program's stdin.
lt_cli_say() { printf '%s\n' "$2" >&"${LT_IN[$1]}"; }

# lt_cli_wait NAME SECONDS: waits (bounded) for the program to exit; LT_RC[NAME] gets its exit
# code (124 when the hard timeout killed it, 'running' if still running after SECONDS, in
# which case it is killed). LT_ELAPSED[NAME] gets the run time in seconds.
lt_cli_wait() {
    local name=$1 secs=$2 pid=${LT_PID[$1]} i
    for ((i = 0; i < secs * 10; i++)); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
        kill -TERM "$pid" 2>/dev/null
        wait "$pid" 2>/dev/null
        LT_RC[$name]=running
    else
        wait "$pid"
        LT_RC[$name]=$?
    fi
    LT_ELAPSED[$name]=$(awk -v a="$(date +%s.%N)" -v b="${LT_T0[$name]}" \
        'BEGIN{printf "%.1f", a-b}')
    LT_PID[$name]=""
}

# lt_events NAME [JQ_FILTER]: the program's JSON lines (non-JSON lines ignored), filtered.
lt_events() {
    local f=${2:-.}
    jq -c -R "fromjson? | select(type == \"object\") | $f" "$LT_TMP/$1.out" 2>/dev/null
}
# lt_event NAME EVENT: the first event of that kind, compact JSON (empty if none).
lt_event() { lt_events "$1" "select(.event == \"$2\")" | head -n 1; }
# lt_field NAME EVENT JQ_PATH: one field of the first such event, raw (empty if none).
lt_field() {
    local ev
    ev=$(lt_event "$1" "$2")
    [[ -n "$ev" ]] && jq -r "$3 // empty | tostring" <<<"$ev"
}

# lt_wait_file FILE SECONDS
lt_wait_file() {
    local i
    for ((i = 0; i < $2 * 10; i++)); do
        [[ -s "$1" ]] && return 0
        sleep 0.1
    done
    return 1
}

# lt_copy_late SRC DST DELAY_S WAIT_S: in the background, waits for SRC (up to WAIT_S), sleeps
# DELAY_S and then copies it to DST atomically: the "code pasted late" of a user.
lt_copy_late() {
    local src=$1 dst=$2 delay=$3 wait_s=$4
    (
        lt_wait_file "$src" "$wait_s" || exit 1
        sleep "$delay"
        cp "$src" "$dst.tmp" && mv "$dst.tmp" "$dst"
    ) &
    LT_BG+=($!)
}

# lt_dump NAME: the program's output, for a failure report.
lt_dump() {
    local name=$1
    lt_log "---- $name: $(cat "$LT_TMP/$name.cmd" 2>/dev/null)"
    sed 's/^/#   out: /' "$LT_TMP/$name.out" 2>/dev/null | tail -n 40
    sed 's/^/#   err: /' "$LT_TMP/$name.err" 2>/dev/null | tail -n 20
}

# --- the checks the scenarios share ------------------------------------------------------

# lt_check_addresses NAME EXPECTED_PUBLIC_IP EXPECTED_NAT
lt_check_addresses() {
    local name=$1 ip=$2 nat=$3 ev
    ev=$(lt_event "$name" addresses)
    if [[ -z "$ev" ]]; then
        lt_fail "$name: no addresses event"
        return
    fi
    lt_match "$name: public address is its NAT's WAN address" "^${ip//./\\.}:[0-9]+$" \
        "$(jq -r '.public // "null"' <<<"$ev")"
    lt_eq "$name: public_source" stun "$(jq -r '.public_source' <<<"$ev")"
    lt_eq "$name: nat" "$nat" "$(jq -r '.nat' <<<"$ev")"
    lt_check "$name: code is not empty" test -n "$(jq -r '.code // empty' <<<"$ev")"
}

# lt_check_connected NAME PATH [REMOTE_IP]
lt_check_connected() {
    local name=$1 path=$2 rip=${3:-} ev
    ev=$(lt_event "$name" connected)
    if [[ -z "$ev" ]]; then
        lt_fail "$name: no connected event"
        return
    fi
    lt_eq "$name: connected path" "$path" "$(jq -r '.path' <<<"$ev")"
    if [[ -n "$rip" ]]; then
        lt_match "$name: connected to the peer's address" "^${rip//./\\.}:[0-9]+$" \
            "$(jq -r '.remote' <<<"$ev")"
    fi
    lt_match "$name: elapsed_ms is a number" '^[0-9]+$' "$(jq -r '.elapsed_ms' <<<"$ev")"
}

# lt_check_message FROM TO TEXT: TO printed TEXT as a message event, and FROM got a
# "delivered" event with the same id.
lt_check_message() {
    local from=$1 to=$2 text=$3 id
    id=$(jq -r -R --arg t "$text" 'fromjson? | select(type == "object")
            | select(.event == "message" and .text == $t) | .id | tostring' \
        "$LT_TMP/$to.out" 2>/dev/null | head -n 1)
    if [[ -z "$id" ]]; then
        lt_fail "$to: did not print message '$text' from $from"
        return
    fi
    lt_ok "$to: printed message '$text' from $from"
    if jq -r -R 'fromjson? | select(type == "object") | select(.event == "delivered")
            | .id | tostring' "$LT_TMP/$from.out" 2>/dev/null | grep -qxF -- "$id"; then
        lt_ok "$from: got delivered for message id $id"
    else
        lt_fail "$from: no delivered event with id $id"
    fi
}

# lt_pair_start [LATE_S] [TIMEOUT_S]: the common scenario: A on hostA and B on $LT_B_HOST
# (default hostB) start together and swap codes through files (B gets A's code LATE_S seconds
# after A wrote it, A gets B's at once), each says one line, and both exit when done.
lt_pair_start() {
    local late=${1:-0} timeout=${2:-60}
    local b_peer="@$LT_TMP/A.code"
    if [[ "$late" != 0 ]]; then
        b_peer="@$LT_TMP/A.code.late"
        lt_copy_late "$LT_TMP/A.code" "$LT_TMP/A.code.late" "$late" 60
    fi
    lt_cli_start A hostA 41000 --write-code "$LT_TMP/A.code" --peer "@$LT_TMP/B.code" \
        --say "hello from A" --timeout "$timeout" --exit-when-done
    lt_cli_start B "${LT_B_HOST:-hostB}" 42000 --write-code "$LT_TMP/B.code" --peer "$b_peer" \
        --say "hello from B" --timeout "$timeout" --exit-when-done
}

# lt_pair_check A_PUBLIC_IP B_PUBLIC_IP PATH WAIT_S [A_REMOTE_IP B_REMOTE_IP]: waits for both
# and checks exit codes, addresses, the connected event and the messages both ways. The remote
# IPs default to the other side's public IP. Returns 1 (after dumping output) if a check failed.
lt_pair_check() {
    local aip=$1 bip=$2 path=$3 wait_s=$4 arem=${5:-$2} brem=${6:-$1} before=$LT_FAIL
    lt_cli_wait A "$wait_s"
    lt_cli_wait B 15
    lt_eq "A exit code" 0 "${LT_RC[A]}"
    lt_eq "B exit code" 0 "${LT_RC[B]}"
    lt_check_addresses A "$aip" endpoint-independent
    lt_check_addresses B "$bip" endpoint-independent
    lt_check_connected A "$path" "$arem"
    lt_check_connected B "$path" "$brem"
    lt_check_message A B "hello from A"
    lt_check_message B A "hello from B"
    lt_log "connect time: A $(lt_field A connected .elapsed_ms) ms, B $(lt_field B connected .elapsed_ms) ms; run time A ${LT_ELAPSED[A]} s, B ${LT_ELAPSED[B]} s"
    if [[ $LT_FAIL -gt $before ]]; then
        lt_dump A
        lt_dump B
        return 1
    fi
}

# lt_stretch_begin / lt_stretch_end NAME: checks in between are reported as "stretch ok" /
# "stretch not ok" and do not count; lt_stretch_end prints one "STRETCH: NAME: PASS|FAIL" line.
lt_stretch_begin() {
    LT_SAVED=("$LT_PASS" "$LT_FAIL")
    LT_STRETCH=1
}
lt_stretch_end() {
    local failed=$((LT_FAIL - LT_SAVED[1]))
    LT_PASS=${LT_SAVED[0]} LT_FAIL=${LT_SAVED[1]} LT_STRETCH=0
    if ((failed == 0)); then
        echo "STRETCH: $1: PASS"
    else
        echo "STRETCH: $1: FAIL ($failed checks failed; not counted)"
    fi
}

# lt_reset_clis: forget the previous pair (between scenarios of one test script).
lt_reset_clis() {
    local name
    for name in "${!LT_PID[@]}"; do
        [[ -n "${LT_PID[$name]}" ]] && kill -TERM "${LT_PID[$name]}" 2>/dev/null
    done
    for name in "${!LT_IN[@]}"; do eval "exec ${LT_IN[$name]}>&-"; done
    for name in "${LT_BG[@]}"; do kill -TERM "$name" 2>/dev/null; done
    LT_PID=() LT_RC=() LT_IN=() LT_T0=() LT_ELAPSED=() LT_BG=()
    local old=$LT_TMP
    LT_TMP=$(mktemp -d "${TMPDIR:-/tmp}/pl-labtest.XXXXXX")
    if [[ "${LAB_KEEP_TMP:-0}" == 1 || $LT_FAIL -gt 0 && "${LAB_KEEP_TMP:-}" != 0 ]]; then
        lt_log "outputs of the previous scenario kept in $old"
    else
        rm -rf "$old"
    fi
}

# --- helpers added for issue 3 (secure session, codes, healing) --------------------------

# lt_lo_up: a namespace "<LAB_ID>-lo" holding nothing but its loopback interface, for scenarios
# that need no NAT (use host name "lo" with lt_cli_start / lab_exec). Nothing sent inside it can
# reach another network. It is recorded in the lab's run dir, so lab_down (run on exit by
# lt_init's trap) kills whatever still runs in it and deletes it.
lt_lo_up() {
    lab_down
    local run ns
    run=$(lab_rundir)
    ns=$(lab_ns lo)
    if ! { mkdir -p "$run" && echo "$ns" >>"$run/namespaces" && ip netns add "$ns" &&
        ip -n "$ns" link set lo up; }; then
        lt_fail "loopback namespace $ns"
        exit 1
    fi
    lt_log "namespace $ns up (loopback only)"
}

# Arguments that keep a CLI on 127.0.0.1 (no STUN, no IP echo, only the loopback candidate);
# they come after lt_cli_start's lab STUN arguments and win over them.
LT_LO_ARGS=(--stun none --ip-echo none --dht none --port-mapping off --local 127.0.0.1)

# lt_count NAME JQ_CONDITION: how many of the program's events satisfy the condition.
lt_count() {
    lt_events "$1" "select($2)" | wc -l
}

# lt_wait_count NAME JQ_CONDITION MIN SECONDS: waits (bounded) until at least MIN events satisfy
# the condition; false if they did not within SECONDS.
lt_wait_count() {
    local name=$1 cond=$2 min=$3 secs=$4 i
    for ((i = 0; i < secs * 10; i++)); do
        (($(lt_count "$name" "$cond") >= min)) && return 0
        sleep 0.1
    done
    (($(lt_count "$name" "$cond") >= min))
}

# lt_alive NAME: the program is still running.
lt_alive() { [[ -n "${LT_PID[$1]:-}" ]] && kill -0 "${LT_PID[$1]}" 2>/dev/null; }

# lt_stop NAME: ends a program started with lt_cli_start (TERM, bounded wait, then KILL);
# LT_RC[NAME] gets its exit code.
lt_stop() {
    local name=$1 pid=${LT_PID[$1]:-} i
    [[ -n "$pid" ]] || return 0
    kill -TERM "$pid" 2>/dev/null
    for ((i = 0; i < 50; i++)); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
    LT_RC[$name]=$?
    LT_PID[$name]=""
}

# lt_messages_once NAME: no message text and no message id was printed twice by NAME.
lt_messages_once() {
    local dups
    dups=$( {
        lt_events "$1" 'select(.event == "message") | "id " + (.id | tostring)'
        lt_events "$1" 'select(.event == "message") | "text " + .text'
    } | sort | uniq -d)
    if [[ -z "$dups" ]]; then
        lt_ok "$1: no message shown twice"
    else
        lt_fail "$1: messages shown twice: $(tr '\n' ';' <<<"$dups")"
    fi
}

# --- helpers added for issue 4 (file transfer) -------------------------------------------

# lt_cli_pid NAME: the punchline-cli process itself. lt_cli_start runs it as
# `ip netns exec … timeout … punchline-cli`; ip execs timeout, so LT_PID[NAME] is timeout's pid
# and the program is its only child. Prints nothing (false) if it is not running.
lt_cli_pid() {
    local pid=${LT_PID[$1]:-} child
    [[ -n "$pid" ]] || return 1
    child=$(pgrep -P "$pid" | head -n 1)
    [[ -n "$child" ]] || return 1
    echo "$child"
}

# lt_wait_bytes NAME MIN_BYTES SECONDS [DIRECTION]: returns as soon as NAME printed a `transfer`
# event (of DIRECTION in/out if given) with bytes >= MIN_BYTES: the output is followed as it is
# written (tail -F, no polling interval), so the caller can act on a transfer while it runs.
# False if none came within SECONDS. LT_BYTES gets the bytes of that event.
lt_wait_bytes() {
    local name=$1 min=$2 secs=$3 dir=${4:-} fd pid line rc=1 end
    LT_BYTES=""
    exec {fd}< <(exec timeout "$secs" tail -n +1 -F "$LT_TMP/$name.out" 2>/dev/null)
    pid=$!
    end=$((SECONDS + secs + 1))
    while ((SECONDS <= end)) && IFS= read -r -t "$secs" -u "$fd" line; do
        [[ $line == *'"event":"transfer"'* ]] || continue
        [[ -z "$dir" || $line == *"\"direction\":\"$dir\""* ]] || continue
        [[ $line =~ \"bytes\":([0-9]+) ]] || continue
        if ((BASH_REMATCH[1] >= min)); then
            LT_BYTES=${BASH_REMATCH[1]}
            rc=0
            break
        fi
    done
    kill -TERM "$pid" 2>/dev/null
    exec {fd}<&-
    return $rc
}

# lt_tree_sums DIR: "sha256  ./relative/path" for every regular file below DIR, in C-locale
# order (compare two trees with it: names, contents, empty files included).
lt_tree_sums() {
    (cd "$1" && find . -type f -print0 | LC_ALL=C sort -z | xargs -0r sha256sum)
}

# lt_manifest_sha256 DIR NAME: the transfer hash Punchline reports for a folder DIR sent as
# NAME (core/transfer/README.md): SHA-256 of "<sha256 hex>  <NAME/relative path>\n" per file, in
# the sender's offer order (depth first, each folder's entries sorted by name; C-locale byte
# order equals Qt's UTF-16 order for names without characters above U+FFFF).
lt_manifest_sha256() {
    _lt_manifest() {
        local dir=$1 rel=$2 name
        while IFS= read -r -d '' name; do
            if [[ -d "$dir/$name" && ! -L "$dir/$name" ]]; then
                _lt_manifest "$dir/$name" "$rel/$name"
            elif [[ -f "$dir/$name" && ! -L "$dir/$name" ]]; then
                printf '%s  %s\n' "$(sha256sum <"$dir/$name" | cut -d' ' -f1)" "$rel/$name"
            fi
        done < <(find "$dir" -mindepth 1 -maxdepth 1 -printf '%f\0' | LC_ALL=C sort -z)
    }
    _lt_manifest "$1" "$2" | sha256sum | cut -d' ' -f1
}

# lt_shape RATE|off: a token bucket (tc tbf, RATE like "200mbit") on the egress of every NAT's
# WAN interface (natC too in a three-home lab), so a transfer through the lab lasts long enough
# for a test to act while it runs, whatever the machine's speed; "off" removes it (lab_down
# removes it anyway).
lt_shape() {
    local nat
    for nat in natA natB natC; do
        [[ $nat == natC && ! -e "/run/netns/$(lab_ns natC)" ]] && continue
        if [[ $1 == off ]]; then
            ip netns exec "$(lab_ns "$nat")" tc qdisc del dev wan root 2>/dev/null
        else
            ip netns exec "$(lab_ns "$nat")" tc qdisc replace dev wan root tbf rate "$1" \
                burst 256kb latency 100ms || return 1
        fi
    done
}

# --- helpers added for issue 12 (IPv6) ----------------------------------------------------

# The lab's STUN servers over IPv6 (the stun host is dual-stack when the lab has IPv6).
LT_STUN6_ARGS=(--stun "[$LAB_IP6_STUN1]:$LAB_STUN_PORT" --stun "[$LAB_IP6_STUN2]:$LAB_STUN_PORT")

# lt_v6_lab_up NAT_A NAT_B V6_A V6_B DELAY_MS: a fresh lab with IPv6 firewalls of kind V6_A/V6_B
# (drop|rst|off) in front of the homes; NAT kind off = the home has no IPv4 service.
lt_v6_lab_up() {
    lab_down
    if ! NAT_A=$1 NAT_B=$2 V6_A=$3 V6_B=$4 DELAY_MS=$5 lab_up; then
        lt_fail "lab up (NAT_A=$1 NAT_B=$2 V6_A=$3 V6_B=$4 DELAY_MS=$5)"
        exit 1
    fi
    lt_log "lab $LAB_ID up: NAT_A=$1 NAT_B=$2 V6_A=$3 V6_B=$4 DELAY_MS=$5"
}

# lt_v6_pair_start [TIMEOUT_S]: lt_pair_start with the IPv6 STUN servers as well (A on hostA
# port 41000, B on hostB port 42000, codes swapped together).
lt_v6_pair_start() {
    local timeout=${1:-60}
    lt_cli_start A hostA 41000 "${LT_STUN6_ARGS[@]}" --write-code "$LT_TMP/A.code" \
        --peer "@$LT_TMP/B.code" --say "hello from A" --timeout "$timeout" --exit-when-done
    lt_cli_start B hostB 42000 "${LT_STUN6_ARGS[@]}" --write-code "$LT_TMP/B.code" \
        --peer "@$LT_TMP/A.code" --say "hello from B" --timeout "$timeout" --exit-when-done
}

# lt_v6_pair_check A_REMOTE B_REMOTE WAIT_S: both exit 0, both report a direct path to exactly
# that remote endpoint ("[2001:db8:b::10]:42000"), messages cross both ways. Returns 1 (after
# dumping output) if a check failed.
lt_v6_pair_check() {
    local arem=$1 brem=$2 wait_s=$3 before=$LT_FAIL
    lt_cli_wait A "$wait_s"
    lt_cli_wait B 15
    lt_eq "A exit code" 0 "${LT_RC[A]}"
    lt_eq "B exit code" 0 "${LT_RC[B]}"
    lt_eq "A: connected path" direct "$(lt_field A connected .path)"
    lt_eq "B: connected path" direct "$(lt_field B connected .path)"
    lt_eq "A: connected to B's IPv6 address" "$arem" "$(lt_field A connected .remote)"
    lt_eq "B: connected to A's IPv6 address" "$brem" "$(lt_field B connected .remote)"
    lt_check_message A B "hello from A"
    lt_check_message B A "hello from B"
    lt_log "connect time: A $(lt_field A connected .elapsed_ms) ms, B $(lt_field B connected .elapsed_ms) ms"
    if [[ $LT_FAIL -gt $before ]]; then
        lt_dump A
        lt_dump B
        return 1
    fi
}

# --- helpers added for issue 11 (friend finder over OpenDHT) -----------------------------

LT_B_ARGS=() # extra arguments of B in lt_dht_oneway

# lt_dht_args: sets LT_DHT_ARGS to --dht for every lab DHT node (LAB_DHT > 0 when the lab went
# up) plus --dht-local-discovery off, so a CLI uses only the lab's nodes.
lt_dht_args() {
    local node
    LT_DHT_ARGS=()
    while IFS= read -r node; do
        [[ -n "$node" ]] && LT_DHT_ARGS+=(--dht "$node")
    done < <(lab_dht_bootstrap)
    LT_DHT_ARGS+=(--dht-local-discovery off)
}

# lt_wait_event NAME JQ_CONDITION SECONDS: waits (bounded) for one event that satisfies the
# condition; prints it (compact JSON, the first one) and returns 0, or returns 1.
lt_wait_event() {
    local name=$1 cond=$2 secs=$3
    lt_wait_count "$name" "$cond" 1 "$secs" || return 1
    lt_events "$name" "select($cond)" | head -n 1
}

# lt_now: seconds since the epoch with milliseconds.
lt_now() { date +%s.%3N; }
# lt_since T0: seconds since T0 (from lt_now), one decimal.
lt_since() { awk -v a="$(date +%s.%N)" -v b="$1" 'BEGIN{printf "%.1f", a-b}'; }

# lt_dht_oneway POLICY [A_EXTRA...]: A on hostA without --peer (accepts new friends by POLICY,
# writes its code), then B on $LT_B_HOST (default hostB) with --peer @A's code as soon as A
# wrote it. Both use the lab's DHT nodes (lt_dht_args first). B gives up after 90 s.
# LT_B_PASTE gets the time B was started (lt_now).
lt_dht_oneway() {
    local policy=$1
    shift
    lt_cli_start A hostA 41000 "${LT_DHT_ARGS[@]}" --accept-friends "$policy" \
        --write-code "$LT_TMP/A.code" "$@"
    if ! lt_wait_file "$LT_TMP/A.code" 30; then
        lt_fail "A wrote no code within 30 s"
        lt_dump A
        return 1
    fi
    LT_B_PASTE=$(lt_now)
    lt_cli_start B "${LT_B_HOST:-hostB}" 42000 "${LT_DHT_ARGS[@]}" --peer "@$LT_TMP/A.code" \
        --timeout 90 "${LT_B_ARGS[@]}"
}

# lt_answer_request NAME SECONDS: waits for NAME's `request` event and accepts it with
# /accept-friend <first 16 hex digits>; prints the request's fingerprint.
lt_answer_request() {
    local ev fp
    ev=$(lt_wait_event "$1" '.event == "request"' "$2") || return 1
    fp=$(jq -r '.peer' <<<"$ev")
    lt_cli_say "$1" "/accept-friend ${fp:0:16}"
    printf '%s\n' "$fp"
}
