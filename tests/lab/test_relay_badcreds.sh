#!/usr/bin/env bash
# Wrong TURN credentials (issue 12 §2). drop/drop lab (a direct path exists), DELAY_MS 0. A is
# given its TURN server with a wrong password. Asserts: A reports an error event with code
# relay-failed and the message "TURN server 198.51.100.10:3478 refused the user name or
# password" (once), its relay_status says so and it has no relayed address; the password
# appears nowhere in A's output; the friends still connect directly, chat both ways, exit 0.
set -u
source "$(dirname "$0")/lab_test.sh"
lt_require_cli
lt_init
WRONG=wrong-pw-zq9x
lt_lab_up drop drop 0
lt_cli_start A hostA 41000 --write-code "$LT_TMP/A.code" --peer "@$LT_TMP/B.code" \
    --turn "turn:$LAB_TURN_USER:$WRONG@$LAB_IP_STUN1:$LAB_STUN_PORT" \
    --say "hello from A" --timeout 60 --exit-when-done
lt_cli_start B hostB 42000 --write-code "$LT_TMP/B.code" --peer "@$LT_TMP/A.code" \
    --say "hello from B" --timeout 60 --exit-when-done
lt_cli_wait A 90
lt_cli_wait B 15
MSG="TURN server $LAB_IP_STUN1:$LAB_STUN_PORT refused the user name or password"
lt_eq "A exit code" 0 "${LT_RC[A]}"
lt_eq "B exit code" 0 "${LT_RC[B]}"
lt_eq "A: one relay-failed error naming the server" 1 \
    "$(lt_count A ".event == \"error\" and .code == \"relay-failed\" and .message == \"$MSG\"")"
lt_match "A: relay_status says why" "refused the user name or password" \
    "$(lt_field A addresses .relay_status)"
lt_eq "A: no relayed address" "" "$(lt_field A addresses '.relays[0]')"
lt_eq "A: the password is in none of its output" 0 \
    "$(cat "$LT_TMP/A.out" "$LT_TMP/A.err" | grep -c -F -- "$WRONG")"
lt_check_connected A direct "$LAB_IP_NATB_WAN"
lt_check_connected B direct "$LAB_IP_NATA_WAN"
lt_check_message A B "hello from A"
lt_check_message B A "hello from B"
[[ $LT_FAIL -gt 0 ]] && { lt_dump A; lt_dump B; }
lt_finish
