#!/usr/bin/env bash
# The real NAT-PMP (libnatpmp) and UPnP IGD (miniupnpc) backends of PortMapper against miniupnpd
# on natA (tests/unit/tst_portmapper labRouter, run inside hostA). Per router mode: the protocol
# that must map, the mapping visible in the router's DNAT rules while it is held, a symmetric-NAT
# hostB reaching hostA through it, and the mapping gone from the router after stop() (bounded
# at 1.5 s). Without miniupnpd: "your router does not offer port mapping", and how long finding
# that out took. Mode upnp-conflict: hostA2 holds external port 41000 already (upnpc), so the
# router refuses it to hostA (UPnP 718) and the backend takes another port.
# Env: PORTMAP_MODES (default "1 upnp natpmp upnp-conflict 0").
set -u
source "$(dirname "$0")/lab_test.sh"
lt_init
TST=${PUNCHLINE_BINARY_DIR:-$LT_DIR/../../build}/tests/tst_portmapper
[[ -x "$TST" ]] || { echo "tst_portmapper not found at $TST"; exit 77; }
command -v miniupnpd >/dev/null || { echo "miniupnpd is needed (apt-get install miniupnpd-nftables)"; exit 77; }
PORT=41000

for mode in ${PORTMAP_MODES:-1 upnp natpmp upnp-conflict 0}; do
    case "$mode" in
    1 | natpmp) expected=NAT-PMP ;; # both offered: NAT-PMP is asked first and wins
    upnp | upnp-conflict) expected=UPnP ;;
    0) expected=none ;;
    esac
    lt_log "== natA: miniupnpd mode '$mode' (0: none), expected: $expected"
    held=""
    if [[ $mode == upnp-conflict ]]; then
        UPNP_A=upnp lt_lab_up symmetric symmetric 0 1
        lab_exec hostA2 timeout 20 upnpc -i -a "$LAB_IP_HOSTA2" $PORT $PORT TCP 3600 >/dev/null 2>&1
        held="TCP $PORT $LAB_IP_HOSTA2 $PORT"
        lt_eq "hostA2 holds port $PORT on the router" "$held" "$(lab_upnp_list A)"
    else
        UPNP_A=$mode lt_lab_up symmetric symmetric 0
    fi
    out="$LT_TMP/tst-$mode.out"
    ip netns exec "$(lab_ns hostA)" env PUNCHLINE_LAB_PORTMAP="$expected" \
        PUNCHLINE_LAB_PORTMAP_PORT=$PORT PUNCHLINE_LAB_PORTMAP_HOLD_MS=4000 \
        timeout 60 "$TST" labRouter >"$out" 2>&1 &
    pid=$!
    for ((i = 0; i < 250; i++)); do
        grep -q '^portmap: state=' "$out" && break
        sleep 0.1
    done
    line=$(grep '^portmap: state=' "$out")
    lt_log "$line"
    if [[ $expected == none ]]; then
        lt_match "no router: says so" 'state=unavailable .*text=your router does not offer port mapping' "$line"
    else
        ext=$PORT
        if [[ -n $held ]]; then
            [[ $line =~ external=[0-9.]+:([0-9]+) ]] && ext=${BASH_REMATCH[1]}
            lt_check "another external port than hostA2's ($ext)" test "$ext" != $PORT
        fi
        lt_match "$expected mapped $ext at natA's WAN address" \
            "state=mapped protocol=$expected external=${LAB_IP_NATA_WAN//./\\.}:$ext " "$line"
        lt_eq "router holds the mapping" "TCP $ext $LAB_IP_HOSTA $PORT" \
            "$(lab_upnp_list A | grep -v "$LAB_IP_HOSTA2")"
        # hostB, behind a symmetric NAT, reaches hostA's port through the mapping.
        lab_exec hostA timeout 3 socat -T2 "TCP-LISTEN:$PORT,reuseaddr" - <<<"A-through-mapping" \
            >"$LT_TMP/listen.out" 2>&1 &
        listener=$!
        sleep 0.3
        got=$(echo B | lab_exec hostB timeout 3 socat -T2 - "TCP:$LAB_IP_NATA_WAN:$ext,connect-timeout=2" 2>&1)
        lt_eq "hostB connects to $LAB_IP_NATA_WAN:$ext through the mapping" A-through-mapping "$got"
        wait "$listener"
    fi
    wait "$pid"
    rc=$?
    lt_eq "tst_portmapper labRouter passed" 0 "$rc"
    [[ $expected != none ]] && lt_log "$(grep '^portmap: stopped' "$out")"
    if [[ $mode != 0 ]]; then
        lt_eq "the mapping is gone from the router after stop()" "$held" "$(lab_upnp_list A)"
    fi
    if [[ $LT_FAIL -gt 0 ]]; then
        sed 's/^/#   /' "$out" | tail -n 30
        [[ -f "$(lab_rundir)/miniupnpd-A.log" ]] && tail -n 30 "$(lab_rundir)/miniupnpd-A.log" | sed 's/^/#   miniupnpd: /'
    fi
done
lt_finish
