#!/usr/bin/env bash
# Junk from strangers is dropped quietly (issue items 8 and 11). While A tries to reach B (B not
# running yet), 900 connections to A's port send junk (random bytes, an HTTP request, a wrong
# magic). A must summarise them: a handful of `stranger-dropped` error events (at most one per
# 10 s), not one error per connection; A keeps going and B, started afterwards, gets through.
source "$(dirname "$0")/lib.sh"
h_require

h_make_b
h_cli A --port 0 --peer "@$H_TMP/B.code" --write-code "$H_TMP/A.code" --timeout 55
h_wait_file "$H_TMP/A.code" 20 || { h_bad "A wrote its code"; h_finish A; }
A_PORT=$(h_port_of A)
h_wait_for A '.event == "state" and .state == "connecting"' 10
h_py J junk --target "127.0.0.1:$A_PORT" --count 900 --kinds random,http,magic --parallel 8
h_wait_exit J 40 || h_bad "the 900 junk connections were sent within 40 s"
h_log "junk: $(tail -n 1 "$H_TMP/J.out")"
h_check "A is still running after the junk" h_alive A
# The summary may wait for the end of its 10 s window.
h_check "A summarised the strangers in a stranger-dropped error event" \
    h_wait_for A '.event == "error" and .code == "stranger-dropped"' 12
stranger_codes='.event == "error" and (.code == "stranger-dropped" or .code == "not-punchline" or .code == "protocol-error" or .code == "socket-error" or .code == "tls-error")'
n=$(h_count A "$stranger_codes")
h_log "A's error events about strangers: $n ($(h_events A "select($stranger_codes) | .code" |
    sort | uniq -c | tr -s ' \n' ' '))"
h_le "a handful of error events for 900 junk connections, not one each" "$n" 5
h_log "A says: $(h_field A error .message)"
h_cli B --profile "$H_TMP/B.profile" --port "$B_PORT" --peer "@$H_TMP/A.code" --say "after the junk (aj2)"
h_check "B gets through after the junk: A shows its message" \
    h_wait_for A '.event == "message" and (.text | contains("aj2"))' 15
h_finish A J B
