#!/usr/bin/env bash
# The friend finder cannot reach any DHT node (the lab's three dhtnodes are stopped before the
# apps start): each app says so plainly (`dht` event online=false, "friend finder offline ...
# paste both codes"), and pasting both codes still connects, directly through both drop NATs.
set -u
source "$(dirname "$0")/lab_test.sh"
lt_require_cli
lt_init
LAB_DHT=3 lt_lab_up drop drop 0
lt_dht_args
for k in 1 2 3; do lab_dht_stop "$k"; done
lt_log "== all DHT nodes stopped; two-way paste"
# Each side gets the other's code only once both said "offline" (that takes
# DhtClient::OfflineAfterMs, 8 s): a paste after the status, as a user would.
lt_cli_start A hostA 41000 "${LT_DHT_ARGS[@]}" --write-code "$LT_TMP/A.code" \
    --peer "@$LT_TMP/B.code.late" --say "hello from A" --timeout 60 --exit-when-done
lt_cli_start B hostB 42000 "${LT_DHT_ARGS[@]}" --write-code "$LT_TMP/B.code" \
    --peer "@$LT_TMP/A.code.late" --say "hello from B" --timeout 60 --exit-when-done
offline='.event == "dht" and .online == false and (.status | startswith("friend finder offline"))'
t0=$(lt_now)
lt_wait_event A "$offline" 30 >/dev/null
lt_wait_event B "$offline" 10 >/dev/null
lt_log "offline status after $(lt_since "$t0") s"
cp "$LT_TMP/A.code" "$LT_TMP/A.code.late"
cp "$LT_TMP/B.code" "$LT_TMP/B.code.late"
lt_pair_check "$LAB_IP_NATA_WAN" "$LAB_IP_NATB_WAN" direct 90
for side in A B; do
    ev=$(lt_events "$side" 'select(.event == "dht" and (.status | startswith("friend finder offline")))' | head -n 1)
    lt_eq "$side: dht event online" false "$(jq -r '.online' <<<"$ev")"
    lt_match "$side: dht status says offline and what to do" \
        '^friend finder offline .*198\.51\.100\.20:4222.*paste both codes' "$(jq -r '.status' <<<"$ev")"
    lt_eq "$side: never online" 0 "$(lt_count "$side" '.event == "dht" and .online == true')"
    lt_eq "$side: via" paste "$(lt_field "$side" connected .via)"
    lt_eq "$side: no error but rendezvous-offline" "" \
        "$(lt_events "$side" 'select(.event == "error" and .code != "rendezvous-offline") | .code' | tr '\n' ' ')"
done
((LT_FAIL)) && { lt_dump A; lt_dump B; }
lt_finish
