#!/usr/bin/env bash
# A relay dies mid-session (issue 12 §2). symmetric/symmetric lab (no direct path), DELAY_MS 0.
# A has two TURN servers (coturn 1 on .10, which is also the lab's STUN server, and coturn 2 on
# .12; both relayed addresses in its code), B none; both run
# with --keepalive 1 --peer-timeout 4 --reconnect-window 60. Once they are connected through
# one relay and a first line was delivered, that coturn is killed (SIGKILL) and each side
# types a line right away. Asserts: both report reconnecting, then a second connected event
# (resumed, path relay) within 30 s, B's remote now on the other coturn; every line is printed
# exactly once by the other side and delivered; no message id or text shown twice.
set -u
source "$(dirname "$0")/lab_test.sh"
lt_require_cli
lt_init
TURN1="turn:$LAB_TURN_USER:$LAB_TURN_PASS@$LAB_IP_STUN1:$LAB_STUN_PORT"
TURN2="turn:$LAB_TURN_USER:$LAB_TURN_PASS@$LAB_IP_TURN2:$LAB_STUN_PORT"
lt_lab_up symmetric symmetric 0
HEAL=(--keepalive 1 --peer-timeout 4 --reconnect-window 60 --timeout 60)
lt_cli_start A hostA 41000 --write-code "$LT_TMP/A.code" --peer "@$LT_TMP/B.code" \
    --turn "$TURN1" --turn "$TURN2" "${HEAL[@]}"
lt_cli_start B hostB 42000 --write-code "$LT_TMP/B.code" --peer "@$LT_TMP/A.code" "${HEAL[@]}"

nth() { lt_events "$1" "select(.event == \"connected\") | $3 | tostring" | sed -n "$2p" | jq -r .; }
finish() {
    lt_stop A
    lt_stop B
    [[ $LT_FAIL -gt 0 ]] && { lt_dump A; lt_dump B; }
    lt_finish
}

if ! lt_wait_count A '.event == "connected"' 1 60 || ! lt_wait_count B '.event == "connected"' 1 20; then
    lt_fail "A and B connect through a relay"
    finish
fi
lt_eq "A: first path" relay "$(nth A 1 .path)"
lt_eq "B: first path" relay "$(nth B 1 .path)"
FIRST=$(nth B 1 .remote)
case ${FIRST%:*} in
"$LAB_IP_STUN1") DEAD=1 OTHER=$LAB_IP_TURN2 ;;
"$LAB_IP_TURN2") DEAD=2 OTHER=$LAB_IP_STUN1 ;;
*)
    lt_fail "B's remote $FIRST is not a relay"
    finish
    ;;
esac
lt_ok "connected through coturn $DEAD ($FIRST)"
lt_cli_say A "warm-up line from A"
lt_wait_count A '.event == "delivered"' 1 10

DURING_A="typed by A while its relay was dead"
DURING_B="typed by B while the relay was dead"
lt_check "coturn $DEAD killed" lab_turn_kill "$DEAD"
t_kill=$(date +%s.%N)
lt_cli_say A "$DURING_A"
lt_cli_say B "$DURING_B"
rec='.event == "state" and .state == "reconnecting"'
lt_check "A reports reconnecting" lt_wait_count A "$rec" 1 15
lt_check "B reports reconnecting" lt_wait_count B "$rec" 1 15
lt_check "A: second connected within 30 s" lt_wait_count A '.event == "connected"' 2 30
lt_check "B: second connected within 30 s" lt_wait_count B '.event == "connected"' 2 10
lt_log "healed $(awk -v a="$(date +%s.%N)" -v b="$t_kill" 'BEGIN{printf "%.1f", a-b}') s after the kill"
lt_wait_count B ".event == \"message\" and .text == \"$DURING_A\"" 1 15
lt_wait_count A ".event == \"message\" and .text == \"$DURING_B\"" 1 15
lt_wait_count A '.event == "delivered"' 2 15
lt_wait_count B '.event == "delivered"' 1 15
sleep 2
for n in A B; do
    lt_eq "$n: second connected is resumed" true "$(nth "$n" 2 .resumed)"
    lt_eq "$n: second connected is through a relay" relay "$(nth "$n" 2 .path)"
done
lt_match "B: now through the other coturn" "^${OTHER//./\\.}:[0-9]+$" "$(nth B 2 .remote)"
lt_eq "B printed '$DURING_A' exactly once" 1 "$(lt_count B ".event == \"message\" and .text == \"$DURING_A\"")"
lt_eq "A printed '$DURING_B' exactly once" 1 "$(lt_count A ".event == \"message\" and .text == \"$DURING_B\"")"
lt_check_message A B "warm-up line from A"
lt_check_message A B "$DURING_A"
lt_check_message B A "$DURING_B"
lt_messages_once A
lt_messages_once B
finish
