#!/usr/bin/env bash
# Chat round-trip latency of punchline-cli (root needed: namespaces).
#
# For each case a fresh pair: B prints, A sends N lines on its stdin one at a time (after WARMUP
# unmeasured ones); for each line the time from writing it to reading A's `delivered` event is
# taken (bash $EPOCHREALTIME around a FIFO write and a read on A's stdout pipe: the figure is
# the whole path: CLI stdin -> engine -> TLS -> peer -> ack -> JSON line). The keepalive's own
# `rtt` events (--keepalive 1) during the lines and RTT_IDLE_S seconds after them are a second
# figure (Ping/Pong inside the session).
# Cases:
#   loopback        both on 127.0.0.1 in a namespace of their own (no NAT)
#   lab-0, lab-20   the NAT lab, drop/drop, DELAY_MS 0 and 20 (network RTT ~0 / ~80 ms)
#   *-bulk          the same with a bulk stream beside the chat: A sends a BULK_MB file to B
#                   (/send on stdin, B --accept all) and sends it again each time it is done,
#                   so every measured line shares the connection with a transfer
# Writes a Markdown table to bench/results/chat.md (OUT=...).
#
#   bench/chat_bench.sh                         # all cases, N=200 (about 3 min)
#   N=50 CASES="loopback lab-20" bench/chat_bench.sh
#
# Env: PUNCHLINE_CLI / PUNCHLINE_BINARY_DIR (as the lab tests), N, WARMUP (default 5), CASES,
# BULK_MB (default 200), RTT_IDLE_S (default 10: keepalive samples after the lines), OUT, NICE
# (a nice value for both CLIs, e.g. -10, on a machine others use).
set -u
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=../tests/lab/lab_test.sh
source "$here/../tests/lab/lab_test.sh"

N=${N:-200}
WARMUP=${WARMUP:-5}
BULK_MB=${BULK_MB:-200}
RTT_IDLE_S=${RTT_IDLE_S:-10}
OUT=${OUT:-$here/results/chat.md}
NICE=${NICE:-} # e.g. -10: both CLIs at that priority, so other work on a shared machine matters less
ALL="loopback lab-0 lab-20 loopback-bulk lab-0-bulk lab-20-bulk"
CASES=${CASES:-$ALL}
for c in $CASES; do
    [[ " $ALL " == *" $c "* ]] || { echo "unknown case $c (known: $ALL)"; exit 2; }
done
[[ "$N" =~ ^[0-9]+$ && "$N" -ge 1 && "$N" -le 100000 ]] || { echo "N must be 1..100000"; exit 2; }
[[ "$BULK_MB" =~ ^[0-9]+$ && "$BULK_MB" -ge 1 && "$BULK_MB" -le 4096 ]] || { echo "BULK_MB must be 1..4096"; exit 2; }

lt_require_cli
lt_init
BULK_DIR=$(mktemp -d "${TMPDIR:-/tmp}/pl-chatbench.XXXXXX")
trap 'rm -rf "$BULK_DIR"; lt_cleanup' EXIT
if [[ " $CASES " == *-bulk* ]]; then
    head -c "$((BULK_MB * 1024 * 1024))" /dev/urandom >"$BULK_DIR/bulk.bin"
fi

# pct P FILE: nearest-rank percentile of the integers in FILE (microseconds), printed in ms.
pct() {
    sort -n "$2" | awk -v p="$1" '{v[NR]=$1} END {if (NR == 0) {print "-"; exit}
        i=int((p*NR+99)/100); if(i<1)i=1; if(i>NR)i=NR; printf "%.2f", v[i]/1000}'
}
pct_ms() { # pct_ms P FILE: the same for integers already in ms
    sort -n "$2" | awk -v p="$1" '{v[NR]=$1} END {if (NR == 0) {print "-"; exit}
        i=int((p*NR+99)/100); if(i<1)i=1; if(i>NR)i=NR; print v[i]}'
}

