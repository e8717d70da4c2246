#!/usr/bin/env bash
# A relayed friend moves to a direct path once one appears (issue 12 §2). drop/drop lab,
# DELAY_MS 0, but inet drops everything between the two NATs' public addresses at first (a
# direct path that does not work yet); A has a TURN account on coturn 1, B none; both NATs'
# WAN egress is shaped to 20 mbit so a transfer lasts through the switch. Both connect through
# the relay; A starts sending B an 8 MiB file and types a line; then the direct path is opened
# (the drop rules go) and A types another line. Asserts: a second connected event on both
# sides with path direct, resumed, to the other NAT's public address within 45 s; the
# transfer completes without starting again from 0 (it resumes past 0 on the direct link),
# B's copy identical; every line printed once and delivered.
set -u
source "$(dirname "$0")/lab_test.sh"
lt_require_cli
lt_init
lt_lab_up drop drop 0
TURN1="turn:$LAB_TURN_USER:$LAB_TURN_PASS@$LAB_IP_STUN1:$LAB_STUN_PORT"
block() { # add|del
    local op=-I
    [[ $1 == del ]] && op=-D
    lab_exec inet iptables -w 5 "$op" FORWARD -s "$LAB_IP_NATA_WAN" -d "$LAB_IP_NATB_WAN" -j DROP &&
        lab_exec inet iptables -w 5 "$op" FORWARD -s "$LAB_IP_NATB_WAN" -d "$LAB_IP_NATA_WAN" -j DROP
}
BLOCKED=0
nth() { lt_events "$1" "select(.event == \"connected\") | $3 | tostring" | sed -n "$2p" | jq -r .; }
finish() {
    ((BLOCKED)) && block del
    lt_stop A
    lt_stop B
    [[ $LT_FAIL -gt 0 ]] && { lt_dump A; lt_dump B; }
    lt_finish
}
block add && BLOCKED=1
lt_check "direct path blocked in inet" test "$BLOCKED" = 1
lt_shape 20mbit || lt_fail "shaping"
FILE=$LT_TMP/big.bin
head -c $((8 * 1024 * 1024)) /dev/urandom >"$FILE"
mkdir -p "$LT_TMP/dl"
OPTS=(--keepalive 1 --peer-timeout 4 --reconnect-window 60 --timeout 60)
lt_cli_start A hostA 41000 --write-code "$LT_TMP/A.code" --peer "@$LT_TMP/B.code" \
    --turn "$TURN1" "${OPTS[@]}"
lt_cli_start B hostB 42000 --write-code "$LT_TMP/B.code" --peer "@$LT_TMP/A.code" \
    --accept all --download-dir "$LT_TMP/dl" "${OPTS[@]}"
if ! lt_wait_count A '.event == "connected"' 1 60 || ! lt_wait_count B '.event == "connected"' 1 20; then
    lt_fail "A and B connect through the relay"
    finish
fi
lt_eq "A: first path" relay "$(nth A 1 .path)"
lt_eq "B: first path" relay "$(nth B 1 .path)"
lt_cli_say A "/send $FILE"
LINE1="typed by A on the relay"
LINE2="typed by A as the direct path opens"
lt_cli_say A "$LINE1"
lt_wait_count B '.event == "transfer" and .state == "progress"' 1 20
block del && BLOCKED=0
t_open=$(date +%s.%N)
lt_cli_say A "$LINE2"
lt_check "A: second connected within 45 s of the opening" lt_wait_count A '.event == "connected"' 2 45
lt_check "B: second connected" lt_wait_count B '.event == "connected"' 2 10
lt_log "moved $(awk -v a="$(date +%s.%N)" -v b="$t_open" 'BEGIN{printf "%.1f", a-b}') s after the opening"
for n in A B; do
    lt_eq "$n: second connected is direct" direct "$(nth "$n" 2 .path)"
    lt_eq "$n: second connected is resumed" true "$(nth "$n" 2 .resumed)"
done
lt_match "A: direct to B's public address" "^${LAB_IP_NATB_WAN//./\\.}:[0-9]+$" "$(nth A 2 .remote)"
lt_match "B: direct to A's public address" "^${LAB_IP_NATA_WAN//./\\.}:[0-9]+$" "$(nth B 2 .remote)"
lt_check "B: the transfer is done" lt_wait_count B '.event == "transfer" and .state == "done"' 1 60
lt_check "B's copy is identical" cmp -s "$FILE" "$LT_TMP/dl/big.bin"
lt_eq "B: never started again from 0" 0 "$(lt_count B '.event == "transfer" and .resumed_from == 0')"
DONE_FROM=$(lt_events B 'select(.event == "transfer" and .state == "done") | .resumed_from // 0' | head -n1)
lt_check "B: the transfer went on from where it was (resumed from ${DONE_FROM:-?})" \
    test "${DONE_FROM:-0}" -gt 0
lt_wait_count A '.event == "delivered"' 2 15
sleep 1
for t in "$LINE1" "$LINE2"; do
    lt_eq "B printed '$t' exactly once" 1 "$(lt_count B ".event == \"message\" and .text == \"$t\"")"
    lt_check_message A B "$t"
done
lt_messages_once B
finish
