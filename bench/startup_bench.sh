#!/usr/bin/env bash
# Startup time (issue 15 target 6; root needed: namespaces).
#
# Two figures, each over ROUNDS fresh processes, timed from the moment this script starts the
# process (so dynamic loading and Qt's start-up count):
#   code ready   the window (`punchline`, QT_QPA_PLATFORM=offscreen, PUNCHLINE_STARTUP_TRACE=1
#                logs the first code) and punchline-cli (its `addresses` event, which carries
#                the code) on the lab's hostA behind a NAT, asking the lab's two STUN servers
#                over TCP; DELAY_MS each way on natA's and natB's links, so hostA's RTT to the
#                STUN servers is 2 x DELAY_MS. With port mapping on (what the window and the CLI
#                do for users; the lab's routers answer neither UPnP nor NAT-PMP, like many
#                home routers) and off, and with a third STUN server that never answers.
#   first paint  the window's first paint event (PUNCHLINE_STARTUP_TRACE), no network at all
#                (--stun none, no DHT, no mapping): a new profile (first start: key and
#                certificate made) and the same profile again.
# Baselines in the same run: `ping` RTT to the STUN server, and the floor for a STUN answer over
# TCP (connect + Binding request/answer: 2 RTT) timed by a python3 client in hostA; a new process
# of `ip netns exec ... true` (what starting anything in the namespace costs).
# Target: code ready <= 1 RTT to the slowest answering STUN server + 50 ms; first paint <= 300 ms.
#
#   bench/startup_bench.sh                      # ROUNDS=7 DELAY_MS=20
#   ROUNDS=3 DELAY_MS=0 bench/startup_bench.sh
#
# Env: PUNCHLINE_BINARY_DIR (or PUNCHLINE_CLI and PUNCHLINE_WINDOW), BASE_DIR (another build's
# punchline-cli and punchline, measured in the same rounds), ROUNDS, DELAY_MS, OUT
# (default bench/results/startup.md), LAB_TEST_ID (lab id).
set -u
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=../tests/lab/lab_test.sh
source "$here/../tests/lab/lab_test.sh"

ROUNDS=${ROUNDS:-7}
DELAY=${DELAY_MS:-20}
OUT=${OUT:-$here/results/startup.md}
PUNCHLINE_WINDOW=${PUNCHLINE_WINDOW:-$(dirname "$PUNCHLINE_CLI")/punchline}
# BASE_DIR: a directory with another build's punchline-cli and punchline (e.g. before a change),
# measured in the same rounds, interleaved, so a loaded machine's noise hits both alike.
BASE_DIR=${BASE_DIR:-}
VARIANTS=(this)
[[ -n "$BASE_DIR" ]] && VARIANTS+=(base)
[[ "$ROUNDS" =~ ^[0-9]+$ && "$ROUNDS" -ge 1 && "$ROUNDS" -le 100 ]] || { echo "ROUNDS must be 1..100"; exit 2; }
[[ "$DELAY" =~ ^[0-9]+$ && "$DELAY" -le 500 ]] || { echo "DELAY_MS must be 0..500"; exit 2; }
lt_require_cli
[[ -x "$PUNCHLINE_WINDOW" ]] || { echo "punchline not found at $PUNCHLINE_WINDOW"; exit 77; }
lt_init
lt_lab_up drop drop "$DELAY" >/dev/null || exit 1
NS=$(lab_ns hostA)
STUN1="$LAB_IP_STUN1:$LAB_STUN_PORT"
STUN2="$LAB_IP_STUN2:$LAB_STUN_PORT"
DEAD="198.51.100.99:$LAB_STUN_PORT" # silent: inet drops what goes there (no ICMP, as a firewall)
ip netns exec "$(lab_ns inet)" iptables -I FORWARD -d 198.51.100.99 -j DROP

# pct P FILE: nearest-rank percentile of the numbers in FILE (ms, one decimal).
pct() {
    sort -n "$2" | awk -v p="$1" '{v[NR]=$1} END {if (NR == 0) {print "-"; exit}
        i=int((p*NR+99)/100); if(i<1)i=1; if(i>NR)i=NR; printf "%.1f", v[i]}'
}
now_us() { echo "${EPOCHREALTIME/./}"; }

# --- baselines -----------------------------------------------------------------------------
ping_rtt=$(ip netns exec "$NS" ping -c 5 -i 0.2 -q "$LAB_IP_STUN1" 2>/dev/null |
    awk -F'/' '/^rtt|^round-trip/ {printf "%.1f", $5}')
: >"$LT_TMP/floor.txt"
for ((r = 0; r < ROUNDS; r++)); do
    ip netns exec "$NS" python3 - "$LAB_IP_STUN1" "$LAB_STUN_PORT" >>"$LT_TMP/floor.txt" <<'EOF'
