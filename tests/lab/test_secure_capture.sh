#!/usr/bin/env bash
# Chat text never crosses the Internet in clear (issue 3). drop/drop lab (DELAY_MS 0); tcpdump in
# `inet` on `toA` (inet's end of natA's WAN link, so every packet natA sends or receives) writes
# a pcap while A and B connect and chat with a distinctive text both ways. Asserts:
# - the chat happened (each side printed the other's text, delivered receipts);
# - the capture holds the connection: packets between the two NATs' public addresses, some
#   carrying data, and the clear-text preamble "PUNCHLN1" (a positive control: grep does find
#   clear text in this pcap);
# - the texts appear nowhere in the raw capture bytes: not as ASCII/UTF-8 (whole or its
#   distinctive parts), not as UTF-16LE/BE, not as hex, not as base64.
set -u
source "$(dirname "$0")/lab_test.sh"
lt_require_cli
command -v tcpdump >/dev/null || { echo "tcpdump is needed (apt-get install tcpdump)"; exit 77; }
lt_init
lt_lab_up drop drop 0

TEXT_A="the eagle lands at 0600 zq9x"
TEXT_B="roger, the eagle lands at 0600 zq9x, over"
TEXT_A2="l'aigle atterrit à 0600 zq9x ✓ (kw7vj)"
PCAP=$LT_TMP/inet-toA.pcap

# (ip netns exec directly, not the lab_exec function, so $! is timeout's pid and TERM reaches
# tcpdump, which then flushes and exits)
ip netns exec "$(lab_ns inet)" timeout -k 2 120 tcpdump -i toA -n -s 0 -U --immediate-mode -c 50000 -w "$PCAP" \
    >"$LT_TMP/tcpdump.out" 2>"$LT_TMP/tcpdump.err" &
CAP_PID=$!
LT_BG+=("$CAP_PID")
for ((i = 0; i < 50; i++)); do
    grep -q 'listening on' "$LT_TMP/tcpdump.err" 2>/dev/null && break
    sleep 0.1
done
lt_check "tcpdump listening on inet's toA" grep -q 'listening on' "$LT_TMP/tcpdump.err"

lt_cli_start A hostA 41000 --write-code "$LT_TMP/A.code" --peer "@$LT_TMP/B.code" \
    --say "$TEXT_A" --say "$TEXT_A2" --timeout 60 --exit-when-done
lt_cli_start B hostB 42000 --write-code "$LT_TMP/B.code" --peer "@$LT_TMP/A.code" \
    --say "$TEXT_B" --timeout 60 --exit-when-done
lt_cli_wait A 90
lt_cli_wait B 15
sleep 0.5 # the last packets (acks, Bye) reach the capture
kill -TERM "$CAP_PID" 2>/dev/null
wait "$CAP_PID" 2>/dev/null

lt_eq "A exit code" 0 "${LT_RC[A]}"
lt_eq "B exit code" 0 "${LT_RC[B]}"
lt_check_connected A direct "$LAB_IP_NATB_WAN"
lt_check_connected B direct "$LAB_IP_NATA_WAN"
lt_check_message A B "$TEXT_A"
lt_check_message A B "$TEXT_A2"
lt_check_message B A "$TEXT_B"

# The capture holds the connection.
size=$(stat -c %s "$PCAP" 2>/dev/null || echo 0)
lt_check "capture is not empty ($size bytes)" test "$size" -gt 24
between="tcp and host $LAB_IP_NATA_WAN and host $LAB_IP_NATB_WAN"
n_all=$(tcpdump -r "$PCAP" -n "$between" 2>/dev/null | wc -l)
n_data=$(tcpdump -r "$PCAP" -n \
    "$between and (((ip[2:2] - ((ip[0] & 0xf) << 2)) - ((tcp[12] & 0xf0) >> 2)) != 0)" 2>/dev/null | wc -l)
