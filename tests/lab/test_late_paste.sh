#!/usr/bin/env bash
# NAT drop/drop at DELAY_MS 20: A gets B's code at once, B gets A's code 10 s late (and 60 s
# late unless LAB_LONG=0): A must keep its punching going until B shows up.
# Env: LAB_LONG=0 skips the 60 s variant; LAB_LATE (default "10 60" or "10").
set -u
source "$(dirname "$0")/lab_test.sh"
lt_require_cli
lt_init
lates=${LAB_LATE:-}
if [[ -z "$lates" ]]; then
    lates="10 60"
    [[ "${LAB_LONG:-1}" == 0 ]] && lates="10"
fi
for late in $lates; do
    lt_log "== drop/drop, DELAY_MS=20, B gets A's code $late s late"
    lt_lab_up drop drop 20
    lt_pair_start "$late" $((late + 50))
    lt_pair_check "$LAB_IP_NATA_WAN" "$LAB_IP_NATB_WAN" direct $((late + 90))
    lt_reset_clis
done
lt_finish
