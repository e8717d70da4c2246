#!/usr/bin/env bash
# Many friends at once: memory per friend and chat round trip with 10 friends connected to one
# punchline-cli (issue "Many friends at once"). Everything on 127.0.0.1 (`--stun none --ip-echo
# none --local 127.0.0.1 --port 0`): as root inside a namespace of its own that holds nothing but
# loopback (deleted at the end), otherwise on the machine's own loopback.
#
# Runs:
#   alone   A with one friend (F1) and nothing else: chat round trip, A's VmRSS.
#   many    A started with FRIENDS (default 10) `--peer @Fi.code`; then
#             - A's VmRSS with 0 friends connected (all FRIENDS codes still awaited),
#             - F1 starts and connects: VmRSS with 1 connected; chat round trip to F1,
#             - F2..F10 start: VmRSS with 10 connected; chat round trip to F1 with all idle,
#             - F9 and F10 (the last BULK_FRIENDS) each send a BULK_MB file to A (`/send` on
#               their stdin, A --accept all; each sends it again when A reports it done, so a
#               transfer runs through every measured line): chat round trip to F1 again, and
#               A's VmRSS while they run.
# Chat round trip: the time from writing `/to <F1's fingerprint prefix> text` to A's stdin to
# reading A's `delivered` event for F1 on A's stdout (bash $EPOCHREALTIME around a FIFO write and
# a read on a pipe), one line at a time, WARMUP unmeasured lines first, then N lines.
# VmRSS: /proc/<pid>/status of A's punchline-cli process, the median of 5 samples 0.25 s apart,
# taken SETTLE_S seconds after the last `connected` (A's output is drained meanwhile).
# Per friend = (RSS with 10 connected - RSS with 1) / 9.
# Writes bench/results/friends.md (OUT=...).
#
#   PUNCHLINE_CLI=build-rel/app/punchline-cli bench/friends_bench.sh
#   N=20 BULK_MB=256 bench/friends_bench.sh          # quicker
#
# Env: PUNCHLINE_CLI / PUNCHLINE_BINARY_DIR (as the lab tests), FRIENDS (10, 2..30), N (50),
# WARMUP (5), BULK_MB (512), BULK_FRIENDS (2), SETTLE_S (3), OUT.
set -u
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=../tests/lab/lab_test.sh
source "$here/../tests/lab/lab_test.sh"

FRIENDS=${FRIENDS:-10}
N=${N:-50}
WARMUP=${WARMUP:-5}
BULK_MB=${BULK_MB:-512}
BULK_FRIENDS=${BULK_FRIENDS:-2}
SETTLE_S=${SETTLE_S:-3}
OUT=${OUT:-$here/results/friends.md}
HARD=900 # seconds: a hard bound on every program we start
[[ "$FRIENDS" =~ ^[0-9]+$ && "$FRIENDS" -ge 2 && "$FRIENDS" -le 30 ]] || { echo "FRIENDS must be 2..30"; exit 2; }
[[ "$N" =~ ^[0-9]+$ && "$N" -ge 1 && "$N" -le 10000 ]] || { echo "N must be 1..10000"; exit 2; }
[[ "$BULK_MB" =~ ^[0-9]+$ && "$BULK_MB" -ge 1 && "$BULK_MB" -le 4096 ]] || { echo "BULK_MB must be 1..4096"; exit 2; }
[[ "$BULK_FRIENDS" =~ ^[0-9]+$ && "$BULK_FRIENDS" -ge 1 && "$BULK_FRIENDS" -lt "$FRIENDS" ]] ||
    { echo "BULK_FRIENDS must be 1..FRIENDS-1"; exit 2; }
command -v jq >/dev/null || { echo "jq is needed (apt-get install jq)"; exit 1; }
lt_require_cli

TMP=$(mktemp -d "${TMPDIR:-/tmp}/pl-friendsbench.XXXXXX")
LT_TMP=$TMP # lt_events and friends read $LT_TMP/NAME.out
NS=""
if [[ $EUID -eq 0 ]]; then
    LAB_ID=${LAB_TEST_ID:-fb$$}
    NS=$(lab_ns lo)
    if ! { ip netns add "$NS" && ip -n "$NS" link set lo up; }; then
        echo "could not make namespace $NS"
        exit 1
    fi
