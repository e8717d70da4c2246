#!/usr/bin/env bash
# IPv6-only homes (no IPv4 service) behind stateful firewalls that drop unsolicited inbound, at
# DELAY_MS 20 (RTT 80 ms): the hosts' global 2001:db8:: addresses are candidates, STUN over IPv6
# shows each host its own address (no NAT), and both connect directly over IPv6: the connected
# event's remote is the peer's IPv6 address.
set -u
source "$(dirname "$0")/lab_test.sh"
lt_require_cli
lt_init
lt_log "== IPv6 only, firewalls drop/drop, DELAY_MS=20"
lt_v6_lab_up off off drop drop 20
lt_v6_pair_start 60
lt_v6_pair_check "[$LAB_IP6_HOSTB]:42000" "[$LAB_IP6_HOSTA]:41000" 90
lt_eq "A: public address is its own IPv6 address (STUN over IPv6)" "[$LAB_IP6_HOSTA]:41000" \
    "$(lt_field A addresses .public)"
lt_eq "B: public address is its own IPv6 address (STUN over IPv6)" "[$LAB_IP6_HOSTB]:42000" \
    "$(lt_field B addresses .public)"
lt_finish
