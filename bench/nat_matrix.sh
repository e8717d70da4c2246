#!/usr/bin/env bash
# NAT matrix of punchline-cli in the namespace lab (root needed): for every pair of home kinds,
# the path used, success over RUNS runs and the later peer's connect time p50/p95, at
# DELAY_MS=20 (RTT 80 ms). Writes a Markdown table to bench/results/nat-matrix.md (OUT=...).
# Not part of the tests.
#
#   bench/nat_matrix.sh                          # every pair, 10 runs each (about 25 min)
#   RUNS=3 KINDS="drop v6-only dual-stack" bench/nat_matrix.sh
#   RELAY=all RUNS=3 bench/nat_matrix.sh           # the relay table for every pair too
#
# One lab per pair (built once; each run uses fresh profiles and fresh ports, so no conntrack or
# NAT state of an earlier run is reused); A and B start together and swap codes through files.
# A run succeeds when both exit 0 with the same path. The later peer is the one that read its
# friend's code last, i.e. the smaller elapsed_ms of the two (as in connect_bench.sh).
#
# Env: PUNCHLINE_CLI / PUNCHLINE_BINARY_DIR (as the lab tests), RUNS (default 10), KINDS (names
# below, space separated; pairs are every unordered pair of them, a kind with itself included),
# DELAY_MS (default 20), CLI_TIMEOUT (default 6 s: a connection that works takes well under a
# second after discovery here, and a failing pair costs RUNS times this), OUT, LAB_TEST_ID
# (default mx<pid>: the namespaces' prefix), RELAY (failing = default: a second table "with a
# TURN relay configured on both sides" for the pairs that failed without one; all = for every
# pair; none), RELAY_RUNS (default RUNS).
#
# Relay table: A gets --turn on the lab's coturn 1 (198.51.100.10), B on coturn 2 (.12), both
# with the lab's TURN account (as tests/lab/test_relay.sh); the lab's relays are IPv4 only.
set -u
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=../tests/lab/lab_test.sh
source "$here/../tests/lab/lab_test.sh"

RUNS=${RUNS:-10}
DELAY=${DELAY_MS:-20}
CLI_TIMEOUT=${CLI_TIMEOUT:-6}
OUT=${OUT:-$here/results/nat-matrix.md}

# A kind is one entry: the lab settings of one home ("%s" becomes A or B) and, optionally, extra
# CLI arguments for the program in that home (KIND_ARGS). Lab settings: NAT_x (IPv4 NAT kind:
# drop, rst, symmetric, off = no IPv4 service) and V6_x (IPv6 firewall: drop, rst, off = no IPv6).
declare -A KIND_LAB=(
    [drop]="NAT_%s=drop V6_%s=off"
    [reject]="NAT_%s=rst V6_%s=off"
    [symmetric]="NAT_%s=symmetric V6_%s=off"
    [v6-only]="NAT_%s=off V6_%s=drop"
    [dual-stack]="NAT_%s=drop V6_%s=drop"
    [symmetric+upnp]="NAT_%s=symmetric V6_%s=off UPNP_%s=upnp"
    [nat-pmp]="NAT_%s=symmetric V6_%s=off UPNP_%s=natpmp"
)
# The port-mapping homes ask their router (tests pass --port-mapping off by default).
declare -A KIND_ARGS=(
    [symmetric+upnp]="--port-mapping on"
    [nat-pmp]="--port-mapping on"
)
declare -A KIND_TEXT=(
    [drop]="IPv4 NAT, unsolicited inbound dropped; no IPv6"
    [reject]="IPv4 NAT, unsolicited inbound SYN answered with RST; no IPv6"
    [symmetric]="IPv4 NAT with a new port per destination (MASQUERADE --random-fully); no IPv6"
    [v6-only]="no IPv4 service; IPv6 behind a stateful firewall that drops unsolicited inbound"
    [dual-stack]="IPv4 NAT (drop) and IPv6 behind a dropping firewall"
    [symmetric+upnp]="symmetric IPv4 NAT, miniupnpd on the router with UPnP IGD only; the program runs with --port-mapping on; no IPv6"
    [nat-pmp]="symmetric IPv4 NAT, miniupnpd on the router with NAT-PMP only; the program runs with --port-mapping on; no IPv6"
)
ORDER="drop reject symmetric symmetric+upnp nat-pmp v6-only dual-stack"

KINDS=${KINDS:-$ORDER}
for k in $KINDS; do
    [[ -n "${KIND_LAB[$k]:-}" ]] || { echo "unknown kind $k (known: $ORDER)"; exit 2; }
