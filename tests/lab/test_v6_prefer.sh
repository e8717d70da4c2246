#!/usr/bin/env bash
# Both homes have working IPv4 (NAT drop/drop) and IPv6 (firewalls drop/drop), at DELAY_MS 20:
# both paths can be punched, and IPv6 must win every time (the puncher dials IPv6 candidates
# first and IPv4 after a head start, like Happy Eyeballs, RFC 8305).
# Env: V6_PREFER_RUNS (default 3).
set -u
source "$(dirname "$0")/lab_test.sh"
lt_require_cli
lt_init
for ((run = 1; run <= ${V6_PREFER_RUNS:-3}; run++)); do
    lt_log "== run $run: IPv4 drop/drop and IPv6 drop/drop, DELAY_MS=20"
    lt_v6_lab_up drop drop drop drop 20
    lt_v6_pair_start 60
    lt_v6_pair_check "[$LAB_IP6_HOSTB]:42000" "[$LAB_IP6_HOSTA]:41000" 90
    lt_reset_clis
done
lt_finish
