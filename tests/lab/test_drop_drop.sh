#!/usr/bin/env bash
# NAT drop/drop at DELAY_MS 0 and 20 (RTT 80 ms): codes swapped at once through files; both
# connect directly, report their NAT's WAN address as public with an endpoint-independent NAT,
# messages cross both ways with delivery receipts, and both exit 0.
# Env: LAB_DELAYS (default "0 20").
set -u
source "$(dirname "$0")/lab_test.sh"
lt_require_cli
lt_init
for delay in ${LAB_DELAYS:-0 20}; do
    lt_log "== drop/drop, DELAY_MS=$delay, codes swapped together"
    lt_lab_up drop drop "$delay"
    lt_pair_start 0 60
    lt_pair_check "$LAB_IP_NATA_WAN" "$LAB_IP_NATB_WAN" direct 90
    lt_reset_clis
done
lt_finish
