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
LT_B_ARGS=(--say "hello from A2" --exit-when-done)
lt_log "== LAN only: A waits, A2 pastes A's code"
lt_dht_oneway all --say "hello from A" --exit-when-done
LT_B_ARGS=()
lt_cli_wait A 90
lt_cli_wait B 15
lt_eq "A exit code" 0 "${LT_RC[A]}"
lt_eq "A2 exit code" 0 "${LT_RC[B]}"
lt_log "paste to done: $(lt_since "$LT_B_PASTE") s"
lt_check_connected A lan "$LAB_IP_HOSTA2"
lt_check_connected B lan "$LAB_IP_HOSTA"
lt_eq "A: via" dht "$(lt_field A connected .via)"
lt_eq "A2: via" paste "$(lt_field B connected .via)"
lt_check_message A B "hello from A"
lt_check_message B A "hello from A2"
for side in A B; do
    lt_match "$side: dht status: this network only" 'local network only' \
        "$(lt_events "$side" 'select(.event == "dht" and .online == true) | .status' | head -n 1)"
done
((LT_FAIL)) && { lt_dump A; lt_dump B; }
lt_finish
