#!/usr/bin/env bash
# An outsider who knows the friend's fingerprint cannot end a live session (issue item 1,
# "after the session is up"). A and B (B pinned by its code) are connected; then an outsider
# hammers A's port from one address, claims B's fingerprint and completes TLS with its own
# certificate. A keeps the session with B (no disconnect, no exit), reports the outsider at most
# once, and afterwards A and B still chat both ways.
source "$(dirname "$0")/lib.sh"
h_require
FAKE="it is B, honestly (impostor 7zq)"

h_make_b
python3 "$H_TOOL" mkcert "$H_TMP/M" >/dev/null
M_PORT=$(h_free_port)

h_cli A --port 0 --peer "@$H_TMP/B.code" --write-code "$H_TMP/A.code" --timeout 55
h_wait_file "$H_TMP/A.code" 20 || { h_bad "A wrote its code"; h_finish A; }
A_PORT=$(h_port_of A)
h_cli B --profile "$H_TMP/B.profile" --port "$B_PORT" --peer "@$H_TMP/A.code"
h_check "A and B connected" h_wait_for A '.event == "connected"' 20
h_check "B connected" h_wait_for B '.event == "connected"' 10

h_log "session up; outsider attacks A's port $A_PORT from 127.0.0.1:$M_PORT"
h_py M impostor --target "127.0.0.1:$A_PORT" --claim "$B_FP" --cert "$H_TMP/M/cert.pem" \
    --key "$H_TMP/M/key.pem" --bind-port "$M_PORT" --deadline 6 --interval 0.2 --say "$FAKE"
h_wait_exit M 15
h_log "outsider: $(grep -c '"nominated"' "$H_TMP/M.out") connections reached the nomination," \
    "$(grep -c '"tls-done-here"' "$H_TMP/M.out") TLS handshakes done on its side"
h_check "A is still running after the attack" h_alive A
h_check "B is still running after the attack" h_alive B

h_say B "after the attack, from B (q4b)"
h_check "B's message after the attack reaches A" \
    h_wait_for A '.event == "message" and (.text | contains("q4b"))' 15
h_say A "after the attack, from A (q4a)"
h_check "A's message after the attack reaches B" \
    h_wait_for B '.event == "message" and (.text | contains("q4a"))' 15
h_eq "A's session with B was never dropped" 0 "$(h_count A '.event == "disconnected"')"
h_eq "A connected once (no reconnect needed)" 1 "$(h_count A '.event == "connected"')"
h_le "A reported the outsider at most once" \
    "$(h_count A '.event == "error" and .code == "peer-identity-mismatch"')" 1
h_eq "A never shows the outsider's text" 0 "$(grep -c 7zq "$H_TMP/A.out")"
h_eq "A never failed" 0 "$(h_count A '.event == "state" and .state == "failed"')"
h_finish A B M