# start_a HOST PORT args...: A with stdin on a FIFO (LT_IN[A]) and stdout on a pipe this script
# reads (fd A_OUT); every line read is also appended to $LT_TMP/A.out.
start_a() {
    local host=$1 port=$2
    shift 2
    mkdir -p "$LT_TMP/A"
    mkfifo "$LT_TMP/A.in" "$LT_TMP/A.pipe"
    local fd
    exec {fd}<>"$LT_TMP/A.in"
    LT_IN[A]=$fd
    echo "$PUNCHLINE_CLI --profile $LT_TMP/A/profile --name A --port $port ${LT_STUN_ARGS[*]} --json $*" \
        >"$LT_TMP/A.cmd"
    LT_T0[A]=$(date +%s.%N)
    ip netns exec "$(lab_ns "$host")" timeout -k 5 600 "$PUNCHLINE_CLI" --profile "$LT_TMP/A/profile" \
        --name A --port "$port" "${LT_STUN_ARGS[@]}" --dht none --json "$@" \
        <"$LT_TMP/A.in" >"$LT_TMP/A.pipe" 2>"$LT_TMP/A.err" &
    LT_PID[A]=$!
    exec {A_OUT}<"$LT_TMP/A.pipe"
    : >"$LT_TMP/A.out"
}

