#!/usr/bin/env bash
# What a stranger sees of the friend finder: tcpdump on the lab's Internet router (every link:
# both homes and the DHT nodes) while A and B make friends by one-way paste (LAB_DHT=3,
# drop/drop) and chat. No UDP payload (the DHT's traffic) may contain either fingerprint (raw
# bytes, hex text in either case, or its first 8 bytes), either display name, or a local
# address (192.0.2.x as text or as 4 raw bytes). The capture must hold DHT traffic from both
# homes' public addresses, so the scan is not vacuous.
set -u
source "$(dirname "$0")/lab_test.sh"
lt_require_cli
lt_init
command -v tcpdump >/dev/null || { echo "tcpdump is needed"; exit 77; }
LAB_DHT=3 lt_lab_up drop drop 0
lt_dht_args
pcap=$LT_TMP/inet.pcap
# ip netns exec execs tcpdump: $! is tcpdump itself, so the SIGINT below reaches it (through
# lab_exec, a function, $! would be a subshell that ignores it, and `wait` would hang).
ip netns exec "$(lab_ns inet)" tcpdump -i any -s 0 -U -w "$pcap" udp >"$LT_TMP/tcpdump.log" 2>&1 &
tcpdump=$!
LT_BG+=("$tcpdump")
sleep 1
name_a="Zanzibar-Quokka-$RANDOM"
name_b="Xylophone-Marmot-$RANDOM"
lt_log "== one-way paste with names $name_a and $name_b, under capture"
# Both stay up until the chat crossed both ways, then are stopped (their "going offline"
# records are in the capture too).
LT_B_ARGS=(--name "$name_b" --say "hello from B")
lt_dht_oneway all --name "$name_a" --say "hello from A"
LT_B_ARGS=()
lt_wait_event A '.event == "delivered"' 60 >/dev/null
lt_wait_event B '.event == "delivered"' 15 >/dev/null
lt_eq "A: via" dht "$(lt_field A connected .via)"
lt_eq "A: B's name" "$name_b" "$(lt_field A connected .peer_name)"
lt_check_message A B "hello from A"
lt_check_message B A "hello from B"
lt_stop A
lt_stop B
lt_eq "A exit code after TERM" 0 "${LT_RC[A]}"
lt_eq "B exit code after TERM" 0 "${LT_RC[B]}"
sleep 2
kill -INT "$tcpdump" 2>/dev/null
for ((i = 0; i < 50; i++)); do kill -0 "$tcpdump" 2>/dev/null || break; sleep 0.1; done
kill -KILL "$tcpdump" 2>/dev/null
wait "$tcpdump" 2>/dev/null
a_fp=$(lt_field A addresses .fingerprint)
b_fp=$(lt_field B addresses .fingerprint)
lt_check "both fingerprints known" test ${#a_fp} -eq 64 -a ${#b_fp} -eq 64
ipraw() { printf '%02x' ${1//./ }; }
args=(--hex "$a_fp" --hex "$b_fp" --hex "${a_fp:0:16}" --hex "${b_fp:0:16}"
    --text "$name_a" --text "$name_b" --text "192.0.2." --hex "$(ipraw "$LAB_IP_HOSTA")"
    --hex "$(ipraw "$LAB_IP_HOSTB")")
result=$(/usr/bin/python3 "$LT_DIR/tools/pcap_scan.py" "$pcap" "${args[@]}")
lt_log "scan: $(jq -c '{udp_packets, udp_payload_bytes, hits: (.hits | length)}' <<<"$result")"
lt_eq "no fingerprint, name or local address in any UDP payload" "[]" "$(jq -c '.hits' <<<"$result")"
lt_check "the capture holds DHT traffic (> 50 UDP packets)" test "$(jq -r '.udp_packets // 0' <<<"$result")" -gt 50
for ip in "$LAB_IP_NATA_WAN" "$LAB_IP_NATB_WAN"; do
    n=$(lab_exec inet tcpdump -r "$pcap" -nn "udp and src host $ip and dst port $LAB_DHT_PORT" 2>/dev/null | wc -l)
    lt_check "DHT packets from $ip in the capture: $n" test "$n" -gt 0
done
if ((LT_FAIL)); then
    jq . <<<"$result" | sed 's/^/#   /' | head -n 40
    lt_dump A
    lt_dump B
fi
lt_finish
