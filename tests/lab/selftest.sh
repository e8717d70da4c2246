#!/usr/bin/env bash
# Self-test of the lab itself (no punchline-cli needed): addressing, NAT behaviours, the routed
# hop, the delay links, coturn, a plain simultaneous open, two labs at once, the third home
# (HOMES=3: natC + hostC), the DHT bootstrap nodes (LAB_DHT=3: a value put from behind one NAT
# is read from behind the other, and nothing leaves for an address outside the lab), IPv6
# (LAB_V6: routed addresses behind dropping and rejecting firewalls, a dual-stack STUN host, an
# IPv6-only home) and teardown.
# Needs root, iproute2, iptables (with ip6tables), socat, coturn, iputils-ping, jq, a C compiler,
# dhtnode, tcpdump. About 55 s.
set -u
source "$(dirname "$0")/lab_test.sh"
[[ $EUID -eq 0 ]] || { echo "selftest must run as root"; exit 1; }
for tool in ip iptables ip6tables socat turnserver ping cc od jq dhtnode tcpdump; do
    command -v "$tool" >/dev/null || { echo "missing tool: $tool (see tests/lab/README.md)"; exit 1; }
done

BASE=${LAB_TEST_ID:-st$$} # not LAB_ID: an interactive lab must not be touched
IDS=("${BASE}a" "${BASE}b" "${BASE}c" "${BASE}d")
cleanup() {
    local id
    for id in "${IDS[@]}"; do LAB_ID=$id lab_down; done
}
trap cleanup EXIT
trap 'lt_fail "interrupted"; exit 130' INT TERM HUP
PORT_SO=45000

# so_punch HOST LPORT PEER_IP PEER_PORT MSG OUT DEADLINE_S: a bash-only simultaneous open
# (socat from a fixed port with SO_REUSEADDR+SO_REUSEPORT, retried until it exchanges a line).
so_punch() {
    local host=$1 lport=$2 peer=$3 pport=$4 msg=$5 out=$6 end=$((SECONDS + $7))
    local target="TCP:$peer:$pport"
    [[ "$peer" == *:* ]] && target="TCP6:[$peer]:$pport" # IPv6
    while ((SECONDS < end)); do
        echo "$msg" | lab_exec "$host" timeout 6 socat -t 3 - \
            "$target,sourceport=$lport,reuseaddr,reuseport,connect-timeout=1.5" \
            >"$out.tmp" 2>/dev/null
        if [[ -s "$out.tmp" ]]; then
            mv "$out.tmp" "$out"
            return 0
        fi
        sleep "0.$((RANDOM % 3 + 1))"
    done
    return 1
}

# count TABLE CHAIN HOST MATCH: packet counter of the first rule whose listing contains MATCH.
count() {
    lab_exec "$3" iptables -t "$1" -L "$2" -v -x -n | awk -v m="$4" 'index($0, m) {print $1; exit}'
}

TMPD=$(mktemp -d)
trap 'cleanup; rm -rf "$TMPD"' EXIT

# ---------------------------------------------------------------------------------------------
LAB_ID=${IDS[0]}
lt_log "== lab $LAB_ID: NAT_A=drop NAT_B=rst DELAY_MS=0 SAME_LAN=1 HOMES=3 NAT_C=drop LAB_DHT=3"
if ! NAT_A=drop NAT_B=rst DELAY_MS=0 SAME_LAN=1 HOMES=3 NAT_C=drop LAB_DHT=3 lab_up; then
    lt_fail "lab up"
    lt_finish
fi
lt_ok "lab up"
lt_eq "namespaces (7 + natC, hostC + dht1..dht3)" 12 "$(ip netns list | grep -c "^$LAB_ID-")"
lt_eq "without LAB_V6, IPv6 is disabled (hostA)" 1 \
    "$(lab_exec hostA sysctl -n net.ipv6.conf.all.disable_ipv6)"
lt_eq "without LAB_V6, IPv6 is disabled (stun)" 1 \
    "$(lab_exec stun sysctl -n net.ipv6.conf.all.disable_ipv6)"

