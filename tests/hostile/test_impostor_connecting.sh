#!/usr/bin/env bash
# An outsider who knows the friend's fingerprint cannot end a connection attempt (issue item 1,
# "before the friend pasted"). A pins B's code; B is not running yet. The outsider hammers A's
# port from two addresses (127.0.0.1 and 127.0.0.2, one port each), claims B's fingerprint in
# the preamble and completes TLS with its own certificate, again and again. A must only close
# those connections: one peer-identity-mismatch error per address, naming it (not one per
# attempt), A keeps going, and the real B, started while the outsider keeps trying, gets through
# and its message arrives.
source "$(dirname "$0")/lib.sh"
h_require
FAKE="it is B, honestly (impostor 7zq)"
SECRET="hello A, the real B here (b1x)"

h_make_b
python3 "$H_TOOL" mkcert "$H_TMP/M" >/dev/null
M_PORT=$(h_free_port)

h_cli A --port 0 --peer "@$H_TMP/B.code" --write-code "$H_TMP/A.code" --timeout 55
h_wait_file "$H_TMP/A.code" 20 || { h_bad "A wrote its code"; h_finish A; }
A_PORT=$(h_port_of A)
h_log "A on port $A_PORT, B (not running) on $B_PORT, outsider from 127.0.0.1:$M_PORT"

h_py M impostor --target "127.0.0.1:$A_PORT" --claim "$B_FP" --cert "$H_TMP/M/cert.pem" \
    --key "$H_TMP/M/key.pem" --bind-port "$M_PORT" --deadline 14 --interval 0.2 --say "$FAKE"
h_py M2 impostor --target "127.0.0.1:$A_PORT" --claim "$B_FP" --cert "$H_TMP/M/cert.pem" \
    --key "$H_TMP/M/key.pem" --bind-ip 127.0.0.2 --bind-port "$M_PORT" --deadline 14 \
    --interval 0.2 --say "$FAKE"
sleep 5
h_check "A is still running after 5 s of the outsider's attempts" h_alive A
h_ge "the outsider got through to the nomination (then only TLS can tell)" "$(grep -c '"nominated"' "$H_TMP/M.out")" 1

h_cli B --profile "$H_TMP/B.profile" --port "$B_PORT" --peer "@$H_TMP/A.code" --say "$SECRET"
h_check "the real B got through while the outsider kept trying: A shows B's message" \
    h_wait_for A ".event == \"message\" and (.text | contains(\"b1x\"))" 20
h_check "A is still running" h_alive A
h_eq "A's connected event names B" "$B_FP" \
    "$(h_events A 'select(.event == "connected") | (.peer // .peer_fingerprint)' | tr -d '"' | head -n 1)"
h_wait_exit M 15
h_wait_exit M2 5
for m in M M2; do
    h_log "outsider $m: $(grep -c '"nominated"' "$H_TMP/$m.out") connections reached the" \
        "nomination, $(grep -c '"tls-done-here"' "$H_TMP/$m.out") TLS handshakes done on its side"
done
n=$(h_count A '.event == "error" and .code == "peer-identity-mismatch"')
h_ge "A reported the outsider" "$n" 1
h_le "A reported it once per address (2), not per attempt" "$n" 2
h_check "the report names the outsider's address" \
    h_wait_for A '.event == "error" and .code == "peer-identity-mismatch" and (.message | test("127\\.0\\.0\\.[12]"))' 1
h_eq "no two reports for the same address" "" \
    "$(h_events A 'select(.event == "error" and .code == "peer-identity-mismatch") | .message' | sort | uniq -d)"
h_eq "A never shows the outsider's text" 0 "$(grep -c 7zq "$H_TMP/A.out")"
h_eq "A never exited with the outsider's error" 0 \
    "$(h_count A '.event == "state" and .state == "failed"')"
h_finish A B M M2
