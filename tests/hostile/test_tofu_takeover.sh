#!/usr/bin/env bash
# With plain addresses (trust on first use) an outsider cannot take over the session (issue
# item 2). A is given B's address only. An outsider with its own valid-looking Punchline
# certificate connects to A first, from another address, and stalls in front of TLS; the real
# B connects and chats; then the outsider completes TLS, says hello as "B" and sends a chat
# message. A must never show the outsider's message, never save the outsider as a known peer,
# and keep the session with B (B's later message arrives, A stays up).
source "$(dirname "$0")/lib.sh"
h_require
FAKE="new bank details: IBAN XX00 1234 (ob9)"

B_PORT=$(h_free_port)
O_PORT=$(h_free_port)
O_FP=$(python3 "$H_TOOL" mkcert "$H_TMP/O")

h_cli A --port 0 --peer "127.0.0.1:$B_PORT" --write-code "$H_TMP/A.code" --timeout 55
h_wait_file "$H_TMP/A.code" 20 || { h_bad "A wrote its code"; h_finish A; }
A_PORT=$(h_port_of A)
h_log "A on $A_PORT trusts whoever answers at 127.0.0.1:$B_PORT; outsider from 127.0.0.1:$O_PORT"

h_py O peer --target "127.0.0.1:$A_PORT" --cert "$H_TMP/O/cert.pem" --key "$H_TMP/O/key.pem" \
    --bind-port "$O_PORT" --no-listen --name B --stall-until "$H_TMP/go" --stall-max 9 \
    --say "$FAKE" --hold 8 --deadline 30
if h_wait_for O '.event == "stalling"' 5; then
    h_log "the outsider's connection was nominated; it now stalls in front of TLS"
else
    h_log "the outsider's connection was not nominated (dropped before TLS)"
fi

h_cli B --port "$B_PORT" --peer "@$H_TMP/A.code" --say "hi A, the real B (rb3)"
h_check "the real B connected and A shows its message" \
    h_wait_for A '.event == "message" and (.text | contains("rb3"))' 8
B_FP=$(h_field B addresses .fingerprint)
touch "$H_TMP/go"
h_log "outsider goes on with TLS, hello as \"B\" and its chat"
h_wait_for O '.event == "done"' 12
sleep 2
h_check "A is still running" h_alive A
h_say B "B again, after the outsider (rb4)"
h_check "the session with B survived: B's next message reaches A" \
    h_wait_for A '.event == "message" and (.text | contains("rb4"))' 10
h_eq "A never shows the outsider's message" 0 "$(grep -c ob9 "$H_TMP/A.out")"
h_eq "every connected event of A is B" "" \
    "$(h_events A 'select(.event == "connected") | (.peer // .peer_fingerprint)' | tr -d '"' |
        grep -v -x "$B_FP")"
h_check "A saved B as a known peer" grep -q "$B_FP" "$H_TMP/A.profile/known-peers.json"
h_check "A never saved the outsider as a known peer" \
    bash -c "! grep -q '$O_FP' '$H_TMP/A.profile/known-peers.json'"
h_eq "A never failed" 0 "$(h_count A '.event == "state" and .state == "failed"')"
h_log "outsider's steps: $(jq -r '.event' "$H_TMP/O.out" | uniq -c | tr -s ' \n' ' ')"
h_finish A B O
