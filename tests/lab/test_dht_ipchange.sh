#!/usr/bin/env bash
# A's home gets a new public IP address while A and B are connected (friends from a one-way
# paste through the lab's DHT, drop/drop): natA's WAN moves from 203.0.113.2 to 203.0.113.3
# (new address added, old one removed, MASQUERADE now uses the new one; conntrack forgets the
# old flows, as on a real re-dial of a home line). A must notice its new public address (time
# printed: IPCHANGE_NOTICE_S), and A and B must be connected again by themselves within
# LAB_IPCHANGE_BOUND seconds (default 30; measured and printed: A heals at once when it learns
# its new address, B when A's newer record no longer lists its session's remote and a ping goes
# unanswered; before that both waited for the 45 s silence limit and the bound was 90), after
# which a chat line crosses both ways.
# Env: LAB_DELAY (default 0), LAB_IPCHANGE_BOUND.
set -u
source "$(dirname "$0")/lab_test.sh"
lt_require_cli
lt_init
bound=${LAB_IPCHANGE_BOUND:-30}
new_ip=203.0.113.3
LAB_DHT=3 lt_lab_up drop drop "${LAB_DELAY:-0}"
lt_dht_args
lt_log "== first contact: one-way paste, A accepts everyone"
lt_dht_oneway all
lt_wait_event A '.event == "connected"' 60 >/dev/null
lt_wait_event B '.event == "connected"' 30 >/dev/null
lt_eq "A: connected via" dht "$(lt_field A connected .via)"
sleep 3

# lt_readdress_nat_a NEW_IP: natA's WAN address becomes NEW_IP (same /28 as inet's end, so no
# route changes on inet).
lt_readdress_nat_a() {
    local ns
    ns=$(lab_ns natA)
    ip netns exec "$ns" sysctl -qw net.ipv4.conf.wan.promote_secondaries=1 &&
        ip -n "$ns" addr add "$1/28" dev wan &&
        ip -n "$ns" addr del "$LAB_IP_NATA_WAN/28" dev wan &&
        ip -n "$ns" route replace default via "$LAB_IP_INET_A" dev wan
}
lt_log "== natA's public address: $LAB_IP_NATA_WAN -> $new_ip"
t0=$(lt_now)
lt_check "natA re-addressed" lt_readdress_nat_a "$new_ip"
if lt_wait_event A '.event == "addresses" and (.public // "" | startswith("'"$new_ip"':"))' "$bound" >/dev/null; then
    notice=$(lt_since "$t0")
    lt_log "A learned its new public address $notice s after the IP change"
    echo "IPCHANGE_NOTICE_S=$notice"
fi
if lt_wait_count A '.event == "connected"' 2 "$bound" && lt_wait_count B '.event == "connected"' 2 10; then
    took=$(lt_since "$t0")
    lt_ok "reconnected $took s after the IP change (bound $bound s)"
    echo "IPCHANGE_RECONNECT_S=$took"
else
    lt_fail "not reconnected within $bound s of the IP change"
fi
ev=$(lt_events A 'select(.event == "addresses" and (.public // "" | startswith("'"$new_ip"':")))' | head -n 1)
lt_check "A: reported its new public address $new_ip" test -n "$ev"
lt_match "B: now connected to A's new address" "^${new_ip//./\\.}:[0-9]+$" \
    "$(lt_events B 'select(.event == "connected") | .remote' | tail -n 1 | jq -r .)"
lt_log "second connected: A via $(lt_events A 'select(.event == "connected") | .via' | tail -n 1), B via $(lt_events B 'select(.event == "connected") | .via' | tail -n 1), resumed $(lt_events A 'select(.event == "connected") | .resumed' | tail -n 1)"
lt_cli_say A "after the move from A"
lt_cli_say B "after the move from B"
lt_wait_event B '.event == "message" and .text == "after the move from A"' 20 >/dev/null
lt_wait_event A '.event == "message" and .text == "after the move from B"' 20 >/dev/null
lt_check_message A B "after the move from A"
lt_check_message B A "after the move from B"
((LT_FAIL)) && { lt_dump A; lt_dump B; }
lt_finish
