#!/usr/bin/env bash
# Chat survives a broken link (issue 3). drop/drop lab at DELAY_MS 20 (RTT 80 ms); A and B run
# with --keepalive 1 --peer-timeout 4 --reconnect-window 60, stdin on FIFOs, and connect.
# Then:
#   1. A types two lines, 45 ms apart, and the link is cut right after the second (one is
#      usually lost in flight, the other's receipt);
#   2. the cut: in `inet`, iptables DROP in FORWARD for everything from or to natB's WAN address
#      (both directions). This is a broken upstream link: no interface changes state (so no
#      route is flushed and taplink is untouched), and neither NAT's conntrack table is
#      touched (natA and natB keep their mappings; whatever they forward dies in inet). Taking
#      an interface down instead would remove inet's connected route and bounce the TAP;
#   3. during the cut A and B each type a line;
#   4. both must report state `reconnecting` (silence > 4 s), then the cut is lifted LAB_CUT_S
#      seconds (default 3) after both did.
# Asserts: both emit a second `connected` with resumed true (first one resumed false), direct
# to the peer's public address, within 30 s of the restore; the lines typed right before the cut
# and the one typed during it are each printed by B exactly once and in that order, and A gets
# `delivered` for each; B's line typed during the cut is printed by A once and delivered; no
# message (id or text) is shown twice on either side; keepalive `rtt` events come again after
# the heal. Figures (detection and heal times) are printed as comments. Stretch (printed as
# STRETCH: PASS/FAIL, not counted): no socket of the lost connection is left on its 4-tuple
# (abortive close, ARCHITECTURE.md "Healing") and A heals within 8 s of the restore.
# Env: LAB_HEAL_DELAY (default 20), LAB_CUT_S (default 3).
set -u
source "$(dirname "$0")/lab_test.sh"
lt_require_cli
lt_init
DELAY=${LAB_HEAL_DELAY:-20}
CUT_S=${LAB_CUT_S:-3}
lt_lab_up drop drop "$DELAY"

HEAL=(--keepalive 1 --peer-timeout 4 --reconnect-window 60 --timeout 60)
lt_cli_start A hostA 41000 --write-code "$LT_TMP/A.code" --peer "@$LT_TMP/B.code" "${HEAL[@]}"
lt_cli_start B hostB 42000 --write-code "$LT_TMP/B.code" --peer "@$LT_TMP/A.code" "${HEAL[@]}"

now() { date +%s.%N; }
# nth NAME N JQ_PATH: a field of NAME's N-th connected event, raw.
nth() { lt_events "$1" "select(.event == \"connected\") | $3 | tostring" | sed -n "$2p" | jq -r .; }
since() { awk -v a="$(now)" -v b="$1" 'BEGIN{printf "%.1f", a-b}'; }
cut() { # cut add|del
    local op=-I
    [[ $1 == del ]] && op=-D
    lab_exec inet iptables -w 5 "$op" FORWARD -s "$LAB_IP_NATB_WAN" -j DROP &&
        lab_exec inet iptables -w 5 "$op" FORWARD -d "$LAB_IP_NATB_WAN" -j DROP
}
CUT_ON=0
finish() {
    if ((CUT_ON)); then cut del; fi
    lt_stop A
    lt_stop B
    if [[ $LT_FAIL -gt 0 ]]; then
        lt_dump A
        lt_dump B
    fi
    lt_finish
}

if ! lt_wait_count A '.event == "connected"' 1 60 || ! lt_wait_count B '.event == "connected"' 1 20; then
    lt_fail "A and B connect before the cut"
    finish
fi
lt_ok "A and B connected (A in $(lt_field A connected .elapsed_ms) ms)"
# A first exchange, so both sides have seen a full round trip before the cut.
lt_cli_say A "warm-up line from A"
lt_wait_count A '.event == "delivered"' 1 10
sleep 1

# Two lines just before the cut. One-way A -> B is 40 ms (inet sits 20 ms from each NAT), so
# the first, 45 ms before, usually reaches B but its receipt dies in inet; the second, right
# before, usually dies in inet itself. Either way each must show up exactly once.
BEFORE1="typed by A 45 ms before the cut"
BEFORE="typed by A right before the cut"
DURING_A="typed by A during the cut"
DURING_B="typed by B during the cut"
lt_cli_say A "$BEFORE1"
sleep 0.045
lt_cli_say A "$BEFORE"
t_cut=$(now)
if ! cut add; then
    lt_fail "iptables DROP in inet"
    finish
fi
CUT_ON=1
lt_log "link cut (inet FORWARD DROP for $LAB_IP_NATB_WAN)"
sleep 1
lt_cli_say A "$DURING_A"
lt_cli_say B "$DURING_B"

