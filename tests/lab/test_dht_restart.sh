#!/usr/bin/env bash
# Friends reconnect by themselves after both apps restart: a one-way paste through the lab's
# DHT (LAB_DHT=3, drop/drop) makes A and B friends; both are stopped, then both start again
# with the same profiles and no --peer at all. Each must find the other through the DHT
# (`connected` with via dht) without anyone doing anything; the time is printed.
# Env: LAB_DELAY (default 0).
set -u
source "$(dirname "$0")/lab_test.sh"
lt_require_cli
lt_init
LAB_DHT=3 lt_lab_up drop drop "${LAB_DELAY:-0}"
lt_dht_args
lt_log "== first contact: one-way paste, A accepts everyone"
lt_dht_oneway all
lt_wait_event A '.event == "connected"' 60 >/dev/null
lt_wait_event B '.event == "connected"' 30 >/dev/null
lt_eq "A: first connection via" dht "$(lt_field A connected .via)"
lt_eq "B: first connection via" paste "$(lt_field B connected .via)"
b_fp=$(lt_field A connected .peer_fingerprint)
a_fp=$(lt_field B connected .peer_fingerprint)
# Let the pair secret reach the profiles (it is saved when the session starts).
sleep 2
lt_stop A
lt_stop B
((LT_FAIL)) && { lt_dump A; lt_dump B; lt_finish; }
mv "$LT_TMP/A.out" "$LT_TMP/A.first.out"
mv "$LT_TMP/B.out" "$LT_TMP/B.first.out"
rm -f "$LT_TMP/A.in" "$LT_TMP/B.in"
sleep 2

for round in 1 2; do
    lt_log "== restart $round: both start again, no --peer"
    t0=$(lt_now)
    lt_cli_start A hostA 41000 "${LT_DHT_ARGS[@]}" --accept-friends none
    lt_cli_start B hostB 42000 "${LT_DHT_ARGS[@]}" --accept-friends none
    lt_wait_event A '.event == "connected"' 90 >/dev/null
    lt_wait_event B '.event == "connected"' 10 >/dev/null
    lt_log "restart $round: both started to both connected: $(lt_since "$t0") s"
    for side in A B; do
        lt_eq "$side: reconnected via" dht "$(lt_field "$side" connected .via)"
    done
    lt_eq "A: the peer is B" "$b_fp" "$(lt_field A connected .peer_fingerprint)"
    lt_eq "B: the peer is A" "$a_fp" "$(lt_field B connected .peer_fingerprint)"
    lt_cli_say A "hello again from A $round"
    lt_cli_say B "hello again from B $round"
    lt_wait_event B ".event == \"message\" and .text == \"hello again from A $round\"" 20 >/dev/null
    lt_wait_event A ".event == \"message\" and .text == \"hello again from B $round\"" 20 >/dev/null
    lt_check_message A B "hello again from A $round"
    lt_check_message B A "hello again from B $round"
    lt_stop A
    lt_stop B
    ((LT_FAIL)) && { lt_dump A; lt_dump B; break; }
    for side in A B; do mv "$LT_TMP/$side.out" "$LT_TMP/$side.round$round.out"; rm -f "$LT_TMP/$side.in"; done
    sleep 2
done
lt_finish
