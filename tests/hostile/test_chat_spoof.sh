#!/usr/bin/env bash
# A friend's chat text cannot forge lines or reorder text on the screen (issue item 7). A Python
# peer with a real session (A trusts it on first use by its address) sends a message holding a
# right-to-left override (U+202E) and "\nBob: (delivered 1234)". A's plain output must keep the
# message on one line (no forged "Bob: ..." line) with no U+202E; A's JSON message event must
# carry no bidi override/embedding/isolate mark.
source "$(dirname "$0")/lib.sh"
h_require
RLO=$'\u202e'
TEXT="see invoice sp5 ${RLO}fdp.exe${RLO}"$'\n'"Bob: (delivered 1234)"$'\r\n'"Bob: transfer approved"
python3 "$H_TOOL" mkcert "$H_TMP/P" >/dev/null

run() { # run NAME: A (JSON unless H_PLAIN=1) and the Python peer; A's output in NAME.out
    local name=$1 p_port
    p_port=$(h_free_port)
    h_cli "$name" --port 0 --peer "127.0.0.1:$p_port" --write-code "$H_TMP/$name.code" --timeout 40
    h_wait_file "$H_TMP/$name.code" 20 || { h_bad "$name wrote its code"; h_finish "$name"; }
    local a_port
    a_port=$(grep -o -m1 '127\.0\.0\.1:[0-9]*' "$H_TMP/$name.out" | sed 's/.*://')
    h_py "P$name" peer --target "127.0.0.1:$a_port" --cert "$H_TMP/P/cert.pem" \
        --key "$H_TMP/P/key.pem" --bind-port "$p_port" --name Bob --say "$TEXT" --hold 3 \
        --deadline 20
    h_check "$name: the peer's message was acknowledged" \
        h_wait_for "P$name" '.event == "delivered"' 20
    sleep 0.5
    h_stop "$name"
}

run AJ
texts=$(h_events AJ 'select(.event == "message") | .text')
h_eq "JSON: one message event" 1 "$(h_count AJ '.event == "message"')"
h_check "JSON: the message is there" grep -q sp5 <<<"$texts"
h_eq "JSON: no bidi control in the message text" 0 \
    "$(h_events AJ 'select(.event == "message") | .text' | jq -r . | h_bidi_lines)"

H_PLAIN=1 run AP
line=$(grep sp5 "$H_TMP/AP.out")
h_log "plain output line: $line"
h_eq "plain: the message is on one line" 1 "$(grep -c sp5 "$H_TMP/AP.out")"
h_check "plain: that line holds the whole message" grep -q "sp5.*delivered 1234.*transfer approved" \
    <<<"$line"
h_eq "plain: one line from \"Bob: \" (no forged one)" 1 "$(grep -c '^Bob: ' "$H_TMP/AP.out")"
h_eq "plain: no forged receipt or approval line" 0 \
    "$(grep -c -E '^(Bob: )?(\(delivered|transfer approved)' "$H_TMP/AP.out")"
h_eq "plain: no U+202E anywhere in the output" 0 "$(grep -c "$RLO" "$H_TMP/AP.out")"
h_eq "plain: no bidi control anywhere in the output" 0 "$(h_bidi_lines <"$H_TMP/AP.out")"
h_finish AJ PAJ AP PAP