m1=$(lab_stun hostA "$LAB_IP_STUN1" 40100)
m2=$(lab_stun hostA "$LAB_IP_STUN2" 40100)
lt_eq "STUN from hostA via $LAB_IP_STUN1: natA's WAN address, port kept" "$LAB_IP_NATA_WAN:40100" "$m1"
lt_eq "STUN from hostA via $LAB_IP_STUN2: the same mapping" "$LAB_IP_NATA_WAN:40100" "$m2"
lt_match "STUN from hostA2: natA's WAN address" "^${LAB_IP_NATA_WAN//./\\.}:" "$(lab_stun hostA2)"
lt_match "STUN from hostB: natB's WAN address" "^${LAB_IP_NATB_WAN//./\\.}:" "$(lab_stun hostB "$LAB_IP_STUN2")"
lt_eq "STUN from hostC via $LAB_IP_STUN1: natC's WAN address, port kept" "$LAB_IP_NATC_WAN:40102" \
    "$(lab_stun hostC "$LAB_IP_STUN1" 40102)"
lt_eq "STUN from hostC via $LAB_IP_STUN2: the same mapping" "$LAB_IP_NATC_WAN:40102" \
    "$(lab_stun hostC "$LAB_IP_STUN2" 40102)"

# hostB listens on its LAN address; hostA must not reach it (inet has no route to the LANs).
lab_exec hostB timeout 8 socat -u TCP-LISTEN:45001,reuseaddr - >"$TMPD/lan.out" 2>/dev/null &
sleep 0.3
err=$(echo x | lab_exec hostA timeout 5 socat -u - TCP:"$LAB_IP_HOSTB":45001,connect-timeout=2 2>&1)
lt_match "hostA cannot reach hostB's LAN address ($err)" 'unreachable|No route|timed out' "$err"
lt_check "ping hostA -> hostB's LAN address fails" \
    bash -c "! ip netns exec $(lab_ns hostA) ping -c 1 -W 1 $LAB_IP_HOSTB >/dev/null 2>&1"
# The third home's LAN is as private as the others.
for pair in "hostA $LAB_IP_HOSTC" "hostB $LAB_IP_HOSTC" "hostC $LAB_IP_HOSTA" "hostC $LAB_IP_HOSTB"; do
    read -r from to <<<"$pair"
    lt_check "ping $from -> $to (another home's LAN) fails" \
        bash -c "! ip netns exec $(lab_ns "$from") ping -c 1 -W 1 $to >/dev/null 2>&1"
done
lt_check "ping hostC -> natA's and natB's WAN addresses works" \
    bash -c "ip netns exec $(lab_ns hostC) ping -c 1 -W 2 $LAB_IP_NATA_WAN >/dev/null &&
        ip netns exec $(lab_ns hostC) ping -c 1 -W 2 $LAB_IP_NATB_WAN >/dev/null"

# Same LAN: hostA2 reaches hostA directly.
lab_exec hostA timeout 8 socat -u TCP-LISTEN:45002,reuseaddr - >"$TMPD/same.out" 2>/dev/null &
sleep 0.3
echo same-lan | lab_exec hostA2 timeout 5 socat -u - TCP:"$LAB_IP_HOSTA":45002,connect-timeout=2
sleep 0.3
lt_eq "hostA2 reaches hostA over the LAN" same-lan "$(cat "$TMPD/same.out")"

# NAT kinds: rst answers an unsolicited SYN with RST at once, drop stays silent.
t0=$(date +%s%N)
err=$(lab_exec hostA timeout 5 socat -u /dev/null TCP:"$LAB_IP_NATB_WAN":45003,connect-timeout=2 2>&1)
ms=$((($(date +%s%N) - t0) / 1000000))
lt_match "NAT rst: unsolicited SYN to natB's WAN gets RST ($ms ms)" 'refused' "$err"
err=$(lab_exec hostB timeout 5 socat -u /dev/null TCP:"$LAB_IP_NATA_WAN":45003,connect-timeout=2 2>&1)
lt_match "NAT drop: unsolicited SYN to natA's WAN gets no answer" 'timed out' "$err"

