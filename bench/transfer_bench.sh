#!/usr/bin/env bash
# File transfer throughput and peak memory of punchline-cli, beside raw TCP and a TLS 1.3 pipe
# over the same lab path (root needed: namespaces).
#
# The lab: drop/drop, DELAY_MS 0 (veth links, RTT ~0). For each file size (SIZE_MB, then
# BIG_MB) each round moves the same file (random, in /tmp, kept in the page cache) from hostA to
# hostB with every method, one after the other, so the ratios are taken within a round:
#   raw-sha256sum   socat -u -b 131072 OPEN:file TCP:<natB WAN>:45000  ->  hostB: socat -u -b 131072
#                   TCP-LISTEN | sha256sum
#   tls-sha256sum   openssl s_client -tls1_3 -quiet -no_ign_eof -nocommands <file  ->  hostB: openssl
#                   s_server -tls1_3 -naccept 1 -quiet (self-signed P-256 certificate) | sha256sum
#   raw-openssl     as raw-sha256sum, the receiver hashing with `openssl dgst -sha256`
#   tls-openssl     as tls-sha256sum, the receiver hashing with `openssl dgst -sha256`
#   punchline-mem   punchline-cli --send file on A; B --accept all --download-dir on a tmpfs;
#                   both --exit-when-done; each under /usr/bin/time for its peak RSS. The data
#                   path (TLS, SHA-256, file writes, the syncs) without the disk's own speed:
#                   issue 15 target 2 ("files at raw-TCP speed") is read here.
#   punchline       the same with --download-dir in /tmp on the disk: `done` is reported after
#                   the file's data and its folder entry are synced (target 4), so this row is
#                   bounded by how fast the disk writes; the disk's speed (dd conv=fdatasync) is
#                   measured at the start and the end of the run and printed beside it.
# The baselines cannot be punched (their tools do not do simultaneous open), so natB forwards
# TCP ports 45000-45001 of its WAN address to hostB (DNAT in PREROUTING + a FORWARD accept for
# ctstate DNAT). Their packets cross the same veths, routers and conntrack/NAT (natA
# MASQUERADE, natB DNAT) as Punchline's punched connection; only the translation rule differs.
# The baselines' receivers hash but do not write the data to disk. coreutils' sha256sum does not
# use the CPU's SHA instructions; OpenSSL (which Punchline uses for SHA-256 and TLS) does: the
# *-openssl rows show the pipes without that handicap.
# Times: baselines from starting the sender to the receiver's hash being printed; Punchline
# `elapsed_ms` of B's `done` event (accept -> verified, synced and renamed) and wall time (both
# processes started -> both exited: discovery, punching, TLS, offer and the exit handshake).
# MB = 10^6 bytes. Ratios Punchline / pipe are taken within a round, then the median over
# rounds is reported; then 4 GiB against 1 GiB (flat in size: target within 10 %), and the peak
# RSS of sender and receiver of every Punchline run.
# Writes Markdown to bench/results/transfer.md (OUT=...).
#
#   bench/transfer_bench.sh                       # 1 GiB and 4 GiB, 3 rounds each
#   RUNS=1 SIZE_MB=256 BIG_MB=0 bench/transfer_bench.sh   # quick look, no big-file rounds
#
# Env: PUNCHLINE_CLI / PUNCHLINE_BINARY_DIR (as the lab tests; use a Release build),
# LAB_TEST_ID (the lab's id, as the lab tests), RUNS (default 3), SIZE_MB (default 1024),
# BIG_MB (default 4096; 0 skips), METHODS (default all six, in that order), OUT.
set -u
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=../tests/lab/lab_test.sh
source "$here/../tests/lab/lab_test.sh"

