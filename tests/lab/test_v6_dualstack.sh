#!/usr/bin/env bash
# Dual-stack homes whose IPv4 is behind symmetric NATs on both sides (punching over IPv4 cannot
# work, see test_symmetric.sh) while IPv6 works behind dropping firewalls, at DELAY_MS 20: both
# report the symmetric NAT and still connect directly, over IPv6.
set -u
source "$(dirname "$0")/lab_test.sh"
lt_require_cli
lt_init
lt_log "== dual-stack: IPv4 symmetric/symmetric, IPv6 firewalls drop/drop, DELAY_MS=20"
lt_v6_lab_up symmetric symmetric drop drop 20
lt_v6_pair_start 60
lt_v6_pair_check "[$LAB_IP6_HOSTB]:42000" "[$LAB_IP6_HOSTA]:41000" 90
lt_eq "A: nat (IPv4)" endpoint-dependent "$(lt_field A addresses .nat)"
lt_eq "B: nat (IPv4)" endpoint-dependent "$(lt_field B addresses .nat)"
lt_match "A: public address is still the IPv4 one (where the NAT is)" \
    "^${LAB_IP_NATA_WAN//./\\.}:[0-9]+$" "$(lt_field A addresses .public)"
lt_finish
