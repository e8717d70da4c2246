#!/usr/bin/env bash
# Relay through TURN over TCP (issue 12 §2). symmetric/symmetric lab (both NATs map per
# destination, so no direct path exists), DELAY_MS 0, codes swapped through files.
#   (a) both have a TURN account (A on coturn 1 = 198.51.100.10, B on coturn 2 = .12);
#   (b) only A has one: B makes ordinary TCP connections to A's relayed address.
# Each case asserts: A's addresses event lists a relayed address on its coturn and a
# relay_status naming it; both sides print a connected event with path "relay" and a remote on
# the stun host (the relay: the relayed address on the dialing side, the TURN server on the
# allocating side); chat both ways, delivered; both exit 0.
# Env: LAB_RELAY_CASES (default "a b").
set -u
source "$(dirname "$0")/lab_test.sh"
lt_require_cli
lt_init
CASES=${LAB_RELAY_CASES:-a b}
TURN1="turn:$LAB_TURN_USER:$LAB_TURN_PASS@$LAB_IP_STUN1:$LAB_STUN_PORT"
TURN2="turn:$LAB_TURN_USER:$LAB_TURN_PASS@$LAB_IP_TURN2:$LAB_STUN_PORT"
STUN_HOST='^198\.51\.100\.1[0-2]:[0-9]+$'
lt_lab_up symmetric symmetric 0

relay_case() { # NAME B_TURN_ARGS...
    local name=$1
    shift
    lt_log "== ($name) symmetric/symmetric, A --turn $LAB_IP_STUN1, B: ${*:-no TURN account}"
    lt_cli_start A hostA 41000 --write-code "$LT_TMP/A.code" --peer "@$LT_TMP/B.code" \
        --turn "$TURN1" --say "hello from A" --timeout 60 --exit-when-done
    lt_cli_start B hostB 42000 --write-code "$LT_TMP/B.code" --peer "@$LT_TMP/A.code" \
        "$@" --say "hello from B" --timeout 60 --exit-when-done
    lt_cli_wait A 90
    lt_cli_wait B 15
    local before=$LT_FAIL
    lt_eq "($name) A exit code" 0 "${LT_RC[A]}"
    lt_eq "($name) B exit code" 0 "${LT_RC[B]}"
    lt_match "($name) A: a relayed address on coturn 1" '^198\.51\.100\.10:[0-9]+$' \
        "$(lt_field A addresses '.relays[0]')"
    lt_match "($name) A: relay status names the server" "TURN server 198\.51\.100\.10:3478 relays" \
        "$(lt_field A addresses .relay_status)"
    if [[ $# -gt 0 ]]; then
        lt_match "($name) B: a relayed address on coturn 2" '^198\.51\.100\.12:[0-9]+$' \
            "$(lt_field B addresses '.relays[0]')"
    else
        lt_eq "($name) B: no relays" "" "$(lt_field B addresses '.relays[0]')"
    fi
    lt_check_connected A relay
    lt_check_connected B relay
    lt_match "($name) A: remote is the relay" "$STUN_HOST" "$(lt_field A connected .remote)"
    lt_match "($name) B: remote is the relay" "$STUN_HOST" "$(lt_field B connected .remote)"
    lt_check_message A B "hello from A"
    lt_check_message B A "hello from B"
    lt_log "($name) connect time: A $(lt_field A connected .elapsed_ms) ms, B $(lt_field B connected .elapsed_ms) ms; remotes A $(lt_field A connected .remote), B $(lt_field B connected .remote)"
    if [[ $LT_FAIL -gt $before ]]; then
        lt_dump A
        lt_dump B
    fi
}

for c in $CASES; do
    case $c in
    a) relay_case a --turn "$TURN2" ;;
    b) relay_case b ;;
    *) lt_fail "unknown case $c" ;;
    esac
    lt_reset_clis
done
lt_finish