import os, socket, struct, sys, time
t0 = time.monotonic()
s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=5)
s.sendall(struct.pack("!HHI", 1, 0, 0x2112A442) + os.urandom(12))
head = b""
while len(head) < 20:
    head += s.recv(20 - len(head))
print("%.1f" % ((time.monotonic() - t0) * 1000))
EOF
done
: >"$LT_TMP/exec.txt"
for ((r = 0; r < ROUNDS; r++)); do
    t0=$(now_us)
    ip netns exec "$NS" true
    echo "$((($(now_us) - t0) / 100))" | awk '{printf "%.1f\n", $1 / 10}' >>"$LT_TMP/exec.txt"
done

# --- one process -----------------------------------------------------------------------------
# run_cli PROFILE OUTFILE args...: starts punchline-cli in hostA, records ms from start to its
# `addresses` event (appended to OUTFILE; /dev/null for a warm-up), stops it.
run_cli() {
    local prof=$1 out=$2
    shift 2
    local line t0 t1=""
    mkfifo "$LT_TMP/cli.pipe"
    t0=$(now_us)
    ip netns exec "$NS" "$CLI" --profile "$prof" --name Bench --port 41000 \
        --ip-echo none --dht none --json "$@" </dev/null >"$LT_TMP/cli.pipe" 2>"$LT_TMP/cli.err" &
    local pid=$!
    local fd
    exec {fd}<"$LT_TMP/cli.pipe"
    while IFS= read -r -t 15 -u "$fd" line; do
        if [[ $line == *'"event":"addresses"'* ]]; then
            t1=$(now_us)
            break
        fi
    done
    kill -TERM "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
    exec {fd}<&-
    rm -f "$LT_TMP/cli.pipe"
    if [[ -n "$t1" ]]; then
        awk -v d=$((t1 - t0)) 'BEGIN {printf "%.1f\n", d / 1000}' >>"$out"
    else
        echo "no addresses event: $(tail -3 "$LT_TMP/cli.err")" >&2
    fi
}

# run_window PROFILE PAINT_OUT CODE_OUT args...: the window in hostA with the startup trace;
# ms from start to its first paint and to its first code (appended to the files; "-" = none).
run_window() {
    local prof=$1 paint_out=$2 code_out=$3
    shift 3
    local t0 i paint="" code=""
    : >"$LT_TMP/win.err"
    t0=$(now_us)
    ip netns exec "$NS" env QT_QPA_PLATFORM=offscreen PUNCHLINE_STARTUP_TRACE=1 \
        "$WINDOW" --profile "$prof" --port 41000 --ip-echo none --dht none "$@" \
        </dev/null >/dev/null 2>"$LT_TMP/win.err" &
    local pid=$!
    for ((i = 0; i < 1500; i++)); do
        paint=$(awk '/^punchline-startup: first-paint/ {print $3; exit}' "$LT_TMP/win.err")
        code=$(awk '/^punchline-startup: code-ready/ {print $3; exit}' "$LT_TMP/win.err")
        [[ -n "$paint" && (-n "$code" || "$code_out" == -) ]] && break
        sleep 0.01
    done
    kill -TERM "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
    [[ -n "$paint" && "$paint_out" != - ]] && awk -v d=$((paint - t0)) 'BEGIN {printf "%.1f\n", d / 1000}' >>"$paint_out"
    [[ -n "$code" && "$code_out" != - ]] && awk -v d=$((code - t0)) 'BEGIN {printf "%.1f\n", d / 1000}' >>"$code_out"
    [[ -n "$paint" ]] || echo "window: no first paint: $(tail -3 "$LT_TMP/win.err")" >&2
}

rows=()
row() { # row NAME FILE NOTE
    local n
    n=$(wc -l <"$2")
    rows+=("| $1 | $n/$ROUNDS | $(pct 50 "$2") | $(pct 90 "$2") | $(pct 100 "$2") | $3 |")
    echo "${rows[-1]}"
}
t_start=$SECONDS

# One profile per program, made by an unmeasured first start (a user's every-day start: the key
# exists); the first paint of a new profile is measured below.
use() { # use VARIANT: the programs of this build or of BASE_DIR
    if [[ $1 == base ]]; then
        CLI=$BASE_DIR/punchline-cli WINDOW=$BASE_DIR/punchline
    else
        CLI=$PUNCHLINE_CLI WINDOW=$PUNCHLINE_WINDOW
    fi
}
for v in "${VARIANTS[@]}"; do
    use "$v"
    run_cli "$LT_TMP/p-cli-$v" /dev/null --stun none --port-mapping off
    run_window "$LT_TMP/p-win-$v" - - --stun none --port-mapping off
    for f in cli-off cli-on win-off win-on cli-dead-off cli-dead-on paint-new paint-again; do
        : >"$LT_TMP/$f-$v.txt"
    done