BULK_ON=0     # 1 while a transfer of the bulk file is running
BULK_BYTES=0  # bytes of the bulk stream sent so far in this case (done files + progress)
BULK_FILE_BYTES=$((BULK_MB * 1024 * 1024))
BULK_SENDS=0
BULK_DONE=0
BULK_WANTED=0 # keep a transfer going while measuring
BULK_MAX=40   # bound on re-sends per case
bulk_send() {
    rm -f "$LT_TMP/dl"/* 2>/dev/null
    printf '/send %s\n' "$BULK_DIR/bulk.bin" >&"${LT_IN[A]}"
    BULK_ON=1
    BULK_SENDS=$((BULK_SENDS + 1))
}
# on_line LINE: bookkeeping for every line of A's output.
on_line() {
    printf '%s\n' "$1" >>"$LT_TMP/A.out"
    case $1 in
    *'"event":"rtt"'*)
        [[ $1 =~ \"ms\":([0-9]+) ]] && ((RTT_ON)) && echo "${BASH_REMATCH[1]}" >>"$LT_TMP/rtt.txt"
        ;;
    *'"event":"transfer"'*'"state":"progress"'*)
        [[ $1 =~ \"bytes\":([0-9]+) ]] && BULK_BYTES=$((BULK_DONE * BULK_FILE_BYTES + BASH_REMATCH[1]))
        ;;
    *'"event":"transfer"'*'"state":"done"'*)
        BULK_ON=0
        BULK_BYTES=$(((BULK_DONE + 1) * BULK_FILE_BYTES))
        BULK_DONE=$((BULK_DONE + 1))
        ((BULK_WANTED && BULK_SENDS < BULK_MAX)) && bulk_send
        ;;
    *'"event":"transfer"'*'"state":"failed"'* | *'"event":"transfer"'*'"state":"canceled"'* | \
        *'"event":"transfer"'*'"state":"declined"'*)
        BULK_ON=0
        echo "bulk transfer ended early: $1"
        ;;
    esac
}
# read_until GLOB SECONDS: reads A's lines until one matches GLOB; false on timeout or EOF.
read_until() {
    local glob=$1 deadline line
    deadline=$((${EPOCHREALTIME/./} + $2 * 1000000))
    while :; do
        local left=$(((deadline - ${EPOCHREALTIME/./}) / 1000))
        ((left > 0)) || return 1
        IFS= read -r -t "$((left / 1000)).$(printf '%03d' $((left % 1000)))" -u "$A_OUT" line || return 1
        on_line "$line"
        # shellcheck disable=SC2053
        [[ $line == $glob ]] && return 0
    done
}
shopt -s extglob

# retrans HOST: TCP segments retransmitted so far in that host's namespace (/proc/net is per
# namespace).
retrans() {
    ip netns exec "$(lab_ns "$1")" awk '/^Tcp:/ {if (!h) {for (i = 1; i <= NF; i++) c[$i] = i; h = 1}
        else print $c["RetransSegs"]}' /proc/net/snmp
}
# ss_sampler HOST PORT PEER_PORT OUT: every 0.2 s, A's TCP socket to the peer as `ss -tin` sees it (where a
# chat line waits on the sending side: notsent = above TCP_NOTSENT_LOWAT's reach, unacked =
# in flight); runs until killed.
ss_sampler() {
    while :; do
        ip netns exec "$(lab_ns "$1")" ss -tinH state established \
            "( sport = :$2 and dport = :$3 )" 2>/dev/null | paste -sd' ' >>"$4"
        sleep 0.2
    done
}
# ss_summary FILE: medians of the sender's queue figures from ss_sampler.
ss_summary() {
    awk '{
        for (i = 1; i <= NF; i++) {
            if ($i ~ /^rtt:/) { split(substr($i, 5), a, "/"); rtt[++nr] = a[1] }
            if ($i ~ /^notsent:/) ns[++nn] = substr($i, 9)
            if ($i ~ /^unacked:/) un[++nu] = substr($i, 9)
            if ($i ~ /^cwnd:/) cw[++nc] = substr($i, 6)
        }
        rq[++nr2] = $1; sq[++nq] = $2
    }
    function med(v, n,   i, j, t) {
        if (n == 0) return "-"
        for (i = 2; i <= n; i++) { t = v[i]; for (j = i - 1; j >= 1 && v[j] > t; j--) v[j + 1] = v[j]; v[j + 1] = t }
        return v[int((n + 1) / 2)]
    }
    { for (i = 1; i <= NF; i++) if ($i == "bbr" || $i == "cubic" || $i == "reno") cc = $i }
    END { printf "%s, recv-q %s B, send-q %s B, notsent %s B, unacked %s seg, cwnd %s, srtt %s ms (%d samples)",
        cc, med(rq, nr2), med(sq, nq), med(ns, nn), med(un, nu), med(cw, nc), med(rtt, nr), nq }' "$1"
}

rows=()
diag=()
t_start=$SECONDS
for c in $CASES; do
    bulk=0
    [[ $c == *-bulk ]] && bulk=1
    base=${c%-bulk}
    lt_log "== $c"
    case $base in
    loopback)
        lt_lo_up >/dev/null
        host_a=lo host_b=lo port_a=0 port_b=0 extra=("${LT_LO_ARGS[@]}") net="loopback (127.0.0.1)"
        ;;
    lab-*)
        d=${base#lab-}
        lt_lab_up drop drop "$d" >/dev/null
        host_a=hostA host_b=hostB port_a=41000 port_b=42000 extra=() net="lab drop/drop, DELAY_MS $d (RTT ~$((4 * d)) ms)"
        ;;
    esac
    mkdir -p "$LT_TMP/dl"
    : >"$LT_TMP/lat.txt"
    : >"$LT_TMP/rtt.txt"
    MEASURING=0 RTT_ON=0 BULK_ON=0 BULK_SENDS=0 BULK_DONE=0 BULK_WANTED=0
    lt_cli_start B "$host_b" "$port_b" "${extra[@]}" --write-code "$LT_TMP/B.code" \
        --peer "@$LT_TMP/A.code" --keepalive 1 --accept all --download-dir "$LT_TMP/dl" >/dev/null
    start_a "$host_a" "$port_a" "${extra[@]}" --write-code "$LT_TMP/A.code" --peer "@$LT_TMP/B.code" \
        --keepalive 1
    if [[ -n "$NICE" ]]; then # both CLIs (their command lines name this run's temp dir)
        for p in $(pgrep -f -- "--profile $LT_TMP/[AB]/profile"); do
            for t in /proc/"$p"/task/*; do renice -n "$NICE" -p "${t##*/}" >/dev/null 2>&1; done
        done
    fi
    if ! read_until '*"event":"connected"*' 60; then
        echo "$c: A did not connect"
        lt_dump A
        lt_dump B
        rows+=("| $c | $net | $([[ $bulk == 1 ]] && echo "${BULK_MB} MB" || echo no) | not connected | - | - | - | - | - | - | - | - | - | - | - |")
        exec {A_OUT}<&-
        lt_reset_clis
        continue
    fi
    if ((bulk)); then
        BULK_WANTED=1
        bulk_send
        read_until '*"event":"transfer"*"state":"progress"*' 30 ||
            echo "$c: no transfer progress seen"
    fi
    fails=0 overlapped=0
    : >"$LT_TMP/ssA.txt"
    : >"$LT_TMP/ssB.txt"
    sampler_pids=()
    for ((i = 1; i <= WARMUP + N; i++)); do
        if ((i == WARMUP + 1)); then
            m_t0=${EPOCHREALTIME/./} m_b0=$BULK_BYTES
            if [[ $base == lab-* ]]; then
                m_ra0=$(retrans hostA) m_rb0=$(retrans hostB)
                # The path alone: ICMP through the same links (and taplinks) as the chat.
                ip netns exec "$(lab_ns hostA)" ping -n -i 0.1 203.0.113.18 >"$LT_TMP/ping.txt" 2>&1 &
                sampler_pids+=($!)
                if ((bulk)); then
                    ss_sampler hostA "$port_a" "$port_b" "$LT_TMP/ssA.txt" &
                    sampler_pids+=($!)
                    ss_sampler hostB "$port_b" "$port_a" "$LT_TMP/ssB.txt" &
                    sampler_pids+=($!)
                fi
            fi
        fi
        ((i > WARMUP)) && MEASURING=1 RTT_ON=1
        on_before=$BULK_ON
        t0=${EPOCHREALTIME/./}
        printf 'chat bench %s line %d\n' "$c" "$i" >&"${LT_IN[A]}"
        if read_until '*"event":"delivered"*' 15; then
            t1=${EPOCHREALTIME/./}
            if ((MEASURING)); then
                echo $((t1 - t0)) >>"$LT_TMP/lat.txt"
                ((on_before && BULK_ON)) && overlapped=$((overlapped + 1))
            fi
        else
            fails=$((fails + 1))
            echo "$c: line $i: no delivered within 15 s"
            break
        fi
    done
    MEASURING=0
    # More keepalive samples: RTT_IDLE_S seconds with no chat (the bulk stream goes on).
    read_until '*"event":"never-matches"*' "$RTT_IDLE_S"
    RTT_ON=0 BULK_WANTED=0
    m_t1=${EPOCHREALTIME/./} m_b1=$BULK_BYTES
    for p in "${sampler_pids[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
    bulk_rate="-" rexmit="-" queues="" pingq="-"
    if ((bulk)); then
        bulk_rate=$(awk -v b=$((m_b1 - m_b0)) -v t=$((m_t1 - m_t0)) 'BEGIN {printf "%.1f", b / t}')
    fi
    if [[ $base == lab-* ]]; then
        rexmit="$(($(retrans hostA) - m_ra0)) / $(($(retrans hostB) - m_rb0))"
        sed -n 's/.*time=\([0-9.]*\) ms.*/\1/p' "$LT_TMP/ping.txt" | awk '{printf "%d\n", $1 * 1000}' >"$LT_TMP/ping.us"
        pingq="$(pct 50 "$LT_TMP/ping.us") / $(pct 99 "$LT_TMP/ping.us") ($(wc -l <"$LT_TMP/ping.us"))"
        if ((bulk)); then
            queues="A (sender): $(ss_summary "$LT_TMP/ssA.txt"); B (receiver): $(ss_summary "$LT_TMP/ssB.txt")"
            echo "$c: $queues"
            diag+=("- $c: $queues")
        fi
    fi
    # Lines B printed (each once?), then stop both.
    sleep 0.5
    lt_stop B
    lt_stop A
    exec {A_OUT}<&-
    printed=$(lt_events B 'select(.event == "message") | .text' | grep -c "chat bench $c line")
    uniq_printed=$(lt_events B 'select(.event == "message") | .text' | grep "chat bench $c line" | sort -u | wc -l)
    n_ok=$(wc -l <"$LT_TMP/lat.txt")
    mean=$(awk '{s+=$1} END {if (NR) printf "%.2f", s/NR/1000; else print "-"}' "$LT_TMP/lat.txt")
    during="-"
    ((bulk)) && during="$overlapped/$n_ok (${BULK_DONE} files done)"
    rtt="$(pct_ms 50 "$LT_TMP/rtt.txt") / $(pct_ms 99 "$LT_TMP/rtt.txt") ($(wc -l <"$LT_TMP/rtt.txt"))"
    rows+=("| $c | $net | $([[ $bulk == 1 ]] && echo "${BULK_MB} MB file" || echo no) | $n_ok/$N | $(pct 50 "$LT_TMP/lat.txt") | $(pct 90 "$LT_TMP/lat.txt") | $(pct 99 "$LT_TMP/lat.txt") | $(pct 100 "$LT_TMP/lat.txt") | $mean | $rtt | $during | $bulk_rate | $rexmit | $pingq | $printed ($uniq_printed) / $((WARMUP + N)) |")
    echo "${rows[-1]}"
    echo "$c: B printed $printed bench lines ($uniq_printed distinct) for $((WARMUP + N)) sent"
    lt_reset_clis
