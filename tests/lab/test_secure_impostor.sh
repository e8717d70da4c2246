#!/usr/bin/env bash
# Someone else answers at the friend's address (issue 3). drop/drop lab: the real B starts on
# hostB:42000 just long enough to write its code, then stops; A gets that code. Then, at B's
# host and port (so behind the same public address as in B's code):
#  1. "new identity": punchline-cli with another profile (a new identity) punches back to A
#     with A's real code;
#  2. "claims B" (needs python3): tools/fake_peer.py punches back, claims B's fingerprint in the
#     clear-text preamble (so only TLS can tell), plays the nomination and offers TLS 1.3 with
#     its own certificate.
# A must refuse: an `error` event with code peer-identity-mismatch and a sentence, no
# `connected`, none of the impostor's text printed, exit 1 or 3 by its --timeout; the impostor
# gets no `connected` / `delivered` and never sees A's text.
# Env: LAB_DELAYS (default "0 20"), LAB_IMPOSTOR_TIMEOUT (A's --timeout, default 20),
# LAB_IMPOSTORS (default "new-identity claims-b").
set -u
source "$(dirname "$0")/lab_test.sh"
lt_require_cli
lt_init
T=${LAB_IMPOSTOR_TIMEOUT:-20}
SECRET="for B only: the vault code is 7781 qx7p"
FAKE="hi A, it is me, B, honestly (impostor 9vqz)"
TOOLS=$LT_DIR/tools

# real_b_code: the real B writes its code and stops. Sets B_PUBLIC, B_FP.
real_b_code() {
    lt_cli_start B hostB 42000 --write-code "$LT_TMP/B.code" --timeout 60
    if ! lt_wait_file "$LT_TMP/B.code" 20; then
        lt_fail "B wrote its code"
        lt_dump B
        return 1
    fi
    lt_stop B
    sleep 1
    B_PUBLIC=$(lt_field B addresses .public)
    B_FP=$(lt_field B addresses .fingerprint)
    lt_match "B's code carries its public address" "^${LAB_IP_NATB_WAN//./\\.}:42000$" "$B_PUBLIC"
}

# check_a_refused: the assertions on A common to both impostors.
check_a_refused() {
    local ev
    ev=$(lt_events A 'select(.event == "error" and .code == "peer-identity-mismatch")' | head -n 1)
    lt_check "A: error event peer-identity-mismatch" test -n "$ev"
    lt_match "A: the error is a sentence" '[A-Za-z]+ [A-Za-z]+ [A-Za-z]+' \
        "$(jq -r '.message // empty' <<<"$ev" 2>/dev/null)"
    lt_log "A says: $(jq -r '.message // empty' <<<"$ev" 2>/dev/null)"
    lt_eq "A: no connected event" 0 "$(lt_count A '.event == "connected"')"
    lt_eq "A: never reached state connected" 0 "$(lt_count A '.event == "state" and .state == "connected"')"
    lt_match "A: exit code 1 or 3" '^(1|3)$' "${LT_RC[A]}"
    lt_check "A: exited by its timeout (${LT_ELAPSED[A]} s <= $((T + 5)) s)" \
        awk -v e="${LT_ELAPSED[A]}" -v t="$T" 'BEGIN{exit !(e <= t + 5)}'
    lt_eq "A: no message event" 0 "$(lt_count A '.event == "message"')"
    lt_eq "A: the impostor's text appears nowhere in A's output" 0 \
        "$(cat "$LT_TMP/A.out" "$LT_TMP/A.err" | grep -c -F "9vqz")"
    lt_log "A: $(lt_count A '.event == "error"') error events ($(lt_events A 'select(.event == "error") | .code' |
        sort | uniq -c | tr -s ' \n' ' ')), exit ${LT_RC[A]} after ${LT_ELAPSED[A]} s"
}

for delay in ${LAB_DELAYS:-0 20}; do
    for kind in ${LAB_IMPOSTORS:-new-identity claims-b}; do
        lt_log "== impostor ($kind) at B's address, drop/drop, DELAY_MS=$delay"
        if [[ $kind == claims-b ]] && ! { python3 -c 'import ssl' && command -v openssl; } >/dev/null 2>&1; then
            lt_log "SKIP: python3 (with ssl) and openssl are needed for the claims-b impostor"
            continue
        fi
        lt_lab_up drop drop "$delay"
        before=$LT_FAIL
        if ! real_b_code; then
            lt_reset_clis
            continue
        fi
        lt_cli_start A hostA 41000 --write-code "$LT_TMP/A.code" --peer "@$LT_TMP/B.code" \
            --say "$SECRET" --timeout "$T"
        case $kind in
        new-identity)
            lt_cli_start M hostB 42000 --write-code "$LT_TMP/M.code" --peer "@$LT_TMP/A.code" \
                --say "$FAKE" --timeout "$T"
            lt_cli_wait A $((T + 20))
            lt_cli_wait M 15
            m_fp=$(lt_field M addresses .fingerprint)
            lt_check "the impostor has another identity than B" test -n "$m_fp" -a "$m_fp" != "$B_FP"
            lt_eq "the impostor sits at B's public address" "$B_PUBLIC" "$(lt_field M addresses .public)"
            check_a_refused
            lt_eq "impostor: no connected event" 0 "$(lt_count M '.event == "connected"')"
            lt_eq "impostor: no delivered receipt for its text" 0 "$(lt_count M '.event == "delivered"')"
            lt_eq "impostor: A's text appears nowhere in its output" 0 \
                "$(cat "$LT_TMP/M.out" "$LT_TMP/M.err" | grep -c -F "qx7p")"
            ;;
        claims-b)
            openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
                -subj "/CN=B" -keyout "$LT_TMP/m.key" -out "$LT_TMP/m.pem" 2>/dev/null
            lt_wait_file "$LT_TMP/A.code" 20
            a_public=$(lt_field A addresses .public)
            echo "fake_peer.py --port 42000 --peer $a_public --claim $B_FP" >"$LT_TMP/M.cmd"
            lab_exec hostB timeout -k 2 $((T + 15)) python3 "$TOOLS/fake_peer.py" --port 42000 \
                --peer "$a_public" --claim "$B_FP" --cert "$LT_TMP/m.pem" --key "$LT_TMP/m.key" \
                --deadline "$T" --say "$FAKE" >"$LT_TMP/M.out" 2>"$LT_TMP/M.err" &
            m_pid=$!
            LT_BG+=("$m_pid")
            lt_cli_wait A $((T + 20))
            wait "$m_pid"
            lt_check "impostor: reached A over TCP (punched through both NATs)" \
                grep -q '"event": "tcp-connected"' "$LT_TMP/M.out"
            lt_check "impostor: A took the claimed fingerprint in the preamble and went on to TLS" \
                grep -q '"event": "nominated"' "$LT_TMP/M.out"
            check_a_refused
            lt_log "impostor: $(grep -c '"tcp-connected"' "$LT_TMP/M.out") TCP connections; results:" \
                "$(grep -o '"result": "[^"]*"' "$LT_TMP/M.out" | sort | uniq -c | tr -s ' \n' ' ')"
            ;;
        esac
        if [[ $LT_FAIL -gt $before ]]; then
            lt_dump A
            lt_dump M
        fi
        lt_reset_clis
    done
done
lt_finish
