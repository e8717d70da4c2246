#!/usr/bin/env bash
# Many small files (issue 15, target 3): a folder of SMALL_COUNT files of SMALL_KIB KiB and one
# of BIG_COUNT files of BIG_KIB KiB, sent by punchline-cli beside `tar -c | TLS 1.3 pipe |
# tar -x` over the same path (root needed: namespaces).
#
# Paths (PATHS, default "lo lab"):
#   lo    a network namespace holding only its loopback interface; both sides on 127.0.0.1
#   lab   the NAT lab, drop/drop, DELAY_MS (default 0); the baseline reaches hostB through a
#         DNAT port forward in natB (as bench/transfer_bench.sh), Punchline its punched path
# Each round runs, per folder, the baseline and Punchline once, side by side (the order
# alternates between rounds), and the ratio (Punchline time / baseline time) is taken within
# the round: below 1.0 Punchline is faster. The median ratio over rounds is reported.
#   baseline  B: openssl s_server -tls1_3 ... | tar -x -C DIR
#             A: tar -c -C SRC FOLDER | openssl s_client -tls1_3 ...
#             time: the sender started -> the receiver's tar exited
#   punchline A: punchline-cli --send SRC/FOLDER --exit-when-done;
#             B: punchline-cli --download-dir DIR --accept all --exit-when-done
#             time: B's `connected` event -> B's transfer `done` event (offer, accept, data,
#             every file verified and renamed; stamped as the lines arrive), so discovery and
#             punching are left out as the baseline's TCP connect is nearly free. `elapsed_ms`
#             of the done event (accept -> done) and the wall time are printed too.
# Before every timed run `sync` is run, so neither side pays for the other's write-back. Every
# received folder is checked against the source (a sha256sum manifest) outside the timing and
# kept until the end: on this machine's ext4 (no journal) a file created within minutes of
# thousands of deletions waits while the inode allocator skips the recently deleted inodes
# (recently_deleted() in perf), which made whichever method ran after a deletion up to 25x
# slower.
# Writes Markdown to bench/results/smallfiles.md (OUT=...).
#
#   bench/smallfiles_bench.sh
#   RUNS=1 PATHS=lo SMALL_COUNT=2000 BIG_COUNT=100 bench/smallfiles_bench.sh   # quick look
#
# Env: PUNCHLINE_CLI / PUNCHLINE_BINARY_DIR (as the lab tests; use a Release build), RUNS
# (default 3), PATHS, DELAY_MS, SMALL_COUNT (10000), SMALL_KIB (4), BIG_COUNT (1000), BIG_KIB
# (1024), SETS (default "small big"), RECV_ROOT (where received folders go; default /tmp), OUT,
# LAB_TEST_ID (the lab's id).
set -u
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=../tests/lab/lab_test.sh
source "$here/../tests/lab/lab_test.sh"

RUNS=${RUNS:-3}
PATHS=${PATHS:-lo lab}
DELAY_MS=${DELAY_MS:-0}
SMALL_COUNT=${SMALL_COUNT:-10000}
SMALL_KIB=${SMALL_KIB:-4}
BIG_COUNT=${BIG_COUNT:-1000}
BIG_KIB=${BIG_KIB:-1024}
SETS=${SETS:-small big}
OUT=${OUT:-$here/results/smallfiles.md}
for v in RUNS DELAY_MS SMALL_COUNT SMALL_KIB BIG_COUNT BIG_KIB; do
    [[ "${!v}" =~ ^[0-9]+$ ]] || { echo "$v must be a number"; exit 2; }
done
((RUNS >= 1 && RUNS <= 20)) || { echo "RUNS must be 1..20"; exit 2; }
((SMALL_COUNT >= 1 && SMALL_COUNT <= 100000 && BIG_COUNT >= 1 && BIG_COUNT <= 100000)) ||
    { echo "counts must be 1..100000"; exit 2; }
for p in $PATHS; do [[ $p == lo || $p == lab ]] || { echo "unknown path $p (lo, lab)"; exit 2; }; done
for s in $SETS; do [[ $s == small || $s == big ]] || { echo "unknown set $s (small, big)"; exit 2; }; done
for tool in openssl tar sha256sum split /usr/bin/time; do
    command -v "$tool" >/dev/null || { echo "$tool is needed"; exit 1; }
