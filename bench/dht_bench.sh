#!/usr/bin/env bash
# Friend-finder benchmark of punchline-cli in the namespace lab with 3 OpenDHT nodes (root).
#
#  1. One-way paste at RTT 80 (DELAY_MS=20, drop/drop): RUNS runs, each in a fresh lab. A runs
#     without --peer (--accept-friends all) until its friend finder is online; then B pastes A's
#     code. Reported: B's `elapsed_ms` (from reading the code to a usable session: TLS 1.3 +
#     hello done) and the wall time from B's start to B's `connected` (B's own DHT bootstrap
#     included), p50/p95.
#  2. IP change: IPCHANGE_RUNS runs (drop/drop, RTT 0): friends connected, natA's WAN address
#     moves (as tests/lab/test_dht_ipchange.sh) 3 + 0..IPCHANGE_SPREAD_S (default 15) seconds
#     after they connected, a random phase of A's STUN checks (every 10 s; a fixed moment would
#     always hit the same phase); time until A reports its new public address, and until both
#     are connected again.
#  3. Idle DHT traffic: friends A (hostA) and B connected and idle, and a friendless app on
#     hostA2 (same LAN) as the baseline; UDP bytes in+out of each host over IDLE_S seconds
#     (iptables counters in the host's namespace: only the app runs there), scaled to an hour.
#     Per friend = A - baseline (A has one friend).
#
#   bench/dht_bench.sh                         # RUNS=10 IPCHANGE_RUNS=3 IDLE_S=300 (~12 min)
#   RUNS=3 IPCHANGE_RUNS=1 IDLE_S=60 bench/dht_bench.sh
#
# Env: PUNCHLINE_CLI / PUNCHLINE_BINARY_DIR (as the lab tests), RUNS, IPCHANGE_RUNS, IDLE_S,
# IPCHANGE_SPREAD_S, PARTS (default "paste ipchange idle"), OUT (default bench/results/dht.md).
set -u
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=../tests/lab/lab_test.sh
source "$here/../tests/lab/lab_test.sh"
RUNS=${RUNS:-10}
IPCHANGE_RUNS=${IPCHANGE_RUNS:-3}
IPCHANGE_SPREAD_S=${IPCHANGE_SPREAD_S:-15}
IDLE_S=${IDLE_S:-300}
PARTS=${PARTS:-paste ipchange idle}
OUT=${OUT:-$here/results/dht.md}
LT_HARD_TIMEOUT=$((IDLE_S + 240))
lt_require_cli
lt_init