done

mkdir -p "$(dirname "$OUT")"
{
    echo "# Chat latency: punchline-cli"
    echo
    echo "- date: $(date -u '+%Y-%m-%d %H:%M UTC')"
    echo "- machine: $(uname -sr), $(nproc) cores, $(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo), load average at the end $(cut -d' ' -f1-3 /proc/loadavg)"
    echo "- program: $(realpath "$PUNCHLINE_CLI") (commit $(git -C "$here/.." rev-parse --short HEAD 2>/dev/null || echo unknown))"
    echo "- TCP congestion control: $(sysctl -n net.ipv4.tcp_congestion_control) by default (allowed: $(sysctl -n net.ipv4.tcp_allowed_congestion_control)); what the connection used: see the socket queues below"
    echo "- command: \`NICE=$NICE N=$N WARMUP=$WARMUP BULK_MB=$BULK_MB RTT_IDLE_S=$RTT_IDLE_S CASES=\"$(echo $CASES)\" bench/chat_bench.sh\`"
    echo "- total time: $((SECONDS - t_start)) s"
    echo
    echo "Round trip of one chat line: from writing the line to A's stdin to reading A's"
    echo "\`delivered\` event for it on A's stdout (so it includes both CLIs' JSON and stdin"
    echo "handling, TLS and the peer's ack), one line at a time, after $WARMUP unmeasured lines."
    echo "Percentiles are nearest-rank over the measured lines. \"keepalive rtt\" is the session's own"
    echo "Ping/Pong round trip from A's \`rtt\` events (--keepalive 1) during the lines and the"
    echo "${RTT_IDLE_S} s after them (bulk still running in the bulk cases): p50 / p99 (count), whole ms."
    echo "Bulk: A sends a ${BULK_MB} MB file to B and sends it again whenever it is done, so a transfer"
    echo "shares the connection with the chat; \"lines during a transfer\" counts the lines whose whole"
    echo "round trip fell inside a running transfer. \"bulk MB/s\": bulk bytes sent (MB = 10^6 B) from the first"
    echo "measured line to the end of the keepalive samples; \"TCP retransmits\": segments each lab host's"
    echo "kernel retransmitted in that time (lab cases); \"ping\": ICMP every 0.1 s from hostA to natB's"
    echo "WAN address in that time, the same links as the chat without either program (lab cases)."
    echo "\"printed by B\": bench lines B printed (distinct)"
    echo "for the lines sent, warm-up included. The lab's links are taplinks (DELAY_MS each way per"
    echo "home link, see tests/lab/README.md), whose queue of 1024 frames per direction also holds"
    echo "bulk data ahead of chat."
    echo
    echo "| case | network | bulk beside it | lines delivered | p50 ms | p90 ms | p99 ms | max ms | mean ms | keepalive rtt ms p50 / p99 (n) | lines during a transfer | bulk MB/s | TCP retransmits A / B | ping A to B's router ms p50 / p99 (n) | printed by B |"
    echo "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"
    printf '%s\n' "${rows[@]}"
    if ((${#diag[@]})); then
        echo
        echo "Socket queues during the measured lines (medians of \`ss -tin\` every 0.2 s on the"
        echo "connection: A sends the bulk, B receives it):"
        echo
        printf '%s\n' "${diag[@]}"
    fi
} >"$OUT"
echo "wrote $OUT"
exit 0 # the benchmark reports, it does not judge