done

lt_require_cli
lt_init
COMMIT=$(git -C "$here/.." rev-parse --short HEAD 2>/dev/null || echo unknown)
DIRTY=$(git -C "$here/.." status --porcelain --untracked-files=no 2>/dev/null | grep -c . || true)
DATE_START=$(date -u '+%Y-%m-%d %H:%M')
LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
WORK=$(mktemp -d /tmp/pl-smallbench.XXXXXX)
# Received folders: under RECV_ROOT if given (say /dev/shm: a tmpfs, to see the protocol's
# per-file work without this disk's noise), else in WORK.
RECV=$(mktemp -d "${RECV_ROOT:-$WORK}/pl-smallrecv.XXXXXX") || { echo "cannot make a folder in ${RECV_ROOT:-$WORK}"; exit 1; }
trap 'rm -rf "$WORK" "$RECV"; lt_cleanup' EXIT
T_START=$(date +%s)

# --- folders ---------------------------------------------------------------------------------
need_mb=$(((SMALL_COUNT * SMALL_KIB + BIG_COUNT * BIG_KIB) * (1 + 2 * RUNS * $(wc -w <<<"$PATHS")) / 1024 + 512))
(($(df -Pm /tmp | awk 'NR == 2 {print $4}') >= need_mb)) || { echo "need $need_mb MB in /tmp"; exit 1; }
mkdir -p "$WORK/src" "$WORK/cert"
mkfifo "$WORK/s_server.in"
# make_set NAME COUNT KIB: NAME/f00000... of random content (names sort alike in C and Qt).
make_set() {
    mkdir -p "$WORK/src/$1"
    head -c "$(($2 * $3 * 1024))" /dev/urandom | (cd "$WORK/src/$1" && split -b "$(($3 * 1024))" -a 6 -d - f)
}
# manifest DIR NAME: the transfer hash Punchline reports (sha256 of the sha256sum lines of the
# files in offer order, paths relative to DIR).
manifest() {
    (cd "$1" && find "$2" -type f | LC_ALL=C sort | xargs -d '\n' sha256sum | sha256sum | cut -d' ' -f1)
}
declare -A SET_COUNT=([small]=$SMALL_COUNT [big]=$BIG_COUNT) SET_KIB=([small]=$SMALL_KIB [big]=$BIG_KIB)
declare -A SHA=()
for s in $SETS; do
    make_set "$s" "${SET_COUNT[$s]}" "${SET_KIB[$s]}"
    SHA[$s]=$(manifest "$WORK/src" "$s")
    lt_log "set $s: ${SET_COUNT[$s]} files of ${SET_KIB[$s]} KiB, manifest ${SHA[$s]}"
done
sync
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=bench \
    -keyout "$WORK/cert/key.pem" -out "$WORK/cert/cert.pem" 2>/dev/null || { echo "no certificate"; exit 1; }

