#!/usr/bin/env bash
# NAT rst/rst (unsolicited SYNs answered with RST) at DELAY_MS 20: codes swapped together must
# connect. Stretch goal, reported but not counted: B gets A's code 10 s late.
# Env: LAB_STRETCH=0 skips the stretch scenario.
set -u
source "$(dirname "$0")/lab_test.sh"
lt_require_cli
lt_init
lt_log "== rst/rst, DELAY_MS=20, codes swapped together"
lt_lab_up rst rst 20
lt_pair_start 0 60
lt_pair_check "$LAB_IP_NATA_WAN" "$LAB_IP_NATB_WAN" direct 90
lt_reset_clis
if [[ "${LAB_STRETCH:-1}" != 0 ]]; then
    lt_log "== stretch: rst/rst, DELAY_MS=20, B gets A's code 10 s late"
    lt_lab_up rst rst 20
    lt_stretch_begin
    lt_pair_start 10 60
    lt_pair_check "$LAB_IP_NATA_WAN" "$LAB_IP_NATB_WAN" direct 100
    lt_stretch_end "rst/rst DELAY_MS=20 late paste 10 s"
    lt_reset_clis
fi
lt_finish
