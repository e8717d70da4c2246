#!/usr/bin/env bash
# Silent strangers cannot exhaust A's descriptors (issue items 8 and 11). While A tries to reach
# B (B not running yet), 200 connections from 127.0.0.1 to A's port send nothing and stay open
# (any that A closes is opened again). A must hold at most about 8 of them (per source address):
# its descriptor count stays within baseline + 8 + a few of its own; and the real B, started
# during the flood, still connects and its message arrives.
source "$(dirname "$0")/lib.sh"
h_require

h_make_b
h_cli A --port 0 --peer "@$H_TMP/B.code" --write-code "$H_TMP/A.code" --timeout 55
h_wait_file "$H_TMP/A.code" 20 || { h_bad "A wrote its code"; h_finish A; }
A_PORT=$(h_port_of A)
A_PID=${H_PID[A]}
h_wait_for A '.event == "state" and .state == "connecting"' 10
sleep 1
base=0
for _ in 1 2 3 4 5; do # A's own descriptors while it punches (its dial sockets come and go)
    n=$(h_fds "$A_PID")
    [[ $n -gt $base ]] && base=$n
    sleep 0.1
done
h_log "A's descriptors before the flood: $base"
h_py S silent --target "127.0.0.1:$A_PORT" --count 200 --duration 30 --ready-file "$H_TMP/S.ready"
sleep 4
peak=0
for _ in $(seq 1 30); do
    n=$(h_fds "$A_PID")
    [[ $n -gt $peak ]] && peak=$n
    sleep 0.1
done
h_log "silent flood: $(grep '"silent"' "$H_TMP/S.out" | tail -n 1)"
h_le "A's descriptors during the flood stay within baseline + 8 per source + 4" "$peak" $((base + 12))
h_cli B --profile "$H_TMP/B.profile" --port "$B_PORT" --peer "@$H_TMP/A.code" \
    --say "through the flood (sf1)"
h_check "B gets through during the flood: A shows its message" \
    h_wait_for A '.event == "message" and (.text | contains("sf1"))' 20
h_check "the flood was still on when B got through" h_alive S
h_check "A is still running" h_alive A
h_finish A S B
