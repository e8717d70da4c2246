#!/usr/bin/env bash
# Relay throughput beside direct on the same lab path (issue 12, measurements). Root needed.
#
# The lab: drop/drop NATs, DELAY_MS (default 0: veth links, RTT ~0), coturn on the stun host as
# the lab always runs it (TURN, TCP relaying). Each round sends the same SIZE_MB random file from
# hostA to hostB with punchline-cli (A --send, B --accept all, both --exit-when-done), twice:
#   direct   A and B punch directly (natA WAN <-> natB WAN through inet);
#   relay    inet drops everything between the two NATs' WAN addresses, A has
#            --turn turn:friend:...@198.51.100.10:3478, so B reaches A through coturn 1
#            (the stream crosses inet twice: natB -> stun host -> natA).
# Throughput: file size / `elapsed_ms` of B's `done` event (accept -> verified and renamed). The
# path of each run is checked (`connected` event: direct / relay), else the run does not count.
# Also coturn's CPU time during the relayed run (utime+stime of its process from /proc) per
# second of transfer: near 100 % of one core would mean coturn itself is the ceiling.
# MB = 10^6 bytes; the ratio relay / direct is taken within a round, the median over rounds is
# reported. Writes Markdown to bench/results/relay.md (OUT=...).
#
#   PUNCHLINE_CLI=build-rel/app/punchline-cli bench/relay_bench.sh
#   RUNS=1 SIZE_MB=64 bench/relay_bench.sh                          # quick look
#
# Env: PUNCHLINE_CLI / PUNCHLINE_BINARY_DIR (as the lab tests; use a Release build), RUNS
# (default 3), SIZE_MB (default 512), DELAY_MS (default 0), OUT.
set -u
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=../tests/lab/lab_test.sh
source "$here/../tests/lab/lab_test.sh"
RUNS=${RUNS:-3}
SIZE_MB=${SIZE_MB:-512}
DELAY=${DELAY_MS:-0}
OUT=${OUT:-$here/results/relay.md}
[[ "$RUNS" =~ ^[0-9]+$ && "$RUNS" -ge 1 && "$RUNS" -le 20 ]] || { echo "RUNS must be 1..20"; exit 2; }
[[ "$SIZE_MB" =~ ^[0-9]+$ && "$SIZE_MB" -ge 1 && "$SIZE_MB" -le 8192 ]] || { echo "SIZE_MB must be 1..8192"; exit 2; }
lt_require_cli
lt_init
LT_HARD_TIMEOUT=900
DATA=$(mktemp -d "${TMPDIR:-/tmp}/pl-relaybench.XXXXXX")
trap 'lt_cleanup; rm -rf "$DATA"' EXIT
FILE=$DATA/payload.bin
head -c $((SIZE_MB * 1000 * 1000)) /dev/urandom >"$FILE"
BYTES=$(stat -c %s "$FILE")
TURN1="turn:$LAB_TURN_USER:$LAB_TURN_PASS@$LAB_IP_STUN1:$LAB_STUN_PORT"
lt_lab_up drop drop "$DELAY"

block() { # add|del
    local op=-I
    [[ $1 == del ]] && op=-D
    lab_exec inet iptables -w 5 "$op" FORWARD -s "$LAB_IP_NATA_WAN" -d "$LAB_IP_NATB_WAN" -j DROP &&
        lab_exec inet iptables -w 5 "$op" FORWARD -s "$LAB_IP_NATB_WAN" -d "$LAB_IP_NATA_WAN" -j DROP
}
ticks() { # PID: utime+stime in clock ticks
    awk '{ sub(/.*\) /, ""); print $12 + $13 }' "/proc/$1/stat" 2>/dev/null || echo 0
}
HZ=$(getconf CLK_TCK)
COTURN_PID=$(cat "$(lab_rundir)/coturn.pid")