# --- paths -----------------------------------------------------------------------------------
TLS_PORT=45001
HOST_A="" HOST_B="" DEST="" EXTRA=()
fwd() {
    lab_exec natB iptables -w 5 -t nat -A PREROUTING -i wan -p tcp -d "$LAB_IP_NATB_WAN" \
        --dport "$TLS_PORT" -j DNAT --to-destination "$LAB_IP_HOSTB" &&
        lab_exec natB iptables -w 5 -I FORWARD -i wan -o lan -p tcp -d "$LAB_IP_HOSTB" \
            --dport "$TLS_PORT" -m conntrack --ctstate DNAT -j ACCEPT
}
path_up() {
    case $1 in
    lo)
        lt_lo_up
        HOST_A=lo HOST_B=lo DEST=127.0.0.1 EXTRA=("${LT_LO_ARGS[@]}")
        ;;
    lab)
        lt_lab_up drop drop "$DELAY_MS"
        fwd || { lt_fail "port forward in natB"; exit 1; }
        HOST_A=hostA HOST_B=hostB DEST=$LAB_IP_NATB_WAN EXTRA=()
        ;;
    esac
}
wait_listen() {
    local i
    for ((i = 0; i < 100; i++)); do
        [[ -n "$(lab_exec "$1" ss -ltnH "sport = :$2" 2>/dev/null)" ]] && return 0
        sleep 0.05
    done
    return 1
}
RUN_SEQ=0
fresh_dir() { mkdir -p "$1"; sync; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN{printf "%.3f", b - a}'; }

# tar_run SET SEQ: prints "seconds" or "FAIL why" (SEQ: a new receiver folder per run).
tar_run() {
    local set=$1 dst=$RECV/tar$2 rpid t0 t1 got
    fresh_dir "$dst"
    lab_exec "$HOST_B" timeout 600 bash -c "openssl s_server -tls1_3 -accept $TLS_PORT -naccept 1 -quiet -cert $WORK/cert/cert.pem -key $WORK/cert/key.pem <>$WORK/s_server.in 2>/dev/null | tar -x -C $dst" &
    rpid=$!
    wait_listen "$HOST_B" "$TLS_PORT" || { kill "$rpid"; wait "$rpid"; echo "FAIL receiver not listening"; return; }
    t0=$EPOCHREALTIME
    lab_exec "$HOST_A" timeout 600 bash -c "tar -c -C $WORK/src $set | openssl s_client -tls1_3 -quiet -no_ign_eof -nocommands -connect $DEST:$TLS_PORT >/dev/null 2>&1"
    wait "$rpid"
    t1=$EPOCHREALTIME
    got=$(manifest "$dst" "$set")
    [[ $got == "${SHA[$set]}" ]] || { echo "FAIL received folder differs"; return; }
    secs "$t0" "$t1"
}

# start_cli NAME HOST PORT args...: punchline-cli under /usr/bin/time, every stdout line
# prefixed with the time it arrived ($EPOCHREALTIME).
start_cli() {
    local name=$1 host=$2 port=$3
    shift 3
    mkdir -p "$LT_TMP/$name"
    echo "$PUNCHLINE_CLI --profile $LT_TMP/$name/profile --name $name --port $port ${LT_STUN_ARGS[*]} --dht none --json ${EXTRA[*]} $*" >"$LT_TMP/$name.cmd"
    (
        ip netns exec "$(lab_ns "$host")" timeout -k 5 900 /usr/bin/time -f '%M %U %S' -o "$LT_TMP/$name.rss" \
            "$PUNCHLINE_CLI" --profile "$LT_TMP/$name/profile" --name "$name" --port "$port" \
            "${LT_STUN_ARGS[@]}" --dht none --json "${EXTRA[@]}" "$@" </dev/null 2>"$LT_TMP/$name.err" |
            while IFS= read -r line; do printf '%s %s\n' "$EPOCHREALTIME" "$line"; done >"$LT_TMP/$name.ts"
        exit "${PIPESTATUS[0]}"
    ) &
    LT_PID[$name]=$!
    LT_T0[$name]=$EPOCHREALTIME
}
# stamp NAME JQ_CONDITION: arrival time of the first such event.
stamp() {
    local line
    while IFS= read -r line; do
        if jq -e "$2" >/dev/null 2>&1 <<<"${line#* }"; then
            echo "${line%% *}"
            return
        fi
    done <"$LT_TMP/$1.ts"
}

# pl_run SET SEQ (names A<SEQ>/B<SEQ>, ports 41000+SEQ and 42000+SEQ, so no run meets another's
# conntrack entries, and a new receiver folder): prints "seconds elapsed_ms wall_s rss_A_KiB rss_B_KiB cpu_A_s cpu_B_s" or "FAIL why".
pl_run() {
    local set=$1 seq=$2 a b dl t0 t1 tc td ms got rssa rssb cpua cpub
    a=A$seq b=B$seq dl=$RECV/pl$seq
    fresh_dir "$dl"
    t0=$EPOCHREALTIME
    start_cli "$a" "$HOST_A" $((41000 + seq)) --write-code "$LT_TMP/$a.code" --peer "@$LT_TMP/$b.code" \
        --timeout 60 --send "$WORK/src/$set" --exit-when-done
    start_cli "$b" "$HOST_B" $((42000 + seq)) --write-code "$LT_TMP/$b.code" --peer "@$LT_TMP/$a.code" \
        --timeout 60 --download-dir "$dl" --accept all --exit-when-done
    lt_cli_wait "$a" 900
    lt_cli_wait "$b" 60
    t1=$EPOCHREALTIME
    sed 's/^[^ ]* //' "$LT_TMP/$b.ts" >"$LT_TMP/$b.out"
    sed 's/^[^ ]* //' "$LT_TMP/$a.ts" >"$LT_TMP/$a.out"
    tc=$(stamp "$b" 'select(.event == "connected")')
    td=$(stamp "$b" 'select(.event == "transfer" and .state == "done")')
    ms=$(lt_events "$b" 'select(.event == "transfer" and .state == "done") | .elapsed_ms' | head -n 1)
    got=$(lt_events "$b" 'select(.event == "transfer" and .state == "done") | .sha256' | head -n 1 | jq -r .)
    rssa=$(tail -n 1 "$LT_TMP/$a.rss" 2>/dev/null | awk '{print $1}')
    rssb=$(tail -n 1 "$LT_TMP/$b.rss" 2>/dev/null | awk '{print $1}')
    cpua=$(tail -n 1 "$LT_TMP/$a.rss" 2>/dev/null | awk '{printf "%.2f", $2 + $3}')
    cpub=$(tail -n 1 "$LT_TMP/$b.rss" 2>/dev/null | awk '{printf "%.2f", $2 + $3}')
    if [[ "${LT_RC[$a]}" != 0 || "${LT_RC[$b]}" != 0 || -z "$tc" || -z "$td" || "$got" != "${SHA[$set]}" ]]; then
        echo "FAIL exit ${LT_RC[$a]}/${LT_RC[$b]}, connected '$tc' done '$td', sha256 '$got'"
        lt_dump "$a" >&2
        lt_dump "$b" >&2
        return
    fi
    [[ "$(manifest "$dl" "$set")" == "${SHA[$set]}" ]] || { echo "FAIL the received folder differs"; return; }
    echo "$(secs "$tc" "$td") $ms $(secs "$t0" "$t1") $rssa $rssb $cpua $cpub"
}

# --- rounds ----------------------------------------------------------------------------------
declare -A R=() # R[path,set,method,round]
for p in $PATHS; do
    path_up "$p"
    for ((r = 1; r <= RUNS; r++)); do
        for s in $SETS; do
            order="tar punchline"
            ((r % 2 == 0)) && order="punchline tar"
            for m in $order; do
                [[ $p == lab ]] && ! lab_stun hostA >/dev/null 2>&1 && { lt_log "lab STUN gone: rebuilding"; path_up lab; }
                RUN_SEQ=$((RUN_SEQ + 1)) # here: the runs are in subshells
                case $m in
                tar) R[$p,$s,$m,$r]=$(tar_run "$s" "$RUN_SEQ") ;;
                punchline) R[$p,$s,$m,$r]=$(pl_run "$s" "$RUN_SEQ") ;;
                esac
                lt_log "$p round $r $s $m: ${R[$p,$s,$m,$r]}"
            done
        done
    done