lt_log "capture: $size bytes, $n_all packets between $LAB_IP_NATA_WAN and $LAB_IP_NATB_WAN, $n_data with data"
lt_check "capture: at least 10 packets between the peers' public addresses ($n_all)" test "$n_all" -ge 10
lt_check "capture: at least 6 of them carry data ($n_data)" test "$n_data" -ge 6
c=$(LC_ALL=C grep -c -a -F 'PUNCHLN1' "$PCAP")
lt_check "capture: positive control, the clear-text preamble PUNCHLN1 is found ($c)" test "$c" -ge 1

# count_bytes FILE PERL_REGEX: lines of a raw file matching (binary-safe, no locale).
count_bytes() { LC_ALL=C grep -c -a -P -- "$2" "$1"; }
# to_regex / as_regex TEXT: bytes (stdin / TEXT) as \xHH..., so UTF-8 and punctuation match literally.
to_regex() { od -An -v -tx1 | tr -s ' \n' ' ' | sed -E 's/ ?([0-9a-f]{2})/\\x\1/g; s/ //g'; }
as_regex() { printf '%s' "$1" | to_regex; }
# utf16 TEXT le|be: the UTF-16 bytes of TEXT as a regex.
utf16() { printf '%s' "$1" | iconv -f UTF-8 -t "UTF-16${2^^}" | to_regex; }
hexof() { printf '%s' "$1" | od -An -v -tx1 | tr -d ' \n'; }
b64of() { local b; b=$(printf '%s' "$1" | base64 -w0 | tr -d '='); printf '%s' "${b:0:24}"; }
# forms FILE TEXT: prints "form count" for every encoding of TEXT looked for in FILE.
forms() {
    local f=$1 t=$2
    echo "UTF-8 $(count_bytes "$f" "$(as_regex "$t")")"
    echo "any-case $(LC_ALL=C grep -c -a -i -F -- "$t" "$f")"
    echo "UTF-16LE $(count_bytes "$f" "$(utf16 "$t" le)")"
    echo "UTF-16BE $(count_bytes "$f" "$(utf16 "$t" be)")"
    echo "hex $(LC_ALL=C grep -c -a -i -F -- "$(hexof "$t")" "$f")"
    echo "base64 $(LC_ALL=C grep -c -a -F -- "$(b64of "$t")" "$f")"
}

# TLS 1.3 was negotiated: the ServerHello (clear text) carries supported_versions = 0x0304.
c=$(count_bytes "$PCAP" '\x00\x2b\x00\x02\x03\x04')
lt_check "capture: a ServerHello selecting TLS 1.3 (supported_versions 0x0304) ($c)" test "$c" -ge 1

# Control: each search finds its form when it is there (so a 0 below means absent).
CONTROL=$LT_TMP/control.bin
for t in "$TEXT_A2" "zq9x"; do
    {
        head -c 64 /dev/urandom
        printf '%s' "$t"
        head -c 64 /dev/urandom
        printf '%s' "$t" | iconv -f UTF-8 -t UTF-16LE
        head -c 64 /dev/urandom
        printf '%s' "$t" | iconv -f UTF-8 -t UTF-16BE
        printf '\n%s\n%s\n' "$(hexof "$t")" "$(printf '%s' "$t" | base64 -w0)"
        head -c 64 /dev/urandom
    } >"$CONTROL"
    missed=$(forms "$CONTROL" "$t" | awk '$2 == 0 {print $1}' | tr '\n' ' ')
    lt_eq "control: every form of '$t' is found in a file that holds them" "" "$missed"
done

for t in "$TEXT_A" "$TEXT_B" "$TEXT_A2" "eagle lands" "zq9x" "kw7vj" "atterrit"; do
    while read -r form n; do
        if [[ $form == base64 && ${#t} -lt 18 ]]; then continue; fi
        lt_eq "not in the capture as $form: '$t'" 0 "$n"
    done < <(forms "$PCAP" "$t")
done
if [[ $LT_FAIL -gt 0 ]]; then
    lt_dump A
    lt_dump B
    sed 's/^/#   tcpdump: /' "$LT_TMP/tcpdump.err"
fi
lt_finish