RUNS=${RUNS:-3}
SIZE_MB=${SIZE_MB:-1024}
BIG_MB=${BIG_MB:-4096}
OUT=${OUT:-$here/results/transfer.md}
ALL="raw-sha256sum tls-sha256sum raw-openssl tls-openssl punchline-mem punchline"
METHODS=${METHODS:-$ALL}
for m in $METHODS; do
    [[ " $ALL " == *" $m "* ]] || { echo "unknown method $m (known: $ALL)"; exit 2; }
done
for v in RUNS SIZE_MB BIG_MB; do
    [[ "${!v}" =~ ^[0-9]+$ ]] || { echo "$v must be a number"; exit 2; }
done
((RUNS >= 1 && RUNS <= 20)) || { echo "RUNS must be 1..20"; exit 2; }
((SIZE_MB >= 1 && SIZE_MB <= 8192)) || { echo "SIZE_MB must be 1..8192"; exit 2; }
((BIG_MB <= 16384)) || { echo "BIG_MB must be at most 16384"; exit 2; }
for tool in socat openssl sha256sum /usr/bin/time mountpoint; do
    command -v "$tool" >/dev/null || { echo "$tool is needed (apt-get install socat openssl time)"; exit 1; }
done

lt_require_cli
lt_init
COMMIT=$(git -C "$here/.." rev-parse --short HEAD 2>/dev/null || echo unknown)
DIRTY=$(git -C "$here/.." status --porcelain --untracked-files=no 2>/dev/null | grep -c . || true)
DATE_START=$(date -u '+%Y-%m-%d %H:%M')
WORK=$(mktemp -d /tmp/pl-xferbench.XXXXXX)
MEM=$WORK/mem # tmpfs for punchline-mem's download folder
bench_cleanup() {
    lt_cleanup
    mountpoint -q "$MEM" && { umount "$MEM" 2>/dev/null || umount -l "$MEM"; }
    rm -rf "$WORK"
}
trap 'bench_cleanup' EXIT
T_START=$(date +%s)
LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)

# --- files -------------------------------------------------------------------------------
avail_mb() { df -Pm "$1" | awk 'NR == 2 {print $4}'; }
need=$((SIZE_MB * 2 + 512))
if (($(avail_mb "$WORK") < need)); then
    echo "not enough space in /tmp: need $need MB for the ${SIZE_MB} MiB runs"
    exit 1
fi
if ((BIG_MB > 0 && $(avail_mb "$WORK") < SIZE_MB + BIG_MB * 2 + 512)); then
    lt_log "not enough space in /tmp for the ${BIG_MB} MiB runs: skipped"
    BIG_MB=0
fi
SIZES=("$SIZE_MB")
((BIG_MB > 0)) && SIZES+=("$BIG_MB")
mkdir -p "$WORK/src" "$WORK/recv" "$WORK/cert" "$MEM"
mkfifo "$WORK/s_server.in"
SOCAT_BLOCK=131072
hash_of() { openssl dgst -sha256 -r "$1" | cut -d' ' -f1; }
# make_file MB: the file for that size (FILE, BYTES, FILE_SHA), in the page cache.
make_file() {
    FILE=$WORK/src/data-${1}MiB.bin
    head -c "$(($1 * 1024 * 1024))" /dev/urandom >"$FILE"
    BYTES=$(stat -c %s "$FILE")
    FILE_SHA=$(hash_of "$FILE")
    cat "$FILE" >/dev/null # in the page cache for every method alike
}
make_file "$SIZE_MB"
# The disk under /tmp: MB/s of writing 256 MiB and syncing it (dd conv=fdatasync).
disk_speed() {
    dd if=/dev/zero of="$WORK/dd.bin" bs=1M count=256 conv=fdatasync 2>&1 |
        awk '/copied/ {for (i = 1; i <= NF; i++) if ($i == "s,") {printf "%.0f", 268435456 / 1e6 / $(i - 1); exit}}'
    rm -f "$WORK/dd.bin"
}
DISK_START=$(disk_speed)
lt_log "the disk under /tmp writes and syncs ${DISK_START:-?} MB/s"
# punchline-mem's tmpfs: room for the largest file and its partial name.
mount -t tmpfs -o size=$(((BIG_MB > SIZE_MB ? BIG_MB : SIZE_MB) + 64))m tmpfs "$MEM" || {
    echo "cannot mount a tmpfs at $MEM"
    exit 1
}
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=bench \
    -keyout "$WORK/cert/key.pem" -out "$WORK/cert/cert.pem" 2>/dev/null || {
    echo "cannot make a certificate"
    exit 1
}
# Standalone hash speed of the two receivers' hashers (the file from the page cache).
hash_speed() {
    local t0 t1
    t0=$EPOCHREALTIME
    "$@" <"$FILE" >/dev/null
    t1=$EPOCHREALTIME
    awk -v b="$BYTES" -v a="$t0" -v c="$t1" 'BEGIN{printf "%.0f", b / 1e6 / (c - a)}'
}
SPEED_SHA256SUM=$(hash_speed sha256sum)
SPEED_OPENSSL=$(hash_speed openssl dgst -sha256)
lt_log "file: $BYTES bytes, sha256 $FILE_SHA; sha256sum $SPEED_SHA256SUM MB/s, openssl dgst $SPEED_OPENSSL MB/s"