done
for ((r = 0; r < ROUNDS; r++)); do
    for v in "${VARIANTS[@]}"; do
        use "$v"
        for mapping in off on; do
            run_cli "$LT_TMP/p-cli-$v" "$LT_TMP/cli-$mapping-$v.txt" --stun "$STUN1" \
                --stun "$STUN2" --port-mapping "$mapping"
            run_window "$LT_TMP/p-win-$v" - "$LT_TMP/win-$mapping-$v.txt" --stun "$STUN1" \
                --stun "$STUN2" --port-mapping "$mapping"
            run_cli "$LT_TMP/p-cli-$v" "$LT_TMP/cli-dead-$mapping-$v.txt" --stun "$STUN1" \
                --stun "$STUN2" --stun "$DEAD" --port-mapping "$mapping"
        done
        prof="$LT_TMP/p-paint-$v-$r"
        run_window "$prof" "$LT_TMP/paint-new-$v.txt" - --stun none --port-mapping off
        run_window "$prof" "$LT_TMP/paint-again-$v.txt" - --stun none --port-mapping off
    done
done

target=$(awk -v r="$ping_rtt" 'BEGIN {printf "%.1f", r + 50}')
echo "RTT to the STUN servers $ping_rtt ms: code-ready target $target ms"
row "floor: STUN Binding over TCP (python3, connect + request)" "$LT_TMP/floor.txt" "2 RTT by the physics of TCP"
row "floor: \`ip netns exec\` of \`true\`" "$LT_TMP/exec.txt" "start-up cost of any process here"
for v in "${VARIANTS[@]}"; do
    tag=""
    [[ $v == base ]] && tag=" [base]"
    row "cli$tag: code ready (addresses event), mapping off" "$LT_TMP/cli-off-$v.txt" ""
    row "cli$tag: code ready, mapping on (router does not answer)" "$LT_TMP/cli-on-$v.txt" "what users run"
    row "cli$tag: code ready, 3rd STUN server never answers, mapping off" "$LT_TMP/cli-dead-off-$v.txt" ""
    row "cli$tag: code ready, 3rd STUN server never answers, mapping on" "$LT_TMP/cli-dead-on-$v.txt" ""
    row "window$tag: code ready, mapping off" "$LT_TMP/win-off-$v.txt" ""
    row "window$tag: code ready, mapping on" "$LT_TMP/win-on-$v.txt" "what users run"
    row "window$tag: first paint, new profile (key made)" "$LT_TMP/paint-new-$v.txt" "target <= 300 ms"
    row "window$tag: first paint, same profile again" "$LT_TMP/paint-again-$v.txt" "target <= 300 ms"
done

mkdir -p "$(dirname "$OUT")"
{
    echo "# Startup: code ready and first paint"
    echo
    echo "- date: $(date -u '+%Y-%m-%d %H:%M UTC')"
    echo "- machine: $(uname -sr), $(nproc) cores, $(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo), load average at the end $(cut -d' ' -f1-3 /proc/loadavg)"
    echo "- programs: $(realpath "$PUNCHLINE_CLI"), $(realpath "$PUNCHLINE_WINDOW") (commit $(git -C "$here/.." rev-parse --short HEAD 2>/dev/null || echo unknown))"
    [[ -n "$BASE_DIR" ]] && echo "- [base]: $(realpath "$BASE_DIR")/punchline-cli and punchline, measured in the same rounds (interleaved)"
    echo "- command: \`ROUNDS=$ROUNDS DELAY_MS=$DELAY${BASE_DIR:+ BASE_DIR=$BASE_DIR} bench/startup_bench.sh\`"
    echo "- total time: $((SECONDS - t_start)) s"
    echo
    echo "Code ready is measured with an existing profile (made by an unmeasured first start)."
    echo "Each figure: ms from starting the process (\`ip netns exec\` in the lab's hostA, behind"
    echo "NAT kind drop) to the event, over $ROUNDS fresh processes. Code ready: the CLI's"
    echo "\`addresses\` event (it carries the code); the window's first code (PUNCHLINE_STARTUP_TRACE=1,"
    echo "QT_QPA_PLATFORM=offscreen). Both ask the lab's two STUN servers over TCP (--dht none,"
    echo "--ip-echo none). DELAY_MS=$DELAY: RTT to the STUN servers (ping, mean) $ping_rtt ms, so the"
    echo "target for code ready is $target ms. First paint: the window's first paint event with no"
    echo "network at all."
    echo
    echo "| what | runs | p50 ms | p90 ms | max ms | note |"
    echo "| --- | --- | --- | --- | --- | --- |"
    printf '%s\n' "${rows[@]}"
} >"$OUT"
echo "wrote $OUT"
exit 0