done
RELAY=${RELAY:-failing}
RELAY_RUNS=${RELAY_RUNS:-$RUNS}
[[ "$RELAY" =~ ^(failing|all|none)$ ]] || { echo "RELAY must be failing, all or none"; exit 2; }
[[ "$RUNS" =~ ^[0-9]+$ && "$RUNS" -ge 1 && "$RUNS" -le 1000 ]] || { echo "RUNS must be 1..1000"; exit 2; }
[[ "$RELAY_RUNS" =~ ^[0-9]+$ && "$RELAY_RUNS" -ge 1 && "$RELAY_RUNS" -le 1000 ]] ||
    { echo "RELAY_RUNS must be 1..1000"; exit 2; }
[[ "$DELAY" =~ ^[0-9]+$ ]] || { echo "DELAY_MS must be a number"; exit 2; }

lt_require_cli
# mx: a prefix of its own, so nothing that cleans up the tests' labs (pl*, pt*) touches it.
export LAB_TEST_ID=${LAB_TEST_ID:-mx$$}
[[ "$LAB_TEST_ID" == mx* ]] || { echo "LAB_TEST_ID must start with mx"; exit 2; }
lt_init
TURN1="turn:$LAB_TURN_USER:$LAB_TURN_PASS@$LAB_IP_STUN1:$LAB_STUN_PORT"
TURN2="turn:$LAB_TURN_USER:$LAB_TURN_PASS@$LAB_IP_TURN2:$LAB_STUN_PORT"