# --- lab + port forward for the baselines --------------------------------------------------
lt_lab_up drop drop 0
RAW_PORT=45000
TLS_PORT=45001
fwd() {
    lab_exec natB iptables -w 5 -t nat -A PREROUTING -i wan -p tcp -d "$LAB_IP_NATB_WAN" \
        --dport "$RAW_PORT:$TLS_PORT" -j DNAT --to-destination "$LAB_IP_HOSTB" &&
        lab_exec natB iptables -w 5 -I FORWARD -i wan -o lan -p tcp -d "$LAB_IP_HOSTB" \
            --dport "$RAW_PORT:$TLS_PORT" -m conntrack --ctstate DNAT -j ACCEPT
}
fwd || { lt_fail "port forward in natB"; exit 1; }
# ensure_lab: the lab's STUN server still answers, else the lab is rebuilt (on this shared
# machine this lab's coturn has been seen to vanish mid-run; Punchline cannot
# punch through the NATs without its public address).
LAB_REBUILDS=0
ensure_lab() {
    lab_stun hostA >/dev/null 2>&1 && return 0
    lt_log "the lab's STUN server does not answer (coturn gone): rebuilding the lab"
    LAB_REBUILDS=$((LAB_REBUILDS + 1))
    lt_lab_up drop drop 0
    fwd || { lt_fail "port forward in natB"; exit 1; }
}

# wait_listen HOST PORT: bounded wait until something listens on PORT in HOST.
wait_listen() {
    local i
    for ((i = 0; i < 100; i++)); do
        [[ -n "$(lab_exec "$1" ss -ltnH "sport = :$2" 2>/dev/null)" ]] && return 0
        sleep 0.05
    done
    return 1
}
mbps() { awk -v b="$1" -v s="$2" 'BEGIN{ if (s > 0) printf "%.1f", b / 1e6 / s; else print "-" }'; }

