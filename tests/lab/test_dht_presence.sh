#!/usr/bin/env bash
# B goes offline for a while, then comes back (friends from a one-way paste through the lab's
# DHT, drop/drop): when B's app closes, A shows B offline (`presence` online=false, from B's
# "going offline" record or the lost session); when B starts again (same profile, no --peer),
# A shows B online (`presence` online=true) and both are connected again by themselves.
set -u
source "$(dirname "$0")/lab_test.sh"
lt_require_cli
lt_init
LAB_DHT=3 lt_lab_up drop drop 0
lt_dht_args
lt_log "== first contact: one-way paste, A accepts everyone"
lt_dht_oneway all
lt_wait_event A '.event == "connected"' 60 >/dev/null
lt_wait_event B '.event == "connected"' 30 >/dev/null
b_fp=$(lt_field A connected .peer_fingerprint)
sleep 3
lt_log "== B closes and stays away 30 s"
t0=$(lt_now)
lt_stop B
mv "$LT_TMP/B.out" "$LT_TMP/B.first.out"
rm -f "$LT_TMP/B.in"
if ev=$(lt_wait_event A ".event == \"presence\" and .online == false and .peer == \"$b_fp\"" 30); then
    lt_ok "A: B offline $(lt_since "$t0") s after B closed (since $(jq -r .since <<<"$ev"))"
else
    lt_fail "A: no presence online=false for B within 30 s"
fi
sleep 25
lt_check "A still running" lt_alive A
lt_log "== B back"
t1=$(lt_now)
lt_cli_start B hostB 42000 "${LT_DHT_ARGS[@]}" --accept-friends none
if lt_wait_count A ".event == \"presence\" and .online == true and .peer == \"$b_fp\"" 1 60; then
    lt_ok "A: B online again $(lt_since "$t1") s after B started"
else
    lt_fail "A: no presence online=true for B within 60 s"
fi
if lt_wait_count A '.event == "connected"' 2 60 && lt_wait_event B '.event == "connected"' 10 >/dev/null; then
    lt_ok "reconnected $(lt_since "$t1") s after B started"
else
    lt_fail "not reconnected within 60 s of B's start"
fi
lt_eq "B: reconnected via" dht "$(lt_field B connected .via)"
# The order A saw: online (first contact or later), offline, online.
lt_eq "A: presence sequence for B ends offline,online" "false,true" \
    "$(lt_events A "select(.event == \"presence\" and .peer == \"$b_fp\") | .online" | tail -n 2 | paste -sd,)"
lt_cli_say B "B is back"
lt_wait_event A '.event == "message" and .text == "B is back"' 20 >/dev/null
lt_check_message B A "B is back"
((LT_FAIL)) && { lt_dump A; lt_dump B; }
lt_finish
