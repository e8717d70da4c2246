#!/usr/bin/env bash
# Two hosts behind the same NAT (hostA and hostA2 on A's LAN): they must connect over the LAN
# (path "lan", to each other's LAN address), not through the NAT.
set -u
source "$(dirname "$0")/lab_test.sh"
lt_require_cli
lt_init
lt_log "== same LAN behind natA (drop), DELAY_MS=20 on the WAN"
lt_lab_up drop drop 20 1
LT_B_HOST=hostA2
lt_pair_start 0 60
lt_pair_check "$LAB_IP_NATA_WAN" "$LAB_IP_NATA_WAN" lan 90 "$LAB_IP_HOSTA2" "$LAB_IP_HOSTA"
lt_reset_clis
lt_finish