# pipe_run raw|tls sha256sum|openssl: one baseline transfer; prints "MB/s seconds" or "FAIL why".
pipe_run() {
    local kind=$1 hasher=$2 port hcmd recv send rpid t0 t1 got
    case $hasher in
    sha256sum) hcmd="sha256sum" ;;
    openssl) hcmd="openssl dgst -sha256 -r" ;;
    esac
    if [[ $kind == raw ]]; then
        port=$RAW_PORT
        recv="socat -u -b $SOCAT_BLOCK TCP-LISTEN:$port,reuseaddr STDOUT | $hcmd"
        send=(socat -u -b "$SOCAT_BLOCK" "OPEN:$FILE" "TCP:$LAB_IP_NATB_WAN:$port")
    else
        port=$TLS_PORT
        # s_server's stdin: a FIFO opened read-write, which never reaches EOF (at EOF on its
        # stdin s_server ends the connection, -ign_eof notwithstanding)
        recv="openssl s_server -tls1_3 -accept $port -naccept 1 -quiet -cert $WORK/cert/cert.pem -key $WORK/cert/key.pem <>$WORK/s_server.in 2>/dev/null | $hcmd"
        # -quiet implies -ign_eof (never ends): -no_ign_eof; -nocommands, or a chunk of the
        # data starting with Q, R or k is taken as a command (Q quits after a few MB)
        send=(openssl s_client -tls1_3 -quiet -no_ign_eof -nocommands -connect "$LAB_IP_NATB_WAN:$port")
    fi
    rm -f "$WORK/recv.sum"
    lab_exec hostB timeout 600 bash -c "$recv" >"$WORK/recv.sum" 2>/dev/null &
    rpid=$!
    if ! wait_listen hostB "$port"; then
        kill "$rpid" 2>/dev/null
        wait "$rpid" 2>/dev/null
        echo "FAIL receiver not listening"
        return
    fi
    t0=$EPOCHREALTIME
    lab_exec hostA timeout 600 "${send[@]}" <"$FILE" >/dev/null 2>&1
    wait "$rpid"
    t1=$EPOCHREALTIME
    got=$(awk '{print $1; exit}' "$WORK/recv.sum")
    if [[ "$got" != "$FILE_SHA" ]]; then
        echo "FAIL hash ${got:-none}"
        return
    fi
    s=$(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.3f", b - a}')
    echo "$(mbps "$BYTES" "$s") $s"
}

# start_timed NAME HOST PORT args...: like lt_cli_start, under /usr/bin/time ("peak RSS KiB,
# user s, system s" to $LT_TMP/NAME.rss), stdin from /dev/null (--exit-when-done needs none).
start_timed() {
    local name=$1 host=$2 port=$3
    shift 3
    mkdir -p "$LT_TMP/$name"
    echo "$PUNCHLINE_CLI --profile $LT_TMP/$name/profile --name $name --port $port ${LT_STUN_ARGS[*]} --json $*" \
        >"$LT_TMP/$name.cmd"
    ip netns exec "$(lab_ns "$host")" timeout -k 5 900 /usr/bin/time -f '%M %U %S' -o "$LT_TMP/$name.rss" \
        "$PUNCHLINE_CLI" --profile "$LT_TMP/$name/profile" --name "$name" --port "$port" \
        "${LT_STUN_ARGS[@]}" --dht none --json "$@" </dev/null >"$LT_TMP/$name.out" 2>"$LT_TMP/$name.err" &
    LT_PID[$name]=$!
    LT_T0[$name]=$EPOCHREALTIME
}

