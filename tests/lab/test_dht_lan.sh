#!/usr/bin/env bash
# Same network, no DHT node on the Internet (LAB_DHT=0): hostA and hostA2 on one LAN (SAME_LAN=1)
# both run with --dht lan (local peer discovery only). The DHT forms between the two apps, the
# friend finder says it works on this network only, and a one-way paste (A waits, A2 pastes A's
# code) connects them over the LAN.
set -u
source "$(dirname "$0")/lab_test.sh"
lt_require_cli
lt_init
LAB_DHT=0 lt_lab_up drop drop 0 1
LT_DHT_ARGS=(--dht lan)
LT_B_HOST=hostA2
# Both stay up (no --exit-when-done): over a LAN they connect in well under a second, before
# the friend finder's first status poll (1 s), and its status is part of what is checked.
LT_B_ARGS=(--say "hello from A2")
lt_log "== LAN only: A waits, A2 pastes A's code"
lt_dht_oneway all --say "hello from A"
LT_B_ARGS=()
lt_wait_event A '.event == "delivered"' 60 >/dev/null
lt_wait_event B '.event == "delivered"' 15 >/dev/null
lt_log "paste to both messages delivered: $(lt_since "$LT_B_PASTE") s"
lt_check_connected A lan "$LAB_IP_HOSTA2"
lt_check_connected B lan "$LAB_IP_HOSTA"
lt_eq "A: via" dht "$(lt_field A connected .via)"
lt_eq "A2: via" paste "$(lt_field B connected .via)"
lt_check_message A B "hello from A"
lt_check_message B A "hello from A2"
online='.event == "dht" and .online == true'
for side in A B; do
    lt_wait_event "$side" "$online" 15 >/dev/null
    lt_match "$side: dht status: this network only" 'local network only' \
        "$(lt_events "$side" "select($online) | .status" | head -n 1)"
done
lt_stop A
lt_stop B
lt_eq "A exit code after TERM" 0 "${LT_RC[A]}"
lt_eq "A2 exit code after TERM" 0 "${LT_RC[B]}"
((LT_FAIL)) && { lt_dump A; lt_dump B; }
lt_finish