# run KIND N: one transfer on ports 41000+2N / 42000+2N (a new pair each run: the blocked
# direct attempts of a relayed run leave half-open entries in the NATs' conntrack tables that
# would hold the same 4-tuples for a while); prints "MB/s coturn-cpu-%" (or "fail ...").
run() {
    local kind=$1 n=$2 a_extra=() c0 c1 ms path
    lt_reset_clis >&2
    mkdir -p "$LT_TMP/dl"
    if [[ $kind == relay ]]; then
        block add || { echo "fail block"; return; }
        a_extra=(--turn "$TURN1")
    fi
    c0=$(ticks "$COTURN_PID")
    lt_cli_start A hostA $((41000 + 2 * n)) --write-code "$LT_TMP/A.code" --peer "@$LT_TMP/B.code" \
        "${a_extra[@]}" --send "$FILE" --timeout 60 --exit-when-done >/dev/null
    lt_cli_start B hostB $((42000 + 2 * n)) --write-code "$LT_TMP/B.code" --peer "@$LT_TMP/A.code" \
        --accept all --download-dir "$LT_TMP/dl" --timeout 60 --exit-when-done >/dev/null
    lt_cli_wait A 900
    lt_cli_wait B 60
    c1=$(ticks "$COTURN_PID")
    [[ $kind == relay ]] && block del
    path=$(lt_field B connected .path)
    ms=$(lt_events B 'select(.event == "transfer" and .state == "done") | .elapsed_ms' | head -n1)
    if [[ "${LT_RC[A]}" != 0 || "${LT_RC[B]}" != 0 || "$path" != "$kind" || -z "$ms" ]]; then
        echo "fail rc=${LT_RC[A]}/${LT_RC[B]} path=$path"
        return
    fi
    # coturn's CPU over the run, per second of transfer (it does next to nothing otherwise).
    awk -v b="$BYTES" -v ms="$ms" -v c="$((c1 - c0))" -v hz="$HZ" \
        'BEGIN { printf "%.1f %.0f\n", b / 1e6 / (ms / 1000), 100 * c / hz / (ms / 1000) }'
}

declare -a D=() R=() Q=() C=()
for ((i = 1; i <= RUNS; i++)); do
    d=$(run direct $((2 * i)))
    r=$(run relay $((2 * i + 1)))
    lt_log "round $i: direct $d, relay $r"
    [[ $d == fail* || $r == fail* ]] && continue
    D+=("${d% *}")
    R+=("${r% *}")
    C+=("${r#* }")
    Q+=("$(awk -v a="${r% *}" -v b="${d% *}" 'BEGIN{printf "%.2f", a / b}')")
done
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {if (NR) print (NR % 2 ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2)}'; }
if ((${#Q[@]} == 0)); then
    echo "no round succeeded"
    exit 1
fi
LINE="relay / direct: median ratio $(median "${Q[@]}") over ${#Q[@]} round(s) (direct $(median "${D[@]}") MB/s, relay $(median "${R[@]}") MB/s, coturn CPU $(median "${C[@]}") % of one core)"
echo "$LINE"

commit=$(git -C "$here/.." rev-parse --short HEAD 2>/dev/null || echo unknown)
{
    echo "# Relay throughput beside direct"
    echo
    echo "\`bench/relay_bench.sh\` (RUNS=$RUNS SIZE_MB=$SIZE_MB DELAY_MS=$DELAY), commit $commit, $(date -u +%Y-%m-%d)."
    echo "Machine: $(nproc) CPUs ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'))," \
        "$(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(uname -sr)," \
        "shared with other builds and tests while it ran."
    echo "Program: \`$PUNCHLINE_CLI\`."
    echo
    echo "A sends B a $SIZE_MB MB file; the same lab (drop/drop NATs, DELAY_MS $DELAY); relayed runs"
    echo "block the direct path in inet and give A a TURN account on coturn 1, so B reaches A through"
    echo "the relay. MB/s = file size / \`elapsed_ms\` of B's \`done\` event."
    echo
    echo "| round | direct MB/s | relay MB/s | relay / direct | coturn CPU (% of one core) |"
    echo "|---|---|---|---|---|"
    for ((k = 0; k < ${#Q[@]}; k++)); do
        echo "| $((k + 1)) | ${D[$k]} | ${R[$k]} | ${Q[$k]} | ${C[$k]} |"
    done
    echo
    echo "**$LINE.**"
} >"$OUT"
echo "wrote $OUT"