pct() {
    local p=$1
    shift
    (($# == 0)) && { echo "-"; return; }
    printf '%s\n' "$@" | sort -g | awk -v p="$p" '{v[NR]=$1} END {i=int((p*NR+99)/100); if(i<1)i=1; print v[i]}'
}

# friends DELAY: fresh lab, A waits with its finder online, B pastes; true when both connected.
friends() {
    LAB_DHT=3 lt_lab_up drop drop "$1" >/dev/null
    lt_dht_args
    lt_cli_start A hostA 41000 "${LT_DHT_ARGS[@]}" --accept-friends all \
        --write-code "$LT_TMP/A.code" >/dev/null
    lt_wait_event A '.event == "dht" and .online == true' 30 >/dev/null || return 1
    lt_wait_file "$LT_TMP/A.code" 10 || return 1
    sleep 2 # A's listen at its invitation key is in place
    t_paste=$(lt_now)
    lt_cli_start B hostB 42000 "${LT_DHT_ARGS[@]}" --peer "@$LT_TMP/A.code" >/dev/null
    lt_wait_event B '.event == "connected"' 60 >/dev/null || return 1
    wall_ms=$(awk -v a="$(date +%s.%N)" -v b="$t_paste" 'BEGIN{printf "%d", (a-b)*1000}')
    lt_wait_event A '.event == "connected"' 10 >/dev/null
}

t_start=$SECONDS
paste_rows="" ipc_rows="" idle_rows=""
if [[ " $PARTS " == *" paste "* ]]; then
    ok=0 el=() wall=()
    for ((r = 1; r <= RUNS; r++)); do
        if friends 20; then
            ok=$((ok + 1))
            el+=("$(lt_field B connected .elapsed_ms)")
            wall+=("$wall_ms")
            echo "paste run $r: ok, B elapsed_ms=${el[-1]}, wall ${wall_ms} ms, A via $(lt_field A connected .via)"
        else
            echo "paste run $r: FAILED"
        fi
        lt_reset_clis
    done
    paste_rows="| one-way paste, RTT 80 | $RUNS | $ok/$RUNS | $(pct 50 "${el[@]}") | $(pct 95 "${el[@]}") | $(pct 50 "${wall[@]}") | $(pct 95 "${wall[@]}") |"
    echo "$paste_rows"
fi

if [[ " $PARTS " == *" ipchange "* ]]; then
    ok=0 times=() notices=()
    for ((r = 1; r <= IPCHANGE_RUNS; r++)); do
        if friends 0; then
            wait_s=$((3 + RANDOM % (IPCHANGE_SPREAD_S + 1)))
            sleep "$wait_s"
            ns=$(lab_ns natA)
            t0=$(lt_now)
            ip netns exec "$ns" sysctl -qw net.ipv4.conf.wan.promote_secondaries=1
            ip -n "$ns" addr add 203.0.113.3/28 dev wan
            ip -n "$ns" addr del "$LAB_IP_NATA_WAN/28" dev wan
            ip -n "$ns" route replace default via "$LAB_IP_INET_A" dev wan
            notice=-
            lt_wait_event A '.event == "addresses" and (.public // "" | startswith("203.0.113.3:"))' 180 >/dev/null &&
                notice=$(lt_since "$t0") && notices+=("$notice")
            if lt_wait_count A '.event == "connected"' 2 180 && lt_wait_count B '.event == "connected"' 2 10; then
                took=$(lt_since "$t0")
                ok=$((ok + 1))
                times+=("$took")
                echo "ipchange run $r: changed $wait_s s after connecting; A saw its new address after $notice s, reconnected after $took s"
            else
                echo "ipchange run $r: not reconnected within 180 s"
            fi
        else
            echo "ipchange run $r: FAILED to make friends"
        fi
        lt_reset_clis
    done
    ipc_rows="| IP change of A's NAT, RTT 0 | $IPCHANGE_RUNS | $ok/$IPCHANGE_RUNS | $(pct 50 "${notices[@]}") s | $(pct 50 "${times[@]}") s | $(pct 100 "${times[@]}") s | $(printf '%s ' "${times[@]}") |"
    echo "$ipc_rows"
fi

if [[ " $PARTS " == *" idle "* ]]; then
    LAB_DHT=3 SAME_LAN=1 lt_lab_up drop drop 0 1 >/dev/null
    lt_dht_args
    for h in hostA hostA2 hostB; do
        lab_exec "$h" iptables -w 5 -I INPUT -p udp
        lab_exec "$h" iptables -w 5 -I OUTPUT -p udp
    done
    lt_cli_start C hostA2 43000 "${LT_DHT_ARGS[@]}" --accept-friends none >/dev/null
    lt_cli_start A hostA 41000 "${LT_DHT_ARGS[@]}" --accept-friends all \
        --write-code "$LT_TMP/A.code" >/dev/null
    lt_wait_file "$LT_TMP/A.code" 30
    lt_cli_start B hostB 42000 "${LT_DHT_ARGS[@]}" --peer "@$LT_TMP/A.code" >/dev/null
    if lt_wait_event B '.event == "connected"' 60 >/dev/null; then
        sleep 30 # the first-contact puts and listens are done
        udp_bytes() {
            lab_exec "$1" iptables -w 5 -nvxL "$2" | awk '$3 == "udp" || $3 == "17" || $4 == "udp" || $4 == "17" {print $2; exit}'
        }
        for h in hostA hostA2 hostB; do
            lab_exec "$h" iptables -w 5 -Z INPUT
            lab_exec "$h" iptables -w 5 -Z OUTPUT
        done
        sleep "$IDLE_S"
        declare -A per_h=()
        for h in hostA hostA2 hostB; do
            in=$(udp_bytes "$h" INPUT) out=$(udp_bytes "$h" OUTPUT)
            per_h[$h]=$(((in + out) * 3600 / IDLE_S))
            echo "idle $h: in $in out $out bytes in $IDLE_S s -> ${per_h[$h]} bytes/h"
            idle_rows+="| $h ($([[ $h == hostA2 ]] && echo "no friends" || echo "1 friend")) | $in | $out | $IDLE_S | ${per_h[$h]} | $(awk -v b="${per_h[$h]}" 'BEGIN{printf "%.1f", b/1024}') |"$'\n'
        done
        per_friend=$(((per_h[hostA] + per_h[hostB]) / 2 - per_h[hostA2]))
        idle_rows+="| **per friend** (mean of A and B minus the friendless app) | | | | $per_friend | $(awk -v b="$per_friend" 'BEGIN{printf "%.1f", b/1024}') |"$'\n'
        lt_check "still connected after idling" test "$(lt_count A '.event == "connected"')" -ge 1
    else
        echo "idle: friends did not connect"
    fi
    lt_reset_clis
fi

mkdir -p "$(dirname "$OUT")"
{
    echo "# Friend finder (OpenDHT): punchline-cli in the namespace lab"
    echo
    echo "- date: $(date -u '+%Y-%m-%d %H:%M UTC')"
    echo "- machine: $(uname -sr), $(nproc) cores, $(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo)"
    echo "- program: $PUNCHLINE_CLI (commit $(git -C "$here/.." rev-parse --short HEAD 2>/dev/null || echo unknown))"
    echo "- command: \`RUNS=$RUNS IPCHANGE_RUNS=$IPCHANGE_RUNS IDLE_S=$IDLE_S PARTS=\"$PARTS\" bench/dht_bench.sh\`"
    echo "- lab: 3 dhtnode bootstrap nodes (OpenDHT 2.4.12) on the lab's Internet, both homes behind"
    echo "  drop NATs; the apps use only those nodes (--dht ..., --dht-local-discovery off)"
    echo "- total time: $((SECONDS - t_start)) s"
    echo
    if [[ -n "$paste_rows" ]]; then
        echo "## One-way paste to a usable session"
        echo
        echo "A runs without --peer (--accept-friends all: no human in the loop) until its friend"
        echo "finder is online; B is started with A's code. elapsed_ms: B's \`connected\` event, from"
        echo "reading the code to TLS 1.3 + hello done. Wall: B's start to B's \`connected\` (B's process"
        echo "start and DHT bootstrap included). Nearest-rank percentiles of the successful runs."
        echo
        echo "| case | runs | success | elapsed p50 ms | elapsed p95 ms | wall p50 ms | wall p95 ms |"
        echo "| --- | --- | --- | --- | --- | --- | --- |"
        echo "$paste_rows"
        echo
    fi
    if [[ -n "$ipc_rows" ]]; then
        echo "## IP change to reconnect"
        echo
        echo "Friends connected; 3 + 0..$IPCHANGE_SPREAD_S s later (random: the phase of A's STUN checks)"
        echo "natA's WAN address moves from 203.0.113.2 to 203.0.113.3 (old flows forgotten by"
        echo "conntrack); time until A reported its new public address (\`addresses\` event), and"
        echo "until both printed a second \`connected\`."
        echo
        echo "| case | runs | success | A knows p50 | reconnect p50 | reconnect max | all runs (s) |"
        echo "| --- | --- | --- | --- | --- | --- | --- |"
        echo "$ipc_rows"
        echo
    fi
    if [[ -n "$idle_rows" ]]; then
        echo "## Idle DHT traffic"
        echo
        echo "UDP bytes (whole IP packets, in + out) of each host's namespace over the idle window, with A"
        echo "and B friends and connected, and a friendless app beside A on the same LAN. In a"
        echo "lab DHT of a few nodes the DHT's own upkeep (pings, routing table) is small; on the"
        echo "public DHT it is larger and does not depend on the number of friends."
        echo
        echo "| host | in bytes | out bytes | seconds | bytes/hour | KiB/hour |"
        echo "| --- | --- | --- | --- | --- | --- |"
        printf '%s' "$idle_rows"
    fi
} >"$OUT"
echo "wrote $OUT"
exit 0
