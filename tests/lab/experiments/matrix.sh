#!/usr/bin/env bash
# Simultaneous-open experiments behind the lab's NATs with punch.py (needs python3; not part of
# the tests). Prints one line per trial and a summary per case.
#   experiments/matrix.sh [TRIALS]        (default 3; env CASES to pick cases, see below)
# A case is NAT_A/NAT_B/DELAY_MS/GAP_S/MODE, MODE one of:
#   plain   both sides: connect() retry loop from one port (SO_REUSEADDR+SO_REUSEPORT)
#   ttl     both sides: one TTL-2 SYN first, then the plain loop
#   listen  A: listen + one TTL-2 SYN, no connect; B: plain loop (B starts GAP_S later)
set -u
here=$(cd "$(dirname "$0")" && pwd)
LAB=$here/../lab.sh
PUNCH=$here/punch.py
trials=${1:-3}
cases=${CASES:-"drop/drop/0/0/plain drop/drop/0/10/plain drop/drop/20/0/plain drop/drop/20/10/plain
rst/rst/0/0/plain rst/rst/0/10/plain rst/rst/20/0/plain rst/rst/20/10/plain
drop/rst/0/0/plain drop/rst/0/10/plain rst/drop/0/10/plain drop/rst/20/10/plain
symmetric/drop/0/0/plain
rst/rst/0/0/ttl rst/rst/0/10/ttl rst/rst/20/10/ttl
rst/rst/0/1/listen"}
export LAB_ID=${LAB_TEST_ID:-plx$$}
# shellcheck source=../lab.sh
source "$LAB"
trap 'lab_down' EXIT
trap 'exit 130' INT TERM
out=$(mktemp -d)
port=41000
for c in $cases; do
    IFS=/ read -r na nb delay gap mode <<<"$c"
    lab_down
    NAT_A=$na NAT_B=$nb DELAY_MS=$delay LAB_STUN=0 CT_LIBERAL=${CT_LIBERAL:-0} lab_up || exit 1
    ok=0
    times=()
    for ((t = 1; t <= trials; t++)); do
        port=$((port + 2))
        pa=$port pb=$((port + 1))
        aargs=(--deadline $((gap + 15))) bargs=(--deadline 15)
        case $mode in
        ttl) aargs+=(--ttl-first 2) bargs+=(--ttl-first 2) ;;
        listen) aargs+=(--listen --ttl-first 2 --no-retry) ;;
        esac
        lab_exec hostA timeout 60 python3 "$PUNCH" --port $pa --peer "$LAB_IP_NATB_WAN:$pb" "${aargs[@]}" \
            >"$out/a" 2>&1 &
        apid=$!
        sleep "$gap"
        lab_exec hostB timeout 60 python3 "$PUNCH" --port $pb --peer "$LAB_IP_NATA_WAN:$pa" "${bargs[@]}" \
            >"$out/b" 2>&1
        rb=$?
        wait $apid
        ra=$?
        if [[ $ra == 0 && $rb == 0 ]]; then
            ok=$((ok + 1))
            # time from B's start to B connected
            tb=$(grep '"event": "connected"' "$out/b" | sed 's/.*"t": \([0-9.]*\).*/\1/')
            times+=("$tb")
            how="A:$(grep -o '"how": "[a-z]*"' "$out/a" | cut -d'"' -f4) B:$(grep -o '"how": "[a-z]*"' "$out/b" | cut -d'"' -f4)"
        else
            how="A:$(grep -c ECONNREFUSED "$out/a")refused/$(grep -c '"timeout"' "$out/a")timeout/$(grep -c EHOSTUNREACH "$out/a")unreach B:$(grep -c ECONNREFUSED "$out/b")refused/$(grep -c '"timeout"' "$out/b")timeout"
        fi
        printf '  %-24s trial %d: A=%s B=%s %s\n' "$c" "$t" "$ra" "$rb" "$how"
    done
    printf 'CASE %-24s %d/%d connected; B connect times (s): %s\n' "$c" "$ok" "$trials" "${times[*]:-}"
done
rm -rf "$out"
