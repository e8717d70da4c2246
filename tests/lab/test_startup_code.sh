#!/usr/bin/env bash
# Issue 15 target 6: the code is ready as soon as STUN has said enough. Behind the lab's NAT
# (drop, endpoint-independent) at DELAY_MS 20, with port mapping on (the lab's routers answer
# neither UPnP nor NAT-PMP, like many home routers) and a third STUN server that never answers,
# the first code must come well before the router's 2.5 s wait and the silent server's 3 s
# timeout; then the same with mapping off for a figure to compare.
set -u
source "$(dirname "$0")/lab_test.sh"
lt_require_cli
lt_init
lt_lab_up drop drop 20
dead="198.51.100.99:$LAB_STUN_PORT" # silent: inet drops what goes there (no ICMP, as a firewall)
ip netns exec "$(lab_ns inet)" iptables -I FORWARD -d 198.51.100.99 -j DROP
for mapping in on off; do
    lt_log "== port mapping $mapping, a silent third STUN server"
    lt_cli_start A hostA 41000 --write-code "$LT_TMP/A.code" --stun "$dead" --port-mapping "$mapping"
    if lt_wait_file "$LT_TMP/A.code" 10; then
        ms=$(awk -v t0="${LT_T0[A]}" -v t1="$(stat -c %.9Y "$LT_TMP/A.code")" \
            'BEGIN {printf "%d", (t1 - t0) * 1000}')
        lt_log "code written after $ms ms"
        lt_check "code ready within 1500 ms with mapping $mapping (took $ms ms)" test "$ms" -lt 1500
        lt_check "the code's NAT is endpoint-independent" \
            test "$(lt_field A addresses .nat)" = "endpoint-independent"
    else
        lt_fail "no code within 10 s (mapping $mapping)"
    fi
    lt_reset_clis
done
lt_finish
