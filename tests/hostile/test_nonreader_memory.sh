#!/usr/bin/env bash
# A peer that never reads cannot make A buffer without bound (issue item 4). A Python peer
# with a real session (A trusts it on first use by its address) floods A with pings (each pong
# as big as its ping) and never reads the pongs, for up to 150 MB or 28 s. A must not take them
# forever: it pushes back or ends the link (the flooder's writes fail before its deadline, with
# an error event from A: a protocol error, or the peer counted as silent once A stops reading
# it, --peer-timeout 10), and its resident memory stays within +64 MB of what it was before.
# Before the fix A read and answered everything at the sanitizer build's pace (about 1 MB/s)
# and queued every pong: it never ended the link and its memory grew with the flood.
# The sanitizer's quarantine keeps freed memory resident (256 MB by default): keep it small so
# that only memory A still holds counts.
export ASAN_OPTIONS="detect_leaks=0:quarantine_size_mb=8"
source "$(dirname "$0")/lib.sh"
h_require
FLOOD_MB=${HOSTILE_FLOOD_MB:-150}
LIMIT_KB=$((64 * 1024))
python3 "$H_TOOL" mkcert "$H_TMP/P" >/dev/null
P_PORT=$(h_free_port)

h_cli A --port 0 --peer "127.0.0.1:$P_PORT" --write-code "$H_TMP/A.code" --timeout 55 \
    --peer-timeout 10
h_wait_file "$H_TMP/A.code" 20 || { h_bad "A wrote its code"; h_finish A; }
A_PORT=$(h_port_of A)
A_PID=${H_PID[A]}
h_py P peer --target "127.0.0.1:$A_PORT" --cert "$H_TMP/P/cert.pem" --key "$H_TMP/P/key.pem" \
    --bind-port "$P_PORT" --name Sponge --no-read --rcvbuf 4096 --ping-flood-mb "$FLOOD_MB" \
    --flood-stall 20 --hold 2 --deadline 28
h_check "A connected to the peer" h_wait_for A '.event == "connected"' 15
sleep 0.5
base=$(h_rss_kb "$A_PID")
h_log "A's RSS before the flood: $((base / 1024)) MB"
peak=$base
while h_alive P && h_alive A; do
    rss=$(h_rss_kb "$A_PID")
    [[ $rss -gt $peak ]] && peak=$rss
    sleep 0.2
done
h_wait_exit P 10
h_log "peer: $(grep -E '"flood-(done|stalled|ended)"' "$H_TMP/P.out" | tail -n 1)"
h_log "A's RSS peak: $((peak / 1024)) MB (+$(((peak - base) / 1024)) MB)"
h_le "A's memory grew by at most 64 MB (KiB)" $((peak - base)) "$LIMIT_KB"
h_check "A ended the link on the flooding peer (its writes failed before its deadline)" \
    grep -q '"flood-ended"' "$H_TMP/P.out"
h_check "A reported an error about the link" \
    h_wait_for A '.event == "error" and (.code == "protocol-error" or .code == "peer-lost")' 5
h_log "A's errors: $(h_events A 'select(.event == "error") | .code + ": " + .message' | head -n 3)"
h_finish A P