# pct P values...: nearest-rank percentile of integers
pct() {
    local p=$1
    shift
    (($# == 0)) && { echo "-"; return; }
    printf '%s\n' "$@" | sort -n | awk -v p="$p" '{v[NR]=$1} END {i=int((p*NR+99)/100); if(i<1)i=1; print v[i]}'
}

# pair_up KIND_A KIND_B: a fresh lab for this pair.
pair_up() {
    local -a env=("DELAY_MS=$DELAY")
    local kv
    for kv in ${KIND_LAB[$1]//%s/A} ${KIND_LAB[$2]//%s/B}; do env+=("$kv"); done
    lab_down
    # shellcheck disable=SC2016 # $1 is expanded by the inner bash
    env "${env[@]}" bash -c 'source "$1" && lab_up' _ "$LT_DIR/lab.sh"
}

# family ENDPOINT: IPv6 or IPv4
family() { [[ "$1" == \[* ]] && echo IPv6 || echo IPv4; }

# measure KIND_A KIND_B RUNS RELAY(0|1): RUNS runs in the pair's lab (already up); prints the
# table row in ROW (the runs are printed as they go).
ROW=""
measure() {
    local ka=$1 kb=$2 runs=$3 relay=$4 r ok=0 ms msa msb patha pathb p path tag=""
    local -a times=() args_a args_b
    local -A paths=()
    # shellcheck disable=SC2206 # the extra arguments are words
    args_a=(${KIND_ARGS[$ka]:-}) args_b=(${KIND_ARGS[$kb]:-})
    if ((relay)); then
        args_a+=(--turn "$TURN1")
        args_b+=(--turn "$TURN2")
        tag=" (relay configured)"
    fi
    for ((r = 1; r <= runs; r++)); do
        pa=$((41000 + r + relay * 100)) pb=$((42000 + r + relay * 100))
        lt_cli_start A hostA "$pa" "${LT_STUN6_ARGS[@]}" "${args_a[@]}" \
            --write-code "$LT_TMP/A.code" --peer "@$LT_TMP/B.code" --say "hello from A" \
            --timeout "$CLI_TIMEOUT" --exit-when-done >/dev/null
        lt_cli_start B hostB "$pb" "${LT_STUN6_ARGS[@]}" "${args_b[@]}" \
            --write-code "$LT_TMP/B.code" --peer "@$LT_TMP/A.code" --say "hello from B" \
            --timeout "$CLI_TIMEOUT" --exit-when-done >/dev/null
        lt_cli_wait A $((CLI_TIMEOUT + 30))
        lt_cli_wait B 15
        msa=$(lt_field A connected .elapsed_ms)
        msb=$(lt_field B connected .elapsed_ms)
        patha=$(lt_field A connected .path)
        pathb=$(lt_field B connected .path)
        ms=$msb
        if [[ "$msa" =~ ^[0-9]+$ && "$msb" =~ ^[0-9]+$ && "$msa" -lt "$msb" ]]; then ms=$msa; fi
        # The path: the same on both sides, or, for a port mapping, "mapped" on the side that
        # dialed the mapped endpoint (the mapping side may see it as an ordinary direct one).
        p=""
        if [[ -n "$patha" && "$patha" == "$pathb" ]]; then
            p=$patha
        elif [[ "$patha $pathb" =~ ^(mapped\ direct|direct\ mapped)$ ]]; then
            p=mapped
        fi
        if [[ "${LT_RC[A]}" == 0 && "${LT_RC[B]}" == 0 && -n "$p" ]]; then
            ok=$((ok + 1))
            [[ "$ms" =~ ^[0-9]+$ ]] && times+=("$ms")
            p="$p $(family "$(lt_field A connected .remote)")"
            paths[$p]=$((${paths[$p]:-0} + 1))
            echo "$ka/$kb$tag run $r: ok, $p (A $patha, B $pathb), later peer elapsed_ms=$ms"
        else
            echo "$ka/$kb$tag run $r: failed (A rc=${LT_RC[A]} path '$patha', B rc=${LT_RC[B]} path '$pathb')"
        fi
        lt_reset_clis
    done
    path="-"
    if ((${#paths[@]} > 0)); then
        path=""
        for p in "${!paths[@]}"; do
            [[ -n "$path" ]] && path+=", "
            if ((${#paths[@]} == 1)); then path+="$p"; else path+="$p ×${paths[$p]}"; fi
        done
    fi
    ROW="| $ka | $kb | $path | $ok/$runs | $(pct 50 "${times[@]}") | $(pct 95 "${times[@]}") |"
}

rows=()
relay_rows=()
t_start=$SECONDS
read -r -a kinds <<<"$KINDS"
for ((i = 0; i < ${#kinds[@]}; i++)); do
    for ((j = i; j < ${#kinds[@]}; j++)); do
        ka=${kinds[i]} kb=${kinds[j]}
        if ! pair_up "$ka" "$kb" >/dev/null; then
            echo "$ka/$kb: lab up failed"
            rows+=("| $ka | $kb | lab failed | - | - | - |")
            continue
        fi
        measure "$ka" "$kb" "$RUNS" 0
        rows+=("$ROW")
        echo "${rows[-1]}"
        if [[ $RELAY == all || ($RELAY == failing && $(cut -d'|' -f5 <<<"${rows[-1]}") == " 0/$RUNS ") ]]; then
            measure "$ka" "$kb" "$RELAY_RUNS" 1
            relay_rows+=("$ROW")
            echo "relay: ${relay_rows[-1]}"
        fi
    done
done
t_total=$((SECONDS - t_start))
lab_down

mkdir -p "$(dirname "$OUT")"
{
    echo "# NAT matrix: punchline-cli in the namespace lab"
    echo
    echo "- date: $(date -u '+%Y-%m-%d %H:%M UTC')"
    echo "- machine: $(uname -sr), $(nproc) cores, $(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo)"
    echo "- program: $PUNCHLINE_CLI; script at commit $(git -C "$here/.." rev-parse --short HEAD 2>/dev/null || echo unknown)"
    echo "- command: \`RUNS=$RUNS RELAY=$RELAY RELAY_RUNS=$RELAY_RUNS KINDS=\"$KINDS\" DELAY_MS=$DELAY CLI_TIMEOUT=$CLI_TIMEOUT bench/nat_matrix.sh\`"
    echo "- total time: $t_total s"
    echo
    echo "Home kinds (tests/lab/lab.sh):"
    echo
    for k in $KINDS; do echo "- **$k**: ${KIND_TEXT[$k]:-${KIND_LAB[$k]}}"; done
    echo
    echo "RTT $((4 * DELAY)) ms between the homes (DELAY_MS=$DELAY on each home's link). Per pair one"
    echo "lab; per run fresh profiles and ports, A and B started together, codes swapped through"
    echo "files, STUN over IPv4 and IPv6 (the lab's coturn is dual-stack), --timeout $CLI_TIMEOUT s."
    echo "Success: both exit 0 (each exits once its message is delivered) on the same path, or on"
    echo "\`mapped\` and \`direct\` (the side that dialed a mapped endpoint reports \`mapped\`, the"
    echo "mapping side may see an ordinary inbound connection). Path: that path and the family of"
    echo "A's remote address. Times: the later peer's \`elapsed_ms\` (the smaller of the two;"
    echo "it runs from reading the friend's code to a usable session: TCP, preamble, TLS 1.3,"
    echo "hello), successful runs only, nearest-rank percentiles."
    echo
    echo "| A | B | path | success | p50 ms | p95 ms |"
    echo "| --- | --- | --- | --- | --- | --- |"
    printf '%s\n' "${rows[@]}"
    if ((${#relay_rows[@]} > 0)); then
        echo
        echo "## With a TURN relay configured on both sides"
        echo
        if [[ $RELAY == failing ]]; then
            echo "The pairs that failed every run above, again with \`--turn\` on both sides (A on the"
        else
            echo "Every pair again with \`--turn\` on both sides (A on the"
        fi
        echo "lab's coturn 1, $LAB_IP_STUN1, B on coturn 2, $LAB_IP_TURN2; TURN over TCP, RFC 6062; the"
        echo "relays are IPv4 only), $RELAY_RUNS runs each, otherwise as above."
        echo
        echo "| A | B | path | success | p50 ms | p95 ms |"
        echo "| --- | --- | --- | --- | --- | --- |"
        printf '%s\n' "${relay_rows[@]}"
    fi
} >"$OUT"
echo "wrote $OUT"
exit 0 # the benchmark reports, it does not judge