# TTL 2 from hostA: natA forwards it (TTL 1), inet drops it and answers ICMP time-exceeded,
# natB never sees it.
lab_exec inet iptables -t raw -I PREROUTING -p tcp --dport 45004 --syn -j ACCEPT
lab_exec natB iptables -t raw -I PREROUTING -p tcp --dport 45004 -j ACCEPT
lab_exec hostA iptables -I INPUT -p icmp --icmp-type time-exceeded -j ACCEPT
err=$(lab_exec hostA timeout 5 socat -u /dev/null \
    TCP:"$LAB_IP_NATB_WAN":45004,sourceport=45004,ttl=2,connect-timeout=2 2>&1)
lt_eq "TTL-2 SYN reached inet" 1 "$(count raw PREROUTING inet 'dpt:45004')"
lt_eq "TTL-2 SYN did not reach natB" 0 "$(count raw PREROUTING natB 'dpt:45004')"
lt_eq "hostA got ICMP time-exceeded" 1 "$(count filter INPUT hostA 'icmptype 11')"
lt_match "connect() with TTL 2 fails with 'No route to host' (EHOSTUNREACH)" 'No route to host' "$err"

# Plain simultaneous open across drop/rst at zero delay, started together.
so_punch hostA $PORT_SO "$LAB_IP_NATB_WAN" $((PORT_SO + 1)) from-A "$TMPD/soA" 15 &
pa=$!
so_punch hostB $((PORT_SO + 1)) "$LAB_IP_NATA_WAN" $PORT_SO from-B "$TMPD/soB" 15
wait $pa
lt_eq "simultaneous open drop/rst DELAY 0: A got B's line" from-B "$(cat "$TMPD/soA" 2>/dev/null)"
lt_eq "simultaneous open drop/rst DELAY 0: B got A's line" from-A "$(cat "$TMPD/soB" 2>/dev/null)"

# The third home: natC (drop) is a NAT like the others: unsolicited SYN dropped, and a plain
# simultaneous open hostA <-> hostC across drop/drop works.
err=$(lab_exec hostB timeout 5 socat -u /dev/null TCP:"$LAB_IP_NATC_WAN":45003,connect-timeout=2 2>&1)
lt_match "NAT drop (natC): unsolicited SYN to natC's WAN gets no answer" 'timed out' "$err"
so_punch hostA $((PORT_SO + 2)) "$LAB_IP_NATC_WAN" $((PORT_SO + 3)) from-A "$TMPD/soAC" 15 &
pa=$!
so_punch hostC $((PORT_SO + 3)) "$LAB_IP_NATA_WAN" $((PORT_SO + 2)) from-C "$TMPD/soCA" 15
wait $pa
lt_eq "simultaneous open A <-> C drop/drop DELAY 0: A got C's line" from-C "$(cat "$TMPD/soAC" 2>/dev/null)"
lt_eq "simultaneous open A <-> C drop/drop DELAY 0: C got A's line" from-A "$(cat "$TMPD/soCA" 2>/dev/null)"

# --- DHT bootstrap nodes ------------------------------------------------------------------------
# dht_client HOST NODE_IP COMMAND OUT: a short-lived dhtnode in HOST that bootstraps from one lab
# node (and from nothing else), runs one command of its shell, and ends 1.5 s later (stdin EOF).
dht_client() {
    (echo "$3"; sleep 1.5) | lab_exec "$1" timeout -k 2 20 dhtnode -b "$2:$LAB_DHT_PORT" -p 0 \
        >"$4" 2>&1
}

lt_eq "lab_dht_bootstrap lists the three nodes" \
    "$LAB_IP_DHT1:4222 $LAB_IP_DHT2:4222 $LAB_IP_DHT3:4222 " "$(lab_dht_bootstrap | tr '\n' ' ')"
for k in 1 2 3; do
    lt_check "dhtnode $k runs" bash -c "grep -q dhtnode /proc/\$(cat $(lab_rundir)/dht$k.pid)/cmdline"
done
for k in 2 3; do
    lt_check "node $k reached node 1" grep -q "$LAB_IP_DHT1:$LAB_DHT_PORT.*got pong" \
        "$(lab_rundir)/dht$k.log"
done

