#!/usr/bin/env bash
# The relay sees only ciphertext (issue 12 §2). symmetric/symmetric lab, A with a TURN account
# on coturn 1, B without; tcpdump on the stun host's eth0 (everything the relay sends and
# receives) while they chat both ways and A sends B a file of distinctive text. Asserts: the
# chat and the file arrived (B's copy identical); the capture holds the relayed traffic
# (packets to and from natB's address, the clear-text preamble PUNCHLN1 as a positive control);
# neither chat text nor any line of the file appears in the capture's bytes (ASCII, any case,
# UTF-16, hex).
set -u
source "$(dirname "$0")/lab_test.sh"
lt_require_cli
command -v tcpdump >/dev/null || { echo "tcpdump is needed (apt-get install tcpdump)"; exit 77; }
lt_init
lt_lab_up symmetric symmetric 0
TURN1="turn:$LAB_TURN_USER:$LAB_TURN_PASS@$LAB_IP_STUN1:$LAB_STUN_PORT"
TEXT_A="the eagle lands at 0600 relayed zq9x"
TEXT_B="roger, relayed eagle at 0600 zq9x, over"
FILE=$LT_TMP/secret-plans.txt
for ((i = 0; i < 4000; i++)); do printf 'filemark-kw7vj line %05d of the secret plans\n' "$i"; done >"$FILE"
mkdir -p "$LT_TMP/dl"
PCAP=$LT_TMP/stun-eth0.pcap
ip netns exec "$(lab_ns stun)" timeout -k 2 120 tcpdump -i eth0 -n -s 0 -U --immediate-mode \
    -c 100000 -w "$PCAP" >"$LT_TMP/tcpdump.out" 2>"$LT_TMP/tcpdump.err" &
CAP_PID=$!
LT_BG+=("$CAP_PID")
for ((i = 0; i < 50; i++)); do
    grep -q 'listening on' "$LT_TMP/tcpdump.err" 2>/dev/null && break
    sleep 0.1
done
lt_check "tcpdump listening on the stun host" grep -q 'listening on' "$LT_TMP/tcpdump.err"

lt_cli_start A hostA 41000 --write-code "$LT_TMP/A.code" --peer "@$LT_TMP/B.code" \
    --turn "$TURN1" --say "$TEXT_A" --send "$FILE" --timeout 60 --exit-when-done
lt_cli_start B hostB 42000 --write-code "$LT_TMP/B.code" --peer "@$LT_TMP/A.code" \
    --say "$TEXT_B" --accept all --download-dir "$LT_TMP/dl" --timeout 60 --exit-when-done
lt_cli_wait A 90
lt_cli_wait B 15
sleep 0.5
kill -TERM "$CAP_PID" 2>/dev/null
wait "$CAP_PID" 2>/dev/null

lt_eq "A exit code" 0 "${LT_RC[A]}"
lt_eq "B exit code" 0 "${LT_RC[B]}"
lt_check_connected A relay
lt_check_connected B relay
lt_check_message A B "$TEXT_A"
lt_check_message B A "$TEXT_B"
lt_check "B's copy of the file is identical" cmp -s "$FILE" "$LT_TMP/dl/secret-plans.txt"

size=$(stat -c %s "$PCAP" 2>/dev/null || echo 0)
n_b=$(tcpdump -r "$PCAP" -n "tcp and host $LAB_IP_NATB_WAN" 2>/dev/null | wc -l)
lt_log "capture: $size bytes, $n_b packets to/from natB ($LAB_IP_NATB_WAN)"
lt_check "capture: the relayed stream to natB is in it ($n_b packets)" test "$n_b" -ge 20
lt_check "capture: positive control, the clear-text preamble PUNCHLN1 is found" \
    test "$(LC_ALL=C grep -c -a -F 'PUNCHLN1' "$PCAP")" -ge 1
to_regex() { od -An -v -tx1 | tr -s ' \n' ' ' | sed -E 's/ ?([0-9a-f]{2})/\\x\1/g; s/ //g'; }
absent() { # DESCRIPTION TEXT
    local t=$2 n
    n=$(LC_ALL=C grep -c -a -i -F -- "$t" "$PCAP")
    n=$((n + $(LC_ALL=C grep -c -a -P -- "$(printf '%s' "$t" | iconv -f UTF-8 -t UTF-16LE | to_regex)" "$PCAP")))
    n=$((n + $(LC_ALL=C grep -c -a -i -F -- "$(printf '%s' "$t" | od -An -v -tx1 | tr -d ' \n')" "$PCAP")))
    lt_eq "capture: $1 is not in it" 0 "$n"
}
absent "A's chat text" "$TEXT_A"
absent "B's chat text" "$TEXT_B"
absent "a distinctive part of the chat" "eagle lands"
absent "the file's marker" "filemark-kw7vj"
absent "a line of the file" "line 01234 of the secret plans"
[[ $LT_FAIL -gt 0 ]] && { lt_dump A; lt_dump B; }
lt_finish
