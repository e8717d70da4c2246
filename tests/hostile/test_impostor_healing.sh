#!/usr/bin/env bash
# An outsider who knows the friend's fingerprint cannot end the healing of a session (issue
# item 1, "during reconnecting"). A and B are connected; B dies (SIGKILL) and A starts
# reconnecting; an outsider hammers A's port from one address, claims B's fingerprint and
# completes TLS with its own certificate; then B comes back (same profile, same port). A must
# not give up: it reports the outsider at most once, reconnects to B, and B's message arrives.
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
h_stop B KILL
h_check "A is reconnecting after B died" \
    h_wait_for A '.event == "state" and .state == "reconnecting"' 15

h_log "A reconnecting; outsider attacks A's port $A_PORT from 127.0.0.1:$M_PORT"
h_py M impostor --target "127.0.0.1:$A_PORT" --claim "$B_FP" --cert "$H_TMP/M/cert.pem" \
    --key "$H_TMP/M/key.pem" --bind-port "$M_PORT" --deadline 12 --interval 0.2 --say "$FAKE"
sleep 5
h_check "A is still running after 5 s of the outsider's attempts" h_alive A
h_ge "the outsider got through to the nomination (then only TLS can tell)" "$(grep -c '"nominated"' "$H_TMP/M.out")" 1

h_cli B2 --profile "$H_TMP/B.profile" --port "$B_PORT" --peer "@$H_TMP/A.code" \
    --say "B is back (r7b)"
h_check "B came back while the outsider kept trying: A shows its message" \
    h_wait_for A '.event == "message" and (.text | contains("r7b"))' 25
h_check "A is still running" h_alive A
h_eq "A connected twice (before and after B's restart)" 2 "$(h_count A '.event == "connected"')"
h_wait_exit M 15
h_log "outsider: $(grep -c '"nominated"' "$H_TMP/M.out") connections reached the nomination," \
    "$(grep -c '"tls-done-here"' "$H_TMP/M.out") TLS handshakes done on its side"
n=$(h_count A '.event == "error" and .code == "peer-identity-mismatch"')
h_ge "A reported the outsider" "$n" 1
h_le "A reported it once for its one address, not per attempt" "$n" 1
h_check "the report names the outsider's address" \
    h_wait_for A '.event == "error" and .code == "peer-identity-mismatch" and (.message | contains("127.0.0.1"))' 1
h_eq "A never shows the outsider's text" 0 "$(grep -c 7zq "$H_TMP/A.out")"
h_eq "A never failed" 0 "$(h_count A '.event == "state" and .state == "failed"')"
h_finish A B2 M