# Everything inet routes (every home's WAN, the stun and DHT links) is captured while node 3
# restarts, clients come and go, and a dhtnode without -b runs for 3 s: not one packet may
# be for or from an address outside the lab's three documentation ranges (no DNS, no
# bootstrap.jami.net or bootstrap.ring.cx).
pcap="$TMPD/dht.pcap"
ip netns exec "$(lab_ns inet)" timeout -k 2 60 tcpdump -i any -n -s 128 -U -w "$pcap" \
    >"$TMPD/tcpdump.out" 2>"$TMPD/tcpdump.err" &
tcpdump_pid=$!
for ((i = 0; i < 50; i++)); do grep -qs "listening on" "$TMPD/tcpdump.err" && break; sleep 0.1; done
lab_dht_stop 3
lt_check "node 3 restarts" lab_dht_start 3
key="punchline-lab-selftest-$$"
value="hello-$RANDOM$RANDOM"
t0=$(date +%s%N)
dht_client hostA "$LAB_IP_DHT1" "p $key $value" "$TMPD/dht-put.out"
ms=$((($(date +%s%N) - t0) / 1000000))
lt_match "hostA (behind natA) puts a value through node 1 ($ms ms with the client's 1.5 s)" \
    'Put: success' "$(tr -d '\r' <"$TMPD/dht-put.out")"
t0=$(date +%s%N)
dht_client hostB "$LAB_IP_DHT3" "g $key" "$TMPD/dht-get.out"
ms=$((($(date +%s%N) - t0) / 1000000))
lt_match "hostB (behind natB) gets it through the restarted node 3 ($ms ms)" \
    "data\\(text/plain\\):\"$value\"" "$(tr -d '\r' <"$TMPD/dht-get.out")"
dht_client hostA "$LAB_IP_DHT2" "g $key" "$TMPD/dht-get2.out"
lt_match "hostA gets it back through node 2" "\"$value\"" "$(tr -d '\r' <"$TMPD/dht-get2.out")"
(sleep 3) | lab_exec hostA timeout -k 2 10 dhtnode -p 0 >"$TMPD/dht-alone.out" 2>&1
sleep 1
kill -INT "$tcpdump_pid" 2>/dev/null
wait "$tcpdump_pid" 2>/dev/null
packets=$(tcpdump -r "$pcap" -n -q 2>/dev/null)
lt_check "the capture holds DHT traffic from natA's WAN address ($(wc -l <<<"$packets") packets)" \
    grep -q "IP $LAB_IP_NATA_WAN\.[0-9]* > $LAB_IP_DHT1\.$LAB_DHT_PORT: UDP" <<<"$packets"
outside=$(grep -oE '([0-9]{1,3}\.){3}[0-9]{1,3}' <<<"$packets" | sort -u |
    grep -vE '^(192\.0\.2|198\.51\.100|203\.0\.113)\.' || true)
lt_eq "no packet for or from an address outside the lab" "" "$outside"
lt_eq "no name was looked up (no DNS)" "" "$(grep -E '\.53: |jami|ring\.cx' <<<"$packets" || true)"