fi
declare -A PID=() IN=()
stop_all() {
    local n i
    for n in "${!PID[@]}"; do [[ -n "${PID[$n]}" ]] && kill -TERM "${PID[$n]}" 2>/dev/null; done
    for ((i = 0; i < 50; i++)); do
        local alive=0
        for n in "${!PID[@]}"; do [[ -n "${PID[$n]}" ]] && kill -0 "${PID[$n]}" 2>/dev/null && alive=1; done
        ((alive)) || break
        sleep 0.1
    done
    for n in "${!PID[@]}"; do
        [[ -n "${PID[$n]}" ]] && kill -KILL "${PID[$n]}" 2>/dev/null
        [[ -n "${PID[$n]}" ]] && wait "${PID[$n]}" 2>/dev/null
    done
    for n in "${!IN[@]}"; do eval "exec ${IN[$n]}>&-" 2>/dev/null; done
    PID=() IN=()
    [[ -n "${A_OUT:-}" ]] && { exec {A_OUT}<&-; } 2>/dev/null
    A_OUT=""
}
cleanup() {
    stop_all
    [[ -n "$NS" ]] && ip netns del "$NS" 2>/dev/null
    if [[ "${KEEP_TMP:-0}" == 1 ]]; then echo "outputs kept in $TMP"; else rm -rf "$TMP"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

# start NAME OUT_TARGET args...: punchline-cli on loopback with its own profile, stdin on a FIFO
# that stays open (IN[NAME]); stdout to OUT_TARGET (a file or A's pipe).
start() {
    local name=$1 out=$2 fd
    shift 2
    mkdir -p "$TMP/$name"
    mkfifo "$TMP/$name.in"
    exec {fd}<>"$TMP/$name.in"
    IN[$name]=$fd
    local -a pre=()
    [[ -n "$NS" ]] && pre=(ip netns exec "$NS")
    echo "$PUNCHLINE_CLI --profile $TMP/$name/profile --name $name --port 0 --stun none --ip-echo none --dht none --port-mapping off --local 127.0.0.1 --json $*" >"$TMP/$name.cmd"
    "${pre[@]}" timeout -k 5 "$HARD" "$PUNCHLINE_CLI" --profile "$TMP/$name/profile" --name "$name" \
        --port 0 --stun none --ip-echo none --dht none --port-mapping off --local 127.0.0.1 --json "$@" \
        <"$TMP/$name.in" >"$out" 2>"$TMP/$name.err" &
    PID[$name]=$!
}
say() { printf '%s\n' "$2" >&"${IN[$1]}"; }
# start_a args...: A, its stdout on a pipe this script reads (fd A_OUT); lines go to A.out too.
start_a() {
    mkfifo "$TMP/A.pipe"
    : >"$TMP/A.out"
    start A "$TMP/A.pipe" "$@"
    exec {A_OUT}<"$TMP/A.pipe"
}
# cli_pid NAME: the punchline-cli process (child of timeout, itself maybe under ip netns exec,
# which execs).
cli_pid() { pgrep -P "${PID[$1]}" | head -n 1; }
rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status" 2>/dev/null; }
# rss_median NAME: median of 5 VmRSS samples (kB), 0.25 s apart, draining A's output meanwhile.
rss_median() {
    local pid i s=()
    pid=$(cli_pid "$1") || return 1
    for ((i = 0; i < 5; i++)); do
        s+=("$(rss_kb "$pid")")
        drain 0.25
    done
    printf '%s\n' "${s[@]}" | sort -n | sed -n 3p
}
fp_of() { lt_field "$1" addresses .fingerprint; }
wait_file() {
    local i
    for ((i = 0; i < $2 * 10; i++)); do
        [[ -s "$1" ]] && return 0
        sleep 0.1
    done
    return 1
}

# --- A's output, read as it comes -----------------------------------------------------------
BULK_WANTED=0
BULK_ON=0        # incoming transfers running (A's view: accepted or progress, not yet ended)
declare -A ACTIVE=() # friend fingerprint -> 1 while its transfer runs
BULK_DONE=0
BULK_SENDS=0
BULK_MAX=60      # bound on re-sends per run
CONNECTED=0
declare -A FP_NAME=() # fingerprint -> friend name
bulk_send() {    # bulk_send FRIEND
    printf '/send %s\n' "$TMP/bulk.bin" >&"${IN[$1]}"
    BULK_SENDS=$((BULK_SENDS + 1))
}
on_line() {
    printf '%s\n' "$1" >>"$TMP/A.out"
    local path peer=""
    [[ $1 =~ \"peer\":\"([0-9a-f]*)\" ]] && peer=${BASH_REMATCH[1]}
    case $1 in
    *'"event":"connected"'*) CONNECTED=$((CONNECTED + 1)) ;;
    *'"event":"transfer"'*'"state":"accepted"'* | *'"event":"transfer"'*'"state":"progress"'*)
        ACTIVE[${peer:-?}]=1
        ;;
    *'"event":"transfer"'*'"state":"done"'*)
        ACTIVE[${peer:-?}]=0
        BULK_DONE=$((BULK_DONE + 1))
        path=$(jq -r '.path // empty' <<<"$1")
        [[ -n "$path" && "$path" == "$TMP/dl/"* ]] && rm -f "$path"
        if ((BULK_WANTED && BULK_SENDS < BULK_MAX)) && [[ -n "${FP_NAME[$peer]:-}" ]]; then
            bulk_send "${FP_NAME[$peer]}"
        fi
        ;;
    *'"event":"transfer"'*'"state":"failed"'* | *'"event":"transfer"'*'"state":"canceled"'* | \
        *'"event":"transfer"'*'"state":"declined"'*)
        ACTIVE[${peer:-?}]=0
        echo "a transfer ended early: $1"
        ;;
    *'"event":"error"'*) echo "A: $1" ;;
    esac
    local k
    BULK_ON=0
    for k in "${!ACTIVE[@]}"; do ((ACTIVE[$k])) && BULK_ON=$((BULK_ON + 1)); done
}
# read_until GLOB SECONDS: reads A's lines until one matches GLOB; false on timeout or EOF.
read_until() {
    local glob=$1 deadline line left
    if [[ $2 == *.* ]]; then
        local whole=${2%.*} frac=${2#*.}000000
        deadline=$((${EPOCHREALTIME/./} + ${whole:-0} * 1000000 + 10#${frac:0:6}))
    else
        deadline=$((${EPOCHREALTIME/./} + $2 * 1000000))
    fi
    while :; do
        left=$(((deadline - ${EPOCHREALTIME/./}) / 1000))
        ((left > 0)) || return 1
        IFS= read -r -t "$((left / 1000)).$(printf '%03d' $((left % 1000)))" -u "$A_OUT" line || return 1
        on_line "$line"
        # shellcheck disable=SC2053
        [[ $line == $glob ]] && return 0
    done
}
drain() { read_until '*"event":"never-matches"*' "$1"; }
# wait_connected COUNT SECONDS: until A has printed COUNT connected events in total.
wait_connected() {
    local end=$((SECONDS + $2))
    while ((CONNECTED < $1 && SECONDS < end)); do read_until '*"event":"connected"*' $((end - SECONDS)) || break; done
    ((CONNECTED >= $1))
}

# pct P FILE: nearest-rank percentile of integers (microseconds) in FILE, printed in ms.
pct() {
    sort -n "$2" | awk -v p="$1" '{v[NR]=$1} END {if (NR == 0) {print "-"; exit}
        i=int((p*NR+99)/100); if(i<1)i=1; if(i>NR)i=NR; printf "%.2f", v[i]/1000}'
}
# chat CASE SELECTOR [bulk]: WARMUP + N lines to one friend; row appended to CHAT_ROWS; with
# "bulk", the lines whose round trip fell while all BULK_FRIENDS transfers ran are counted.
CHAT_ROWS=()
declare -A P50=()
chat() {
    local c=$1 sel=$2 i t0 t1 fails=0 overlapped=0 on_before lat=$TMP/lat-$1.txt
    : >"$lat"
    for ((i = 1; i <= WARMUP + N; i++)); do
        on_before=$BULK_ON
        t0=${EPOCHREALTIME/./}
        say A "/to $sel friends bench $c line $i"
        if read_until '*"event":"delivered"*' 15; then
            t1=${EPOCHREALTIME/./}
            if ((i > WARMUP)); then
                echo $((t1 - t0)) >>"$lat"
                ((on_before >= BULK_FRIENDS && BULK_ON >= BULK_FRIENDS)) && overlapped=$((overlapped + 1))
            fi
        else
            fails=$((fails + 1))
            echo "$c: line $i: no delivered within 15 s"
            break
        fi
    done
    local n_ok during="-"
    n_ok=$(wc -l <"$lat")
    [[ ${3:-} == bulk ]] && during="$overlapped/$n_ok"
    P50[$c]=$(pct 50 "$lat")
    CHAT_ROWS+=("| $c | $n_ok/$N | ${P50[$c]} | $(pct 95 "$lat") | $(pct 100 "$lat") | $during |")
    echo "${CHAT_ROWS[-1]}"
}

t_start=$SECONDS
mkdir -p "$TMP/dl"
head -c "$((BULK_MB * 1024 * 1024))" /dev/urandom >"$TMP/bulk.bin"

# --- run 1: one friend alone --------------------------------------------------------------
echo "== alone: A + F1"
start_a --write-code "$TMP/A.code" --peer "@$TMP/F1.code" --keepalive 15
start F1 "$TMP/F1.out" --write-code "$TMP/F1.code" --peer "@$TMP/A.code" --keepalive 15
RSS_ALONE="-"
if wait_connected 1 60; then
    FP1=$(fp_of F1)
    drain "$SETTLE_S"
    RSS_ALONE=$(rss_median A)
    chat "1 friend alone" "${FP1:0:16}"
else
    echo "alone: A did not connect to F1"
    tail -n 5 "$TMP/A.out" "$TMP/A.err" "$TMP/F1.out" "$TMP/F1.err"
fi
stop_all
mkdir -p "$TMP/alone" && mv "$TMP"/A.* "$TMP"/F1.* "$TMP/alone/" && mv "$TMP/A" "$TMP/F1" "$TMP/alone/"

# --- run 2: FRIENDS friends ------------------------------------------------------------------
echo "== many: A + $FRIENDS friends"
CONNECTED=0
peers=()
for ((i = 1; i <= FRIENDS; i++)); do peers+=(--peer "@$TMP/F$i.code"); done
start_a --write-code "$TMP/A.code" "${peers[@]}" --keepalive 15 --accept all --download-dir "$TMP/dl"
RSS0="-" RSS1="-" RSS10="-" RSS_BULK="-" RSS_FRIEND="-"
if ! wait_file "$TMP/A.code" 30; then
    echo "many: A wrote no code"
else
    drain "$SETTLE_S"
    RSS0=$(rss_median A)
    start F1 "$TMP/F1.out" --write-code "$TMP/F1.code" --peer "@$TMP/A.code" --keepalive 15
    if wait_connected 1 60; then
        FP1=$(fp_of F1)
        FP_NAME[$FP1]=F1
        drain "$SETTLE_S"
        RSS1=$(rss_median A)
        chat "1 of $FRIENDS connected" "${FP1:0:16}"
        for ((i = 2; i <= FRIENDS; i++)); do
            start "F$i" "$TMP/F$i.out" --write-code "$TMP/F$i.code" --peer "@$TMP/A.code" --keepalive 15
        done
        if wait_connected "$FRIENDS" 120; then
            for ((i = 2; i <= FRIENDS; i++)); do FP_NAME[$(fp_of "F$i")]=F$i; done
            drain "$SETTLE_S"
            RSS10=$(rss_median A)
            RSS_FRIEND=$(rss_kb "$(cli_pid F2)")
            chat "$FRIENDS connected, idle" "${FP1:0:16}"
            BULK_WANTED=1
            for ((i = FRIENDS - BULK_FRIENDS + 1; i <= FRIENDS; i++)); do bulk_send "F$i"; done
            end=$((SECONDS + 30))
            while ((BULK_ON < BULK_FRIENDS && SECONDS < end)); do
                read_until '*"event":"transfer"*"state":"accepted"*' $((end - SECONDS)) || break
            done
            read_until '*"event":"transfer"*"state":"progress"*' 10
            chat "$FRIENDS connected, $BULK_FRIENDS sending ${BULK_MB} MiB files" "${FP1:0:16}" bulk
            RSS_BULK=$(rss_median A)
            BULK_WANTED=0
        else
            echo "many: only $CONNECTED of $FRIENDS connected within 120 s"
        fi
    else
        echo "many: A did not connect to F1"
    fi
fi
tail -n 3 "$TMP/A.err" | sed 's/^/A stderr: /'
stop_all
bulk_rate=$(jq -R -r 'fromjson? | select(.event == "transfer" and .state == "done") | .elapsed_ms' "$TMP/A.out" |
    awk -v b="$((BULK_MB * 1024 * 1024))" '{s += $1; n++} END {if (n) printf "%.0f MB/s per transfer (mean of %d)", b / (s / n) / 1000, n; else print "-"}')
# the engine's own rate estimate in each bulk sender's last progress event seen by A (MB/s)
bulk_last_rates=$(jq -R -r -s '[split("\n")[] | fromjson? | select(.event == "transfer" and .state == "progress")]
    | group_by(.peer) | map(last | "\(.peer_name // .name) \((.rate // 0) / 1e6 | floor) MB/s") | join(", ")' \
    "$TMP/A.out" 2>/dev/null)

# --- report -----------------------------------------------------------------------------------
mb() { [[ $1 =~ ^[0-9]+$ ]] && awk -v k="$1" 'BEGIN{printf "%.1f", k / 1024}' || echo "-"; }
per_friend="-"
[[ $RSS10 =~ ^[0-9]+$ && $RSS1 =~ ^[0-9]+$ ]] &&
    per_friend=$(awk -v a="$RSS10" -v b="$RSS1" -v n="$((FRIENDS - 1))" 'BEGIN{printf "%.0f", (a - b) / n}')
ratio() { # ratio CASE: p50 of CASE / p50 of "1 friend alone"
    awk -v a="${P50[$1]:-}" -v b="${P50[1 friend alone]:-}" 'BEGIN{if (a + 0 > 0 && b + 0 > 0) printf "%.2f", a / b; else print "-"}'
}
mkdir -p "$(dirname "$OUT")"
{
    echo "# Many friends: punchline-cli with $FRIENDS friends on one device"
    echo
    echo "- date: $(date -u '+%Y-%m-%d %H:%M UTC')"
    echo "- machine: $(uname -sr), $(nproc) cores, $(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo), load average at the end $(cut -d' ' -f1-3 /proc/loadavg)"
    echo "- program: $(realpath "$PUNCHLINE_CLI") (commit $(git -C "$here/.." rev-parse --short HEAD 2>/dev/null || echo unknown))"
    echo "- command: \`FRIENDS=$FRIENDS N=$N WARMUP=$WARMUP BULK_MB=$BULK_MB BULK_FRIENDS=$BULK_FRIENDS SETTLE_S=$SETTLE_S bench/friends_bench.sh\`"
    echo "- network: 127.0.0.1 only ($([[ -n $NS ]] && echo "a namespace holding nothing but loopback" || echo "the machine's loopback")), \`--stun none --ip-echo none --local 127.0.0.1 --port 0\`"
    echo "- total time: $((SECONDS - t_start)) s"
    echo
    echo "Method: $((FRIENDS + 1)) punchline-cli processes on one machine. A is started with $FRIENDS"
    echo "\`--peer @Fi.code\`; the friends start later (each \`--peer @A.code\`). VmRSS is A's"
    echo "/proc/<pid>/status, median of 5 samples 0.25 s apart, ${SETTLE_S} s after the last connect."
    echo "Chat round trip: write \`/to <F1's fingerprint prefix> text\` to A's stdin, read A's"
    echo "\`delivered\` for it on A's stdout; one line at a time, $WARMUP unmeasured first, then $N;"
    echo "nearest-rank percentiles. \"1 friend alone\" is a separate A with only \`--peer @F1.code\`."
    echo "In the bulk case the last $BULK_FRIENDS friends each send A a ${BULK_MB} MiB random file"
    echo "(\`/send\`, A \`--accept all\`) and send it again whenever A reports it done; \"lines during"
    echo "the transfers\" counts the lines whose whole round trip fell while all $BULK_FRIENDS ran."
    echo
    echo "## Memory (A's VmRSS)"
    echo
    echo "| A | VmRSS MiB |"
    echo "| --- | --- |"
    echo "| one friend alone (separate run) | $(mb "$RSS_ALONE") |"
    echo "| $FRIENDS friends configured, 0 connected | $(mb "$RSS0") |"
    echo "| 1 connected | $(mb "$RSS1") |"
    echo "| $FRIENDS connected, idle | $(mb "$RSS10") |"
    echo "| $FRIENDS connected, $BULK_FRIENDS transferring | $(mb "$RSS_BULK") |"
    echo
    echo "Per friend: (RSS with $FRIENDS connected - RSS with 1) / $((FRIENDS - 1)) = **${per_friend} KiB**."
    echo "A friend's own process (one connection, idle): $(mb "$RSS_FRIEND") MiB."
    echo
    echo "## Chat round trip to one friend"
    echo
    echo "| case | lines delivered | p50 ms | p95 ms | max ms | lines during the transfers |"
    echo "| --- | --- | --- | --- | --- | --- |"
    printf '%s\n' "${CHAT_ROWS[@]}"
    echo
    echo "p50 relative to one friend alone: 1 of $FRIENDS $(ratio "1 of $FRIENDS connected"),"
    echo "$FRIENDS idle $(ratio "$FRIENDS connected, idle"), $FRIENDS with $BULK_FRIENDS transferring"
    echo "$(ratio "$FRIENDS connected, $BULK_FRIENDS sending ${BULK_MB} MiB files"). Bulk transfers: $BULK_DONE done, $bulk_rate;"
    echo "rate in the last progress event A printed for each: ${bulk_last_rates:--}."
} >"$OUT"
echo "wrote $OUT"
exit 0 # the benchmark reports, it does not judge