done

# --- report ----------------------------------------------------------------------------------
median() { sort -g | awk '{v[NR]=$1} END {if (NR == 0) {print "-"; exit}
    if (NR % 2) print v[(NR + 1) / 2]; else printf "%.3f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }
field() { awk -v i="$1" '$1 != "FAIL" {print $i}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN{ if (a != "" && b != "" && b > 0) printf "%.2f", a / b; else print "-" }'; }
cpu=$(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo)
T_END=$(date +%s)
mkdir -p "$(dirname "$OUT")"
{
    echo "# Many small files: punchline-cli against tar | TLS 1.3 pipe | tar -x"
    echo
    echo "- date: $DATE_START to $(date -u '+%H:%M') UTC"
    echo "- machine: $(uname -sr), $(nproc) cores, ${cpu:-unknown CPU}, $(awk '/MemTotal/ {printf "%.0f GiB", $2 / 1048576}' /proc/meminfo) RAM; load average at the start $LOAD_START, at the end $(cut -d' ' -f1-3 /proc/loadavg)"
    echo "- program: $PUNCHLINE_CLI (built $(date -u -r "$PUNCHLINE_CLI" '+%Y-%m-%d %H:%M UTC')); source tree at the start: commit $COMMIT$([[ $DIRTY != 0 ]] && echo ", $DIRTY tracked files modified")"
    echo "- command: \`${RECV_ROOT:+RECV_ROOT=$RECV_ROOT }RUNS=$RUNS PATHS=\"$PATHS\" DELAY_MS=$DELAY_MS SMALL_COUNT=$SMALL_COUNT SMALL_KIB=$SMALL_KIB BIG_COUNT=$BIG_COUNT BIG_KIB=$BIG_KIB SETS=\"$SETS\" bench/smallfiles_bench.sh\` (total $((T_END - T_START)) s)"
    echo "- folders (random content, /tmp, page cache): small = $SMALL_COUNT files of $SMALL_KIB KiB, big = $BIG_COUNT files of $BIG_KIB KiB; received into $(df -PT "$RECV" | awk 'NR == 2 {print $2 " (" $7 ")"}')"
    echo "- paths: lo = a namespace with only its loopback interface (127.0.0.1); lab = NAT lab drop/drop, DELAY_MS $DELAY_MS (baseline through a DNAT port forward in natB, Punchline through its punched connection)"
    echo
    echo '```'
    echo "baseline  B: openssl s_server -tls1_3 -accept $TLS_PORT -naccept 1 -quiet -cert cert.pem -key key.pem <>FIFO | tar -x -C DIR"
    echo "          A: tar -c -C SRC FOLDER | openssl s_client -tls1_3 -quiet -no_ign_eof -nocommands -connect B:$TLS_PORT"
    echo "punchline A: punchline-cli --json --write-code A.code --peer @B.code --send SRC/FOLDER --exit-when-done"
    echo "          B: punchline-cli --json --write-code B.code --peer @A.code --download-dir DIR --accept all --exit-when-done"
    echo '```'
    echo
    echo "Times: baseline = sender started -> receiver's tar exited; Punchline = B's \`connected\`"
    echo "event -> B's \`done\` event (offer, accept, data, every file verified and renamed), stamped"
    echo "as the lines arrived. Ratio = Punchline / baseline within the round (target <= 1.0, i.e."
    echo "Punchline at least as fast). \`sync\` ran before every timed run; every received folder was"
    echo "checked against the source afterwards and kept until the end (deleting thousands of files"
    echo "slows the next creates on this file system; see the script's header)."
    echo
    echo "| path | folder | tar s (median; each) | Punchline s (median; each) | ratio per round | median ratio |"
    echo "| --- | --- | --- | --- | --- | --- |"
    for p in $PATHS; do
        for s in $SETS; do
            tars="" pls="" per="" vals=()
            for ((r = 1; r <= RUNS; r++)); do
                t=$(field 1 <<<"${R[$p,$s,tar,$r]}")
                q=$(field 1 <<<"${R[$p,$s,punchline,$r]}")
                tars+="${tars:+, }${t:-FAIL}"
                pls+="${pls:+, }${q:-FAIL}"
                v=$(ratio "$q" "$t")
                per+="${per:+, }$v"
                [[ $v != - ]] && vals+=("$v")
            done
            echo "| $p | $s | $(for ((r = 1; r <= RUNS; r++)); do field 1 <<<"${R[$p,$s,tar,$r]}"; done | median) ($tars) | $(for ((r = 1; r <= RUNS; r++)); do field 1 <<<"${R[$p,$s,punchline,$r]}"; done | median) ($pls) | $per | $(printf '%s\n' "${vals[@]}" | grep . | median) |"
        done
    done
    echo
    echo "Raw results (tar: seconds | punchline: seconds elapsed_ms wall_s rss_A_KiB rss_B_KiB cpu_A_s cpu_B_s):"
    echo
    echo '```'
    for p in $PATHS; do
        for ((r = 1; r <= RUNS; r++)); do
            for s in $SETS; do
                for m in tar punchline; do echo "$p $s $m $r: ${R[$p,$s,$m,$r]}"; done
            done
        done
    done
    echo '```'
} >"$OUT"
lt_log "wrote $OUT"
cat "$OUT"
fail=0
for k in "${!R[@]}"; do [[ ${R[$k]} == FAIL* ]] && fail=1; done
exit $fail