# ---------------------------------------------------------------------------------------------
LAB_ID=${IDS[1]}
lt_log "== lab $LAB_ID: NAT_A=drop NAT_B=drop DELAY_MS=20 HOMES=3 NAT_C=drop"
if NAT_A=drop NAT_B=drop DELAY_MS=20 HOMES=3 NAT_C=drop lab_up; then
    lt_ok "lab up with taplink"
    # min RTT: the delay itself; avg also holds scheduling noise on a loaded machine
    rtt=$(lab_exec hostA ping -c 10 -i 0.2 -q "$LAB_IP_NATB_WAN" | awk -F'[/ ]' '/^rtt/ {print $7 "/" $8}')
    lt_check "RTT hostA -> natB's WAN is about 4 x 20 ms (min/avg ${rtt:-none} ms)" \
        awk -v r="${rtt%%/*}" 'BEGIN {exit !(r >= 79 && r <= 95)}'
    lt_eq "STUN through the delay links" "$LAB_IP_NATA_WAN:40100" "$(lab_stun hostA "$LAB_IP_STUN1" 40100)"
    rtt=$(lab_exec hostB ping -c 10 -i 0.2 -q "$LAB_IP_NATC_WAN" | awk -F'[/ ]' '/^rtt/ {print $7 "/" $8}')
    lt_check "RTT hostB -> natC's WAN (third home) is about 4 x 20 ms (min/avg ${rtt:-none} ms)" \
        awk -v r="${rtt%%/*}" 'BEGIN {exit !(r >= 79 && r <= 95)}'
    lt_eq "STUN from hostC through its delay link" "$LAB_IP_NATC_WAN:40100" \
        "$(lab_stun hostC "$LAB_IP_STUN2" 40100)"

    so_punch hostA $PORT_SO "$LAB_IP_NATB_WAN" $((PORT_SO + 1)) from-A "$TMPD/soA2" 20 &
    pa=$!
    so_punch hostB $((PORT_SO + 1)) "$LAB_IP_NATA_WAN" $PORT_SO from-B "$TMPD/soB2" 20
    wait $pa
    lt_eq "simultaneous open drop/drop DELAY 20: A got B's line" from-B "$(cat "$TMPD/soA2" 2>/dev/null)"
    lt_eq "simultaneous open drop/drop DELAY 20: B got A's line" from-A "$(cat "$TMPD/soB2" 2>/dev/null)"
    tl="$(lab_rundir)/taplink-natC-inet.pid"
    lt_check "the third home's WAN link is a taplink (running)" \
        bash -c "[[ -f $tl ]] && grep -q taplink /proc/\$(cat $tl)/cmdline"
    so_punch hostB $((PORT_SO + 4)) "$LAB_IP_NATC_WAN" $((PORT_SO + 5)) from-B "$TMPD/soBC" 20 &
    pa=$!
    so_punch hostC $((PORT_SO + 5)) "$LAB_IP_NATB_WAN" $((PORT_SO + 4)) from-C "$TMPD/soCB" 20
    wait $pa
    lt_eq "simultaneous open B <-> C drop/drop DELAY 20: B got C's line" from-C "$(cat "$TMPD/soBC" 2>/dev/null)"
    lt_eq "simultaneous open B <-> C drop/drop DELAY 20: C got B's line" from-B "$(cat "$TMPD/soCB" 2>/dev/null)"

    # A second lab at the same time (symmetric NAT on A): both must work side by side.
    LAB_ID=${IDS[2]}
    if NAT_A=symmetric NAT_B=drop DELAY_MS=0 lab_up; then
        lt_ok "second lab $LAB_ID up beside ${IDS[1]}"
        lt_eq "the default lab has two homes (hostA natA inet natB hostB stun; no natC/hostC)" 6 \
            "$(ip netns list | grep -c "^$LAB_ID-")"
        s1=$(lab_stun hostA "$LAB_IP_STUN1" 40100)
        s2=$(lab_stun hostA "$LAB_IP_STUN2" 40100)
        lt_check "NAT symmetric: two servers see two different ports ($s1, $s2)" \
            test -n "$s1" -a -n "$s2" -a "$s1" != "$s2"
        LAB_ID=${IDS[1]}
        lt_eq "first lab still answers STUN" "$LAB_IP_NATA_WAN:40101" \
            "$(lab_stun hostA "$LAB_IP_STUN2" 40101)"
    else
        lt_fail "second lab up"
    fi
else
    lt_fail "lab up with taplink"
fi

