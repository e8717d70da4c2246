#!/usr/bin/env bash
# Mixed NATs: A behind a dropping NAT, B behind a NAT that answers unsolicited SYNs with RST.
# DELAY_MS 0 with codes swapped together; DELAY_MS 20 with B (the RST side) getting A's code
# 10 s late, so A's early SYNs are answered with RSTs for 10 s.
set -u
source "$(dirname "$0")/lab_test.sh"
lt_require_cli
lt_init
lt_log "== drop/rst, DELAY_MS=0, codes swapped together"
lt_lab_up drop rst 0
lt_pair_start 0 60
lt_pair_check "$LAB_IP_NATA_WAN" "$LAB_IP_NATB_WAN" direct 90
lt_reset_clis
lt_log "== drop/rst, DELAY_MS=20, B gets A's code 10 s late"
lt_lab_up drop rst 20
lt_pair_start 10 60
lt_pair_check "$LAB_IP_NATA_WAN" "$LAB_IP_NATB_WAN" direct 100
lt_reset_clis
lt_finish