PL_SEQ=0
# pl_run SEQ FILE SHA DIR: one Punchline transfer into a new folder below DIR (names A<SEQ>/B<SEQ>, ports 41000+SEQ and
# 42000+SEQ, so no run meets another's conntrack entries); prints
# "MB/s(elapsed) elapsed_ms wall_s rss_A_KiB rss_B_KiB A_done_ms cpu_A_s cpu_B_s" or "FAIL why"
# (cpu: user + system seconds of the whole process).
pl_run() {
    local seq=$1 file=$2 sha=$3 size a b t0 t1 ms ams dl got rssa rssb cpua cpub
    size=$(stat -c %s "$file")
    a=A$seq b=B$seq
    dl=$4/$seq
    mkdir -p "$dl"
    t0=$EPOCHREALTIME
    start_timed "$a" hostA $((41000 + seq)) --write-code "$LT_TMP/$a.code" --peer "@$LT_TMP/$b.code" \
        --timeout 60 --send "$file" --exit-when-done
    start_timed "$b" hostB $((42000 + seq)) --write-code "$LT_TMP/$b.code" --peer "@$LT_TMP/$a.code" \
        --timeout 60 --download-dir "$dl" --accept all --exit-when-done
    lt_cli_wait "$a" 900
    lt_cli_wait "$b" 60
    t1=$EPOCHREALTIME
    ms=$(lt_events "$b" 'select(.event == "transfer" and .state == "done") | .elapsed_ms' | head -n 1)
    ams=$(lt_events "$a" 'select(.event == "transfer" and .state == "done") | .elapsed_ms' | head -n 1)
    got=$(lt_events "$b" 'select(.event == "transfer" and .state == "done") | .sha256' | head -n 1 | jq -r .)
    rssa=$(tail -n 1 "$LT_TMP/$a.rss" 2>/dev/null | awk '{print $1}')
    rssb=$(tail -n 1 "$LT_TMP/$b.rss" 2>/dev/null | awk '{print $1}')
    cpua=$(tail -n 1 "$LT_TMP/$a.rss" 2>/dev/null | awk '{printf "%.2f", $2 + $3}')
    cpub=$(tail -n 1 "$LT_TMP/$b.rss" 2>/dev/null | awk '{printf "%.2f", $2 + $3}')
    if [[ "${LT_RC[$a]}" != 0 || "${LT_RC[$b]}" != 0 || -z "$ms" || "$got" != "$sha" ]]; then
        echo "FAIL exit ${LT_RC[$a]}/${LT_RC[$b]}, done elapsed_ms '${ms}', sha256 '${got}'"
        lt_dump "$a" >&2
        lt_dump "$b" >&2
        rm -rf "$dl"
        return
    fi
    # The receiver's own claim checked once more from the disk, outside the timing.
    if [[ "$(hash_of "$dl/$(basename "$file")")" != "$sha" ]]; then
        echo "FAIL the received file's hash differs"
        rm -rf "$dl"
        return
    fi
    rm -rf "$dl"
    echo "$(mbps "$size" "$(awk -v m="$ms" 'BEGIN{print m / 1000}')") $ms $(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.2f", b - a}') $rssa $rssb ${ams:-?} ${cpua:-?} ${cpub:-?}"
}

# The TLS pipe's cipher suite (for the record).
lab_exec hostB timeout 20 openssl s_server -tls1_3 -accept "$TLS_PORT" -naccept 1 -quiet \
    -cert "$WORK/cert/cert.pem" -key "$WORK/cert/key.pem" <>"$WORK/s_server.in" >/dev/null 2>&1 &
probe=$!
wait_listen hostB "$TLS_PORT"
TLS_SUITE=$(lab_exec hostA timeout 10 openssl s_client -tls1_3 -brief -connect "$LAB_IP_NATB_WAN:$TLS_PORT" \
    </dev/null 2>&1 | awk -F': ' '/Ciphersuite/ {print $2; exit}')
wait "$probe" 2>/dev/null
lt_log "TLS pipe cipher suite: ${TLS_SUITE:-unknown}"

# --- rounds ------------------------------------------------------------------------------
declare -A R=() # R[size,method,round] = "MB/s seconds ..." or "FAIL ..."
for size in "${SIZES[@]}"; do
    [[ $size != "$SIZE_MB" ]] && { rm -f "$FILE"; make_file "$size"; }
    for ((r = 1; r <= RUNS; r++)); do
        for m in $METHODS; do
            ensure_lab
            case $m in
            raw-sha256sum) R[$size,$m,$r]=$(pipe_run raw sha256sum) ;;
            tls-sha256sum) R[$size,$m,$r]=$(pipe_run tls sha256sum) ;;
            raw-openssl) R[$size,$m,$r]=$(pipe_run raw openssl) ;;
            tls-openssl) R[$size,$m,$r]=$(pipe_run tls openssl) ;;
            punchline-mem | punchline)
                PL_SEQ=$((PL_SEQ + 1))
                root=$WORK/recv
                [[ $m == punchline-mem ]] && root=$MEM
                R[$size,$m,$r]=$(pl_run "$PL_SEQ" "$FILE" "$FILE_SHA" "$root")
                ;;
            esac
            lt_log "$size MiB round $r $m: ${R[$size,$m,$r]}"
        done
    done
