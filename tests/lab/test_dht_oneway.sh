#!/usr/bin/env bash
# One-way paste through the lab's OpenDHT nodes (LAB_DHT=3), both homes behind drop NATs: A only
# waits (no --peer, --accept-friends ask); B pastes A's code. A is asked (`request` with B's
# fingerprint and name), the test accepts on A's stdin, both connect (A: via dht, not pinned,
# it trusts B on first use; B: via paste, pinned by the code) and a chat line crosses both ways.
# Then A with --accept-friends none: B gets error request-declined and gives up.
# Env: LAB_DELAY (default 0).
set -u
source "$(dirname "$0")/lab_test.sh"
lt_require_cli
lt_init
LAB_DHT=3 lt_lab_up drop drop "${LAB_DELAY:-0}"
lt_dht_args

lt_log "== ask: B pastes A's code, A accepts on stdin"
LT_B_ARGS=(--say "hello from B" --exit-when-done)
lt_dht_oneway ask --say "hello from A" --exit-when-done
LT_B_ARGS=()
fp=$(lt_answer_request A 60)
if [[ -n "$fp" ]]; then
    lt_ok "A: request event after $(lt_since "$LT_B_PASTE") s"
    req=$(lt_event A request)
    b_fp=$(lt_wait_event B '.event == "addresses"' 5 | jq -r '.fingerprint')
    lt_eq "A: request names B's fingerprint" "$b_fp" "$(jq -r '.peer' <<<"$req")"
    lt_eq "A: request names B" B "$(jq -r '.name' <<<"$req")"
else
    lt_fail "A: no request event within 60 s of B's paste"
fi
lt_wait_event A '.event == "connected"' 60 >/dev/null
lt_wait_event B '.event == "connected"' 30 >/dev/null
lt_log "paste to connected: $(lt_since "$LT_B_PASTE") s"
lt_cli_wait A 40
lt_cli_wait B 15
lt_eq "A exit code" 0 "${LT_RC[A]}"
lt_eq "B exit code" 0 "${LT_RC[B]}"
lt_check_connected A direct "$LAB_IP_NATB_WAN"
lt_check_connected B direct "$LAB_IP_NATA_WAN"
lt_eq "A: via" dht "$(lt_field A connected .via)"
lt_eq "A: pinned" false "$(lt_events A 'select(.event == "connected") | .pinned' | head -n 1)"
lt_eq "B: via" paste "$(lt_field B connected .via)"
lt_eq "B: pinned" true "$(lt_events B 'select(.event == "connected") | .pinned' | head -n 1)"
lt_eq "A: peer is B's fingerprint" "$b_fp" "$(lt_field A connected .peer_fingerprint)"
lt_check_message A B "hello from A"
lt_check_message B A "hello from B"
lt_check "A: code_expires in addresses" test -n "$(lt_field A addresses .code_expires)"
((LT_FAIL)) && { lt_dump A; lt_dump B; }
lt_reset_clis

lt_log "== none: A declines every new friend"
before=$LT_FAIL
lt_dht_oneway none
if ev=$(lt_wait_event B '.event == "error" and .code == "request-declined"' 60); then
    lt_ok "B: error request-declined after $(lt_since "$LT_B_PASTE") s: $(jq -r .message <<<"$ev")"
else
    lt_fail "B: no request-declined error within 60 s"
fi
lt_cli_wait B 15
lt_check "B exited by itself (not 0): ${LT_RC[B]}" test "${LT_RC[B]}" != running -a "${LT_RC[B]}" != 0
lt_eq "A: no request event" 0 "$(lt_count A '.event == "request"')"
lt_eq "A: not connected" 0 "$(lt_count A '.event == "connected"')"
((LT_FAIL > before)) && { lt_dump A; lt_dump B; }
lt_finish