# ---------------------------------------------------------------------------------------------
LAB_ID=${IDS[3]}
lt_log "== lab $LAB_ID: IPv6: NAT_A=drop V6_A=drop, NAT_B=rst V6_B=rst, HOMES=3 NAT_C=off V6_C=drop"
if NAT_A=drop NAT_B=rst LAB_V6=drop V6_B=rst HOMES=3 NAT_C=off DELAY_MS=0 lab_up; then
    lt_ok "lab up with IPv6"
    lt_eq "STUN over IPv6 from hostA via $LAB_IP6_STUN1: hostA's own address (no NAT), port kept" \
        "[$LAB_IP6_HOSTA]:40200" "$(lab_stun hostA "$LAB_IP6_STUN1" 40200)"
    lt_eq "STUN over IPv6 from hostB via $LAB_IP6_STUN2: hostB's own address" \
        "[$LAB_IP6_HOSTB]:40201" "$(lab_stun hostB "$LAB_IP6_STUN2" 40201)"
    lt_eq "dual-stack: STUN over IPv4 from hostA still sees natA's WAN address" \
        "$LAB_IP_NATA_WAN:40202" "$(lab_stun hostA "$LAB_IP_STUN1" 40202)"
    err=$(lab_exec hostB timeout 5 socat -u /dev/null "TCP6:[$LAB_IP6_HOSTA]:45010,connect-timeout=2" 2>&1)
    lt_match "IPv6 drop firewall: unsolicited SYN to hostA gets no answer" 'timed out' "$err"
    err=$(lab_exec hostA timeout 5 socat -u /dev/null "TCP6:[$LAB_IP6_HOSTB]:45010,connect-timeout=2" 2>&1)
    lt_match "IPv6 rst firewall: unsolicited SYN to hostB gets a reset" 'refused' "$err"
    # a listener on hostA is still closed to the outside: the firewall, not the host, decides
    lab_exec hostA timeout 6 socat -u TCP6-LISTEN:45011,reuseaddr - >/dev/null 2>&1 &
    sleep 0.3
    err=$(echo x | lab_exec hostB timeout 5 socat -u - "TCP6:[$LAB_IP6_HOSTA]:45011,connect-timeout=2" 2>&1)
    lt_match "IPv6 drop firewall: hostA's open port is not reachable from hostB" 'timed out' "$err"
    lt_check "ping -6 hostA -> natB's WAN address works (routed, ICMPv6 allowed)" \
        bash -c "ip netns exec $(lab_ns hostA) ping -6 -c 1 -W 2 $LAB_IP6_NATB_WAN >/dev/null"
    so_punch hostA $((PORT_SO + 10)) "$LAB_IP6_HOSTB" $((PORT_SO + 11)) from-A "$TMPD/so6A" 15 &
    pa=$!
    so_punch hostB $((PORT_SO + 11)) "$LAB_IP6_HOSTA" $((PORT_SO + 10)) from-B "$TMPD/so6B" 15
    wait $pa
    lt_eq "IPv6 simultaneous open drop/rst: A got B's line" from-B "$(cat "$TMPD/so6A" 2>/dev/null)"
    lt_eq "IPv6 simultaneous open drop/rst: B got A's line" from-A "$(cat "$TMPD/so6B" 2>/dev/null)"
    # The IPv6-only home: natC forwards no IPv4.
    lt_eq "IPv6-only home: STUN over IPv6 from hostC" "[$LAB_IP6_HOSTC]:40203" \
        "$(lab_stun hostC "$LAB_IP6_STUN1" 40203)"
    lt_check "IPv6-only home: STUN over IPv4 from hostC fails" \
        bash -c "! ip netns exec $(lab_ns hostC) timeout 4 socat -u /dev/null \
            TCP:$LAB_IP_STUN1:$LAB_STUN_PORT,connect-timeout=2 2>/dev/null"
else
    lt_fail "lab up with IPv6"
fi

# ---------------------------------------------------------------------------------------------
lt_log "== teardown"
pids=()
for id in "${IDS[@]}"; do
    for f in "${LAB_STATE_ROOT:-/tmp}/punchline-lab.$id"/*.pid; do
        [[ -f "$f" ]] && pids+=("$(cat "$f")")
    done
done
lt_check "lab processes were running (${#pids[@]})" test "${#pids[@]}" -ge 6
t0=$SECONDS
cleanup
lt_ok "teardown took $((SECONDS - t0)) s"
left=$(ip netns list | grep -E "^(${IDS[0]}|${IDS[1]}|${IDS[2]}|${IDS[3]})-" || true)
lt_eq "no namespaces left" "" "$left"
alive=""
for p in "${pids[@]}"; do _lab_alive "$p" && alive+=" $p"; done
lt_eq "no lab processes left" "" "$alive"
for id in "${IDS[@]}"; do
    lt_check "run dir of $id removed" test ! -e "${LAB_STATE_ROOT:-/tmp}/punchline-lab.$id"
done
LAB_ID=${IDS[0]}
lt_check "down is idempotent" lab_down
lt_finish