done
rm -f "$FILE"
DISK_END=$(disk_speed)

# --- report ------------------------------------------------------------------------------
# median of the numbers on stdin (one per line); "-" if none.
median() { sort -g | awk '{v[NR]=$1} END {if (NR == 0) {print "-"; exit}
    if (NR % 2) print v[(NR + 1) / 2]; else printf "%.1f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }
field() { awk -v i="$1" '$1 != "FAIL" {print $i}'; } # field N of a result line
ratio() { awk -v a="$1" -v b="$2" 'BEGIN{ if (a != "" && b != "" && b > 0) printf "%.2f", a / b; else print "-" }'; }
mib() { awk -v k="$1" 'BEGIN{ if (k != "") printf "%.1f", k / 1024; else print "-" }'; }
# col SIZE METHOD N: field N of every round, one per line
col() { for ((r = 1; r <= RUNS; r++)); do field "$3" <<<"${R[$1,$2,$r]:-FAIL}"; done; }
has() { [[ " $METHODS " == *" $1 "* ]]; }
cpu=$(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo)
T_END=$(date +%s)
mkdir -p "$(dirname "$OUT")"
{
    echo "# File transfer: punchline-cli against raw TCP and a TLS 1.3 pipe"
    echo
    echo "- date: $DATE_START to $(date -u '+%H:%M') UTC"
    echo "- machine: $(uname -sr), $(nproc) cores, ${cpu:-unknown CPU}, $(awk '/MemTotal/ {printf "%.0f GiB", $2 / 1048576}' /proc/meminfo) RAM; load average at the start $LOAD_START, at the end $(cut -d' ' -f1-3 /proc/loadavg) (shared with other engineers' builds: read the ratios, not the absolute MB/s)"
    echo "- the disk under /tmp (dd of 256 MiB, conv=fdatasync): ${DISK_START:-?} MB/s at the start, ${DISK_END:-?} MB/s at the end"
    echo "- program: $PUNCHLINE_CLI (built $(date -u -r "$PUNCHLINE_CLI" '+%Y-%m-%d %H:%M UTC')); source tree at the start: commit $COMMIT$([[ $DIRTY != 0 ]] && echo ", $DIRTY tracked files modified")"
    echo "- command: \`RUNS=$RUNS SIZE_MB=$SIZE_MB BIG_MB=$BIG_MB METHODS=\"$METHODS\" bench/transfer_bench.sh\` (total $((T_END - T_START)) s)"
    echo "- path: NAT lab drop/drop, DELAY_MS 0 (veth links), hostA -> natA (MASQUERADE) -> inet -> natB -> hostB; baselines reach hostB through a DNAT port forward in natB, Punchline through its punched connection"
    echo "- files: random data in /tmp, in the page cache; MB = 10^6 bytes"
    echo "- receivers' hash speed alone (the $SIZE_MB MiB file from the page cache): sha256sum $SPEED_SHA256SUM MB/s, openssl dgst -sha256 $SPEED_OPENSSL MB/s"
    ((LAB_REBUILDS > 0)) && echo "- the lab was rebuilt $LAB_REBUILDS time(s) during the run: its STUN server (coturn) had stopped answering (gone, not by this script)"
    echo "- TLS pipe cipher suite: ${TLS_SUITE:-unknown} (Punchline: TLS 1.3 through QSslSocket, OpenSSL $(openssl version | awk '{print $2}'))"
    echo
    echo "Commands (on hostA / hostB, inside the lab's namespaces):"
    echo
    echo '```'
    echo "raw:  B: socat -u -b $SOCAT_BLOCK TCP-LISTEN:$RAW_PORT,reuseaddr STDOUT | sha256sum    (or | openssl dgst -sha256 -r)"
    echo "      A: socat -u -b $SOCAT_BLOCK OPEN:FILE TCP:$LAB_IP_NATB_WAN:$RAW_PORT"
    echo "tls:  B: openssl s_server -tls1_3 -accept $TLS_PORT -naccept 1 -quiet -cert cert.pem -key key.pem <>FIFO | sha256sum    (or | openssl dgst -sha256 -r)"
    echo "      A: openssl s_client -tls1_3 -quiet -no_ign_eof -nocommands -connect $LAB_IP_NATB_WAN:$TLS_PORT < FILE"
    echo "      (cert: openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=bench)"
    echo "natB: iptables -t nat -A PREROUTING -i wan -p tcp -d $LAB_IP_NATB_WAN --dport $RAW_PORT:$TLS_PORT -j DNAT --to-destination $LAB_IP_HOSTB"
    echo "      iptables -I FORWARD -i wan -o lan -p tcp -d $LAB_IP_HOSTB --dport $RAW_PORT:$TLS_PORT -m conntrack --ctstate DNAT -j ACCEPT"
    echo "punchline: A: /usr/bin/time -f '%M %U %S' punchline-cli --profile P --port 4100N --stun $LAB_IP_STUN1:$LAB_STUN_PORT --stun $LAB_IP_STUN2:$LAB_STUN_PORT --ip-echo none --json \\"
    echo "              --write-code A.code --peer @B.code --timeout 60 --send FILE --exit-when-done"
    echo "           B: /usr/bin/time -f '%M %U %S' punchline-cli … --write-code B.code --peer @A.code --timeout 60 --download-dir DIR --accept all --exit-when-done"
    echo "           DIR: punchline-mem a tmpfs (mount -t tmpfs), punchline a folder in /tmp (ext4 on the disk)"
    echo '```'
    echo
    echo "Baseline time: sender started -> receiver's hash printed. Punchline: \`elapsed_ms\` of B's"
    echo "\`done\` event (accept -> last byte written, SHA-256 verified, data and folder entry synced,"
    echo "file renamed), and the wall time from starting both programs to both exiting. The baselines"
    echo "hash but do not write the data."
    echo
    echo "Reading it: sha256sum alone hashes $SPEED_SHA256SUM MB/s here, so the *-sha256sum pipes are"
    echo "bounded by their hasher; the *-openssl pipes show the path and TLS. Punchline runs TLS on its"
    echo "network thread and reading/hashing (sender) or hashing/writing/syncing (receiver) on a disk"
    echo "thread per side (ARCHITECTURE.md, Threads). punchline-mem is target 2 (the data path);"
    echo "punchline is target 4 (done = on disk): it cannot be faster than the disk's own sync speed"
    echo "above, and the difference between the two rows is what durability costs here."
    for size in "${SIZES[@]}"; do
        bytes=$((size * 1024 * 1024))
        echo
        echo "## $size MiB, median of $RUNS rounds"
        echo
        echo "| method | MB/s (median) | per round MB/s | notes |"
        echo "| --- | --- | --- | --- |"
        for m in $METHODS; do
            per=""
            for ((r = 1; r <= RUNS; r++)); do
                v=$(field 1 <<<"${R[$size,$m,$r]:-FAIL}")
                per+="${per:+, }${v:-FAIL}"
            done
            case $m in
            punchline*)
                note="elapsed_ms median $(col "$size" "$m" 2 | median) ms, wall median $(col "$size" "$m" 3 | median) s (wall MB/s $(mbps "$bytes" "$(col "$size" "$m" 3 | median)")); CPU s (user+sys) median sender $(col "$size" "$m" 7 | median), receiver $(col "$size" "$m" 8 | median); peak RSS MiB median sender $(mib "$(col "$size" "$m" 4 | median)"), receiver $(mib "$(col "$size" "$m" 5 | median)")"
                ;;
            *) note="time median $(col "$size" "$m" 2 | median) s" ;;
            esac
            echo "| $m | $(col "$size" "$m" 1 | median) | $per | $note |"
        done
        echo
        echo "Ratios within each round (target 2: punchline-mem >= 0.9 x raw-openssl):"
        echo
        echo "| Punchline | against | per round | median |"
        echo "| --- | --- | --- | --- |"
        for pm in punchline-mem punchline; do
            has "$pm" || continue
            for base in raw-openssl tls-openssl raw-sha256sum tls-sha256sum punchline-mem; do
                has "$base" && [[ $base != "$pm" ]] || continue
                [[ $pm == punchline-mem && $base == punchline-mem ]] && continue
                per="" vals=()
                for ((r = 1; r <= RUNS; r++)); do
                    v=$(ratio "$(field 1 <<<"${R[$size,$pm,$r]:-FAIL}")" "$(field 1 <<<"${R[$size,$base,$r]:-FAIL}")")
                    per+="${per:+, }$v"
                    [[ $v != - ]] && vals+=("$v")
                done
                echo "| $pm | $base | $per | $(printf '%s\n' "${vals[@]}" | grep . | median) |"
            done
        done
    done
    if ((${#SIZES[@]} > 1)); then
        echo
        echo "## Flat in size: $BIG_MB MiB against $SIZE_MB MiB (target: within 10 %)"
        echo
        echo "Medians of the per-round ratios above (against raw-openssl, so that the machine's load"
        echo "in each part of the run cancels out), and of the MB/s themselves:"
        echo
        echo "| method | ratio to raw-openssl, $SIZE_MB MiB | $BIG_MB MiB | big / small | MB/s $SIZE_MB MiB | $BIG_MB MiB | big / small |"
        echo "| --- | --- | --- | --- | --- | --- | --- |"
        for m in $METHODS; do
            [[ $m == punchline* ]] || continue
            rs=() rb=()
            for ((r = 1; r <= RUNS; r++)); do
                v=$(ratio "$(field 1 <<<"${R[$SIZE_MB,$m,$r]:-FAIL}")" "$(field 1 <<<"${R[$SIZE_MB,raw-openssl,$r]:-FAIL}")")
                [[ $v != - ]] && rs+=("$v")
                v=$(ratio "$(field 1 <<<"${R[$BIG_MB,$m,$r]:-FAIL}")" "$(field 1 <<<"${R[$BIG_MB,raw-openssl,$r]:-FAIL}")")
                [[ $v != - ]] && rb+=("$v")
            done
            ms=$(printf '%s\n' "${rs[@]}" | grep . | median)
            mb=$(printf '%s\n' "${rb[@]}" | grep . | median)
            ts=$(col "$SIZE_MB" "$m" 1 | median)
            tb=$(col "$BIG_MB" "$m" 1 | median)
            echo "| $m | $ms | $mb | $(ratio "$mb" "$ms") | $ts | $tb | $(ratio "$tb" "$ts") |"
        done
    fi
    echo
    echo "Raw results (size method round: MB/s seconds | punchline: MB/s elapsed_ms wall_s rss_A_KiB rss_B_KiB A_elapsed_ms cpu_A_s cpu_B_s):"
    echo
    echo '```'
    for size in "${SIZES[@]}"; do
        for ((r = 1; r <= RUNS; r++)); do
            for m in $METHODS; do echo "$size $m $r: ${R[$size,$m,$r]:-}"; done
        done
    done
    echo '```'
} >"$OUT"
lt_log "wrote $OUT"
cat "$OUT"
fail=0
for k in "${!R[@]}"; do [[ ${R[$k]} == FAIL* ]] && fail=1; done
exit $fail