rec='.event == "state" and .state == "reconnecting"'
lt_wait_count A "$rec" 1 20 && a_rec=$(since "$t_cut") || a_rec=""
lt_wait_count B "$rec" 1 20 && b_rec=$(since "$t_cut") || b_rec=""
lt_check "A reports reconnecting during the cut (after ${a_rec:-?} s)" test -n "$a_rec"
lt_check "B reports reconnecting during the cut (after ${b_rec:-?} s)" test -n "$b_rec"
# stale SIDE_HOST PEER_PUBLIC: sockets on the old connection's 4-tuple still in the host's kernel
# (anything but a new SYN-SENT), e.g. an orphan in FIN-WAIT-1 left by a graceful close.
stale() { lab_exec "$1" ss -tanH 2>/dev/null | awk -v p="$2" '$5 == p && $1 != "SYN-SENT" {print $1 " " $4 " " $5}'; }
STALE_A=$(stale hostA "$LAB_IP_NATB_WAN:42000")
STALE_B=$(stale hostB "$LAB_IP_NATA_WAN:41000")
lt_eq "A: no second connected while the link is cut" 1 "$(lt_count A '.event == "connected"')"
lt_eq "B: nothing typed during the cut arrived while cut" 0 \
    "$(lt_count B ".event == \"message\" and .text == \"$DURING_A\"")"
sleep "$CUT_S"

cut del
CUT_ON=0
t_restore=$(now)
lt_log "link restored after $(awk -v a="$t_restore" -v b="$t_cut" 'BEGIN{printf "%.1f", a-b}') s"
lt_wait_count A '.event == "connected"' 2 30 && a_heal=$(since "$t_restore") || a_heal=""
lt_wait_count B '.event == "connected"' 2 10 && b_heal=$(since "$t_restore") || b_heal=""
lt_check "A: second connected within 30 s of the restore (${a_heal:-none} s)" test -n "$a_heal"
lt_check "B: second connected within 30 s of the restore (${b_heal:-none} s)" test -n "$b_heal"

# Let the outboxes drain, the receipts come back and any duplicate show up.
lt_wait_count B ".event == \"message\" and .text == \"$DURING_A\"" 1 15
lt_wait_count A ".event == \"message\" and .text == \"$DURING_B\"" 1 15
lt_wait_count A '.event == "delivered"' 4 15
sleep 3

for n in A B; do
    lt_eq "$n: exactly two connected events" 2 "$(lt_count "$n" '.event == "connected"')"
    lt_eq "$n: first connected is not resumed" false "$(nth "$n" 1 .resumed)"
    lt_eq "$n: second connected is resumed" true "$(nth "$n" 2 .resumed)"
    lt_eq "$n: second connected is direct" direct "$(nth "$n" 2 .path)"
    lt_log "$n: second connected: $(lt_events "$n" 'select(.event == "connected")' | sed -n 2p)"
done
lt_match "A: resumed to B's public address" "^${LAB_IP_NATB_WAN//./\\.}:[0-9]+$" "$(nth A 2 .remote)"
lt_match "B: resumed to A's public address" "^${LAB_IP_NATA_WAN//./\\.}:[0-9]+$" "$(nth B 2 .remote)"

for t in "$BEFORE1" "$BEFORE" "$DURING_A"; do
    lt_eq "B printed '$t' exactly once" 1 "$(lt_count B ".event == \"message\" and .text == \"$t\"")"
    lt_check_message A B "$t"
done
lt_eq "A printed '$DURING_B' exactly once" 1 "$(lt_count A ".event == \"message\" and .text == \"$DURING_B\"")"
lt_check_message B A "$DURING_B"
lt_eq "B printed A's lines in the order they were typed" \
    "warm-up line from A|$BEFORE1|$BEFORE|$DURING_A" \
    "$(lt_events B 'select(.event == "message") | .text' | jq -r . | paste -sd '|')"
lt_eq "A: one delivered per line it typed (4)" 4 "$(lt_count A '.event == "delivered"')"
# Which way did the lines before the cut go? (information, not a check)
for t in "$BEFORE1" "$BEFORE"; do
    where=$(lt_events B '.' | jq -r --arg t "$t" 'select(.event == "connected" or (.event == "message" and .text == $t)) | .event' |
        paste -sd ' ')
    lt_log "B saw '$t' $([[ $where == "connected message connected" ]] && echo "before the cut (its receipt was lost)" || echo "after the heal (lost in flight, sent again)")"
done
lt_messages_once A
lt_messages_once B
for n in A B; do
    after=$(lt_events "$n" '.' | awk '/"event":"connected"/ {c++} c >= 2 && /"event":"rtt"/ {r++} END {print r + 0}')
    lt_check "$n: keepalive rtt events again after the heal ($after)" test "$after" -ge 1
    lt_eq "$n: no fatal error" 0 \
        "$(lt_count "$n" '.event == "error" and (.code == "reconnect-timeout" or .code == "protocol-error")')"
done
# Stretch (reported, not counted): ARCHITECTURE.md says a lost link is closed abortively (RST),
# so nothing holds the 4-tuple that healing punches again; and the heal should then take about
# one retry interval once the path is back.
lt_stretch_begin
lt_eq "A: the lost connection left no socket on its 4-tuple" "" "$STALE_A"
lt_eq "B: the lost connection left no socket on its 4-tuple" "" "$STALE_B"
lt_check "A: healed within 8 s of the restore (${a_heal:-none} s)" \
    awk -v h="${a_heal:-999}" 'BEGIN{exit !(h <= 8)}'
lt_stretch_end "abortive close of the lost link, heal within 8 s of the restore"
lt_log "figures: cut -> reconnecting A ${a_rec:-?} s, B ${b_rec:-?} s; restore -> connected A ${a_heal:-?} s, B ${b_heal:-?} s; elapsed_ms of the resumed connection A $(nth A 2 .elapsed_ms), B $(nth B 2 .elapsed_ms)"
finish
