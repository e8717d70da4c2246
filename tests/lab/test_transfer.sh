#!/usr/bin/env bash
# File and folder transfer through the NAT lab (issue 4: fast, resumable, safe). drop/drop at
# DELAY_MS 0; A on hostA, B on hostB, codes swapped through files, each case on its own ports.
#   (a) a LAB_TRANSFER_MB (default 200) MiB random file and a folder tree with nested, non-ASCII,
#       spaced and hidden names and an empty file, sent A -> B in one run (--send twice,
#       --accept all, --exit-when-done): both exit 0; B's copies are bit-identical (cmp, sha256sum
#       of every file of both trees); the `done` events' sha256 is the file's sha256sum (and for
#       the folder the manifest hash, core/transfer/README.md) on both sides; no partial file left.
#   (b) the same two items sent again (same profiles) into the same download dir: nothing is
#       overwritten: "big (1).bin" and "Ünïcødé (1)" appear, bit-identical, and the first copies
#       are unchanged (content, inode, mtime).
#   (c) transfers both ways at once (100 MiB each) with chat: --say lines and lines typed on
#       stdin while both transfers run are printed once by the other side and delivered; both
#       files arrive bit-identical; both exit 0.
#   (d) resume after a crash: B (receiver) gets SIGKILL once a third of the file has arrived
#       (B's progress events, followed as written). The partial file stays; B is restarted with
#       the same --profile, --port and --download-dir while A keeps running (A heals the link,
#       --keepalive 1 --peer-timeout 4) and re-offers; B resumes from its record: a transfer
#       event with resumed_from > 0, equal to the partial file's length; the file completes
#       bit-identical under its own name (no "(1)" copy, no partial file left), both exit 0.
#   (e) full disk, two ways. (e1) B's --download-dir is a 20 MiB tmpfs and A sends 50 MiB: B
#       refuses before writing (free space checked at accept): a `failed` transfer with error
#       disk-full on both sides, B exits 0 (no crash), nothing is written. (e2) a 64 MiB tmpfs
#       and 50 MiB: the space runs out mid-transfer (A is paused with SIGSTOP after B's first
#       progress, the tmpfs is filled, A continues): B fails with disk-full ("The disk is
#       full"), A sees disk-full, B exits 0, and the partial file remains on the tmpfs with the
#       bytes written. Then the filler is deleted and A (same profile) sends the file again to a
#       restarted B (same profile): the new offer adopts the partial data (resumed_from > 0)
#       and the file completes bit-identical.
#   (f) --accept none: B declines; A reports the transfer `declined` with a message saying so,
#       B reports `declined` too; nothing is written to B's download dir; both exit 0.
#   (g) done means on disk (issue 15 target 4): B runs under strace (fdatasync, fsync, renames,
#       writes) and gets SIGKILL as soon as its `done` event is written (followed as written).
#       The file is then complete (sha256) under its final name with no partial file left, and
#       the trace shows, in this order: fdatasync of the partial file, its renameat2 to the final
#       name, fsync of the folder, and only then the write of the `done` line. A SIGKILL keeps the
#       page cache, so this cannot show that the file survives a power cut (a true power cut
#       cannot be simulated here); the syscall order is what makes it survive one.
# Cases (c), (d) and (e2) act while a transfer runs, so during them both NATs' WAN egress is
# rate-limited (tc tbf, LAB_TRANSFER_SHAPE, default 200mbit): the transfer then lasts seconds
# however fast or loaded the machine is. (a) and (b) run at full speed (throughput is logged).
# tmpfs mounts are made on host paths below this test's data dir (visible in the namespaces)
# and unmounted on exit. No assertion depends on how fast anything is.
# Env: LAB_TRANSFER_CASES (default "a b c d e f g"; b needs a), LAB_TRANSFER_MB (default 200),
# LAB_TRANSFER_SHAPE (default 200mbit).
set -u
source "$(dirname "$0")/lab_test.sh"
lt_require_cli
lt_init
CASES=${LAB_TRANSFER_CASES:-a b c d e f g}
BIG_MB=${LAB_TRANSFER_MB:-200}
SHAPE=${LAB_TRANSFER_SHAPE:-200mbit}
[[ "$BIG_MB" =~ ^[0-9]+$ && "$BIG_MB" -ge 3 && "$BIG_MB" -le 2048 ]] || {
    echo "LAB_TRANSFER_MB must be 3..2048"
    exit 2
}
for c in $CASES; do
    [[ " a b c d e f g " == *" $c "* ]] || { echo "unknown case $c (known: a b c d e f g)"; exit 2; }
done

DATA=$(mktemp -d "${TMPDIR:-/tmp}/pl-transfer-data.XXXXXX")
MOUNTS=()  # tmpfs mount points to unmount on exit
STOPPED=() # pids we sent SIGSTOP, continued on exit so they can end
tt_cleanup() {
    local p m i
    for p in "${STOPPED[@]}"; do kill -CONT "$p" 2>/dev/null; done
    lt_cleanup # stops the programs (they hold the mounts open) and the lab
    for m in "${MOUNTS[@]}"; do
        for ((i = 0; i < 50; i++)); do
            mountpoint -q "$m" || break
            umount "$m" 2>/dev/null && break
            sleep 0.1
        done
        mountpoint -q "$m" && umount -l "$m"
    done
    rm -rf "$DATA"
}
trap 'tt_cleanup' EXIT

# --- data --------------------------------------------------------------------------------
SRC=$DATA/src
mkdir -p "$SRC"
BIG=$SRC/big.bin
BIG_BYTES=$((BIG_MB * 1024 * 1024))
head -c "$BIG_BYTES" /dev/urandom >"$BIG"
BIG_SHA=$(sha256sum <"$BIG" | cut -d' ' -f1)
TREE_NAME="Ünïcødé"
TREE=$SRC/$TREE_NAME
mkdir -p "$TREE/子目录/deeper level/ещё глубже" "$TREE/l1/l2/l3/l4/l5/l6" "$TREE/Ελληνικά" \
    "$TREE/a" "$TREE/a b"
printf 'Привет, мир\n' >"$TREE/子目录/файл.txt"
printf 'three levels down\n' >"$TREE/子目录/deeper level/ещё глубже/a b c.txt"
: >"$TREE/empty file.txt"
head -c $((1024 * 1024)) /dev/urandom >"$TREE/with spaces  two.bin"
head -c $((300 * 1024 + 7)) /dev/urandom >"$TREE/l1/l2/l3/l4/l5/l6/deep.dat"
printf '# 日本語\n' >"$TREE/Ελληνικά/日本語 ファイル.md"
printf 'hidden\n' >"$TREE/.hidden"
printf 'x\n' >"$TREE/a/x.txt"   # "a" sorts before "a b" per level, after it as a whole path:
printf 'y\n' >"$TREE/a b/y.txt" # checks the manifest order
TREE_SUMS=$(lt_tree_sums "$TREE")
TREE_SHA=$(lt_manifest_sha256 "$TREE" "$TREE_NAME")
TREE_FILES=$(find "$TREE" -type f | wc -l)
lt_log "data: big.bin $BIG_BYTES bytes sha256 $BIG_SHA; $TREE_NAME: $TREE_FILES files, manifest $TREE_SHA"

lt_lab_up drop drop 0

# --- helpers -----------------------------------------------------------------------------
A_ARGS=()
B_ARGS=()
# start_pair A B PORT_A PORT_B: A on hostA, B on hostB, codes swapped through files at once,
# extra arguments from the arrays A_ARGS and B_ARGS.
start_pair() {
    lt_cli_start "$1" hostA "$3" --write-code "$LT_TMP/$1.code" --peer "@$LT_TMP/$2.code" \
        --timeout 60 "${A_ARGS[@]}"
    lt_cli_start "$2" hostB "$4" --write-code "$LT_TMP/$2.code" --peer "@$LT_TMP/$1.code" \
        --timeout 60 "${B_ARGS[@]}"
}
# xf NAME DIRECTION TRANSFER_NAME STATE JQ_PATH: a field of NAME's first transfer event with
# that direction, name and state (raw; empty if none).
xf() {
    jq -r -R --arg d "$2" --arg n "$3" --arg s "$4" "fromjson? | select(type == \"object\"
        and .event == \"transfer\" and .direction == \$d and .name == \$n and .state == \$s)
        | $5 // empty | tostring" "$LT_TMP/$1.out" 2>/dev/null | head -n 1
}
# states NAME DIRECTION: the states NAME reported for its transfers that way, progress left out
# and repeats collapsed, e.g. "offered accepted done".
states() {
    lt_events "$1" "select(.event == \"transfer\" and .direction == \"$2\"
        and .state != \"progress\") | .state" | jq -r . | uniq | paste -sd ' '
}
# rate BYTES MS: MB/s (10^6 bytes), for the log.
rate() { awk -v b="$1" -v ms="$2" 'BEGIN{ if (ms > 0) printf "%.0f", b / ms / 1000; else print "?" }'; }
# dump_if_failed BEFORE NAMES...: the programs' output when a check of this case failed.
dump_if_failed() {
    local before=$1 n
    shift
    if ((LT_FAIL > before)); then for n in "$@"; do lt_dump "$n"; done; fi
}
# exit_ok NAME CASE: exit code 0 (so neither killed by a signal nor by the hard timeout).
exit_ok() { lt_eq "($2) $1 exit code" 0 "${LT_RC[$1]}"; }

# --- (a) a big file and a folder tree in one run ------------------------------------------
DL_AB=$DATA/dl-ab
case_a() {
    local before=$LT_FAIL ms
    lt_log "== (a) $BIG_MB MiB file + folder tree ($TREE_FILES files) A -> B in one run"
    mkdir -p "$DL_AB"
    A_ARGS=(--send "$BIG" --send "$TREE" --exit-when-done)
    B_ARGS=(--download-dir "$DL_AB" --accept all --exit-when-done)
    start_pair A B 41000 42000
    lt_cli_wait A 160
    lt_cli_wait B 20
    exit_ok A a
    exit_ok B a
    lt_check_connected B direct "$LAB_IP_NATA_WAN"
    lt_eq "(a) B: states of its two transfers (progress left out)" "offered accepted done" \
        "$(states B in | tr ' ' '\n' | awk '!seen[$0]++' | paste -sd ' ')"
    lt_eq "(a) B: no failed transfer" 0 "$(lt_count B '.event == "transfer" and .state == "failed"')"
    lt_eq "(a) B: done sha256 of big.bin is its sha256sum" "$BIG_SHA" "$(xf B in big.bin done .sha256)"
    lt_eq "(a) A: done sha256 of big.bin is its sha256sum" "$BIG_SHA" "$(xf A out big.bin done .sha256)"
    lt_eq "(a) B: done path of big.bin" "$DL_AB/big.bin" "$(xf B in big.bin done .path)"
    lt_eq "(a) B: done bytes = total" "$BIG_BYTES" "$(xf B in big.bin done .bytes)"
    lt_check "(a) big.bin arrived bit-identical (cmp)" cmp -s "$BIG" "$DL_AB/big.bin"
    lt_eq "(a) B: done sha256 of the folder is the manifest hash" "$TREE_SHA" \
        "$(xf B in "$TREE_NAME" done .sha256)"
    lt_eq "(a) A: done sha256 of the folder is the manifest hash" "$TREE_SHA" \
        "$(xf A out "$TREE_NAME" done .sha256)"
    lt_eq "(a) B: done path of the folder" "$DL_AB/$TREE_NAME" "$(xf B in "$TREE_NAME" done .path)"
    lt_eq "(a) the folder tree arrived identical (names, sha256sum of every file)" "$TREE_SUMS" \
        "$(lt_tree_sums "$DL_AB/$TREE_NAME" 2>&1)"
    lt_check "(a) the empty file arrived empty" test -f "$DL_AB/$TREE_NAME/empty file.txt" -a \
        ! -s "$DL_AB/$TREE_NAME/empty file.txt"
    lt_eq "(a) nothing else in the download dir" "big.bin|$TREE_NAME" \
        "$(ls -A "$DL_AB" | LC_ALL=C sort | paste -sd '|')"
    lt_eq "(a) no partial file left" "" "$(find "$DL_AB" -name '*.punchline-part')"
    ms=$(xf B in big.bin done .elapsed_ms)
    lt_log "(a) big.bin: B elapsed_ms ${ms:-?} ($(rate "$BIG_BYTES" "${ms:-0}") MB/s); run time A ${LT_ELAPSED[A]} s"
    dump_if_failed "$before" A B
}

# --- (b) the same items again: no overwrite -----------------------------------------------
case_b() {
    local before=$LT_FAIL stat1 sums1
    lt_log "== (b) the same file and folder again into the same download dir"
    if [[ ! -f "$DL_AB/big.bin" ]]; then
        lt_fail "(b) needs case a's download dir"
        return
    fi
    stat1=$(stat -c '%i %s %Y' "$DL_AB/big.bin")
    sums1=$(lt_tree_sums "$DL_AB/$TREE_NAME")
    A_ARGS=(--profile "$LT_TMP/A/profile" --send "$BIG" --send "$TREE" --exit-when-done)
    B_ARGS=(--profile "$LT_TMP/B/profile" --download-dir "$DL_AB" --accept all --exit-when-done)
    start_pair A2 B2 41001 42001
    lt_cli_wait A2 160
    lt_cli_wait B2 20
    exit_ok A2 b
    exit_ok B2 b
    lt_eq "(b) B: the second copy's path" "$DL_AB/big (1).bin" "$(xf B2 in big.bin done .path)"
    lt_check "(b) \"big (1).bin\" is bit-identical" cmp -s "$BIG" "$DL_AB/big (1).bin"
    lt_eq "(b) B: done sha256 of the second copy" "$BIG_SHA" "$(xf B2 in big.bin done .sha256)"
    lt_eq "(b) the first big.bin is untouched (inode, size, mtime)" "$stat1" \
        "$(stat -c '%i %s %Y' "$DL_AB/big.bin")"
    lt_check "(b) the first big.bin still has its content" cmp -s "$BIG" "$DL_AB/big.bin"
    lt_eq "(b) B: the second folder's path" "$DL_AB/$TREE_NAME (1)" \
        "$(xf B2 in "$TREE_NAME" done .path)"
    lt_eq "(b) \"$TREE_NAME (1)\" is identical to the source tree" "$TREE_SUMS" \
        "$(lt_tree_sums "$DL_AB/$TREE_NAME (1)" 2>&1)"
    lt_eq "(b) the first folder is unchanged" "$sums1" "$(lt_tree_sums "$DL_AB/$TREE_NAME")"
    lt_eq "(b) the download dir holds both copies of each" \
        "big (1).bin|big.bin|$TREE_NAME|$TREE_NAME (1)" \
        "$(ls -A "$DL_AB" | LC_ALL=C sort | paste -sd '|')"
    lt_eq "(b) no partial file left" "" "$(find "$DL_AB" -name '*.punchline-part')"
    dump_if_failed "$before" A2 B2
}

# --- (c) both directions at once, with chat ----------------------------------------------
case_c() {
    local before=$LT_FAIL fa=$SRC/from-a.bin fb=$SRC/from-b.bin n busy t order
    local dla=$DATA/dl-c-a dlb=$DATA/dl-c-b size=$((100 * 1024 * 1024))
    lt_log "== (c) 100 MiB each way at once, chat during the transfers"
    head -c "$size" /dev/urandom >"$fa"
    head -c "$size" /dev/urandom >"$fb"
    mkdir -p "$dla" "$dlb"
    lt_shape "$SHAPE" || lt_fail "(c) tc tbf $SHAPE on the NATs' WAN"
    A_ARGS=(--send "$fa" --download-dir "$dla" --accept all --say "hello from A" --exit-when-done)
    B_ARGS=(--send "$fb" --download-dir "$dlb" --accept all --say "hello from B" --exit-when-done)
    start_pair Ac Bc 41002 42002
    if lt_wait_bytes Bc 1 60 in && lt_wait_bytes Ac 1 20 in; then
        busy=$(($(lt_count Ac '.event == "transfer" and .state == "done"') + \
            $(lt_count Bc '.event == "transfer" and .state == "done"')))
        lt_cli_say Ac "typed by A during the transfers"
        lt_cli_say Bc "typed by B during the transfers"
        lt_eq "(c) the lines were typed while both transfers were running (done events so far)" \
            0 "$busy"
    else
        lt_fail "(c) both sides report incoming progress"
    fi
    lt_cli_wait Ac 120
    lt_cli_wait Bc 20
    lt_shape off
    exit_ok Ac c
    exit_ok Bc c
    lt_check "(c) A -> B file bit-identical" cmp -s "$fa" "$dlb/from-a.bin"
    lt_check "(c) B -> A file bit-identical" cmp -s "$fb" "$dla/from-b.bin"
    lt_eq "(c) B: done sha256 of A's file" "$(sha256sum <"$fa" | cut -d' ' -f1)" \
        "$(xf Bc in from-a.bin done .sha256)"
    lt_eq "(c) A: done sha256 of B's file" "$(sha256sum <"$fb" | cut -d' ' -f1)" \
        "$(xf Ac in from-b.bin done .sha256)"
    for t in "hello from A" "typed by A during the transfers"; do lt_check_message Ac Bc "$t"; done
    for t in "hello from B" "typed by B during the transfers"; do lt_check_message Bc Ac "$t"; done
    lt_messages_once Ac
    lt_messages_once Bc
    # Information only (depends on speed): did the typed line overtake the incoming transfer?
    for n in Ac Bc; do
        order=$(lt_events "$n" 'select((.event == "message" and (.text | startswith("typed")))
            or (.event == "transfer" and .direction == "in" and .state == "done")) | .event' |
            jq -r . | paste -sd ' ')
        lt_log "(c) $n printed: $order"
    done
    lt_log "(c) elapsed_ms A->B $(xf Bc in from-a.bin done .elapsed_ms), B->A $(xf Ac in from-b.bin done .elapsed_ms)"
    dump_if_failed "$before" Ac Bc
}

# --- (d) receiver killed at a third, restarted: resume ------------------------------------
case_d() {
    local before=$LT_FAIL dl=$DATA/dl-d third=$((BIG_BYTES / 3)) pid part psize resumed
    local heal=(--keepalive 1 --peer-timeout 4 --reconnect-window 120)
    lt_log "== (d) B killed (SIGKILL) after a third of $BIG_MB MiB, restarted: resume"
    mkdir -p "$dl"
    lt_shape "$SHAPE" || lt_fail "(d) tc tbf $SHAPE on the NATs' WAN"
    A_ARGS=(--send "$BIG" --exit-when-done "${heal[@]}")
    B_ARGS=(--download-dir "$dl" --accept all --exit-when-done "${heal[@]}")
    start_pair Ad Bd 41003 42003
    if ! lt_wait_bytes Bd "$third" 90 in; then
        lt_fail "(d) B reported a third of the file"
        lt_shape off
        dump_if_failed "$before" Ad Bd
        return
    fi
    pid=$(lt_cli_pid Bd)
    if [[ -z "$pid" ]] || ! kill -KILL "$pid"; then
        lt_fail "(d) SIGKILL to B"
        lt_shape off
        dump_if_failed "$before" Ad Bd
        return
    fi
    lt_cli_wait Bd 10
    lt_log "(d) B killed after it reported $LT_BYTES of $BIG_BYTES bytes"
    lt_eq "(d) B's first run ended by SIGKILL (timeout reports 137)" 137 "${LT_RC[Bd]}"
    lt_eq "(d) B's first run did not finish the transfer" 0 \
        "$(lt_count Bd '.event == "transfer" and .state == "done"')"
    part=$(find "$dl" -name '*.punchline-part')
    psize=$(stat -c %s "$part" 2>/dev/null || echo 0)
    lt_check "(d) a partial file is left ($part, $psize bytes)" test "$psize" -gt 0
    lt_eq "(d) nothing has its final name yet" "" "$(find "$dl" -name big.bin)"
    lt_cli_start Bd2 hostB 42003 --profile "$LT_TMP/Bd/profile" --write-code "$LT_TMP/Bd2.code" \
        --peer "@$LT_TMP/Ad.code" --timeout 60 "${B_ARGS[@]}"
    lt_cli_wait Ad 150
    lt_cli_wait Bd2 20
    lt_shape off
    exit_ok Ad d
    exit_ok Bd2 d
    lt_check "(d) A reconnected to the restarted B" test "$(lt_count Ad '.event == "connected"')" -ge 2
    resumed=$(lt_events Bd2 'select(.event == "transfer" and .direction == "in") | .resumed_from // 0' |
        sort -n | tail -n 1)
    lt_check "(d) B's second run resumed: resumed_from ${resumed:-none} > 0" test "${resumed:-0}" -gt 0
    lt_eq "(d) resumed from exactly the partial file's length" "$psize" "${resumed:-}"
    lt_eq "(d) B's second run: done, same transfer" "$(xf Bd in big.bin offered .id)" \
        "$(xf Bd2 in big.bin done .id)"
    lt_eq "(d) B: done sha256" "$BIG_SHA" "$(xf Bd2 in big.bin done .sha256)"
    lt_eq "(d) A: done sha256" "$BIG_SHA" "$(xf Ad out big.bin done .sha256)"
    lt_check "(d) the resumed file is bit-identical" cmp -s "$BIG" "$dl/big.bin"
    lt_eq "(d) only big.bin in the download dir (no copy, no partial)" "big.bin" \
        "$(ls -A "$dl" | paste -sd '|')"
    lt_log "(d) A's transfer states: $(states Ad out); A's resumed_from: $(lt_events Ad 'select(.event == "transfer") | .resumed_from // empty' | sort -n | tail -n 1); B2: $(states Bd2 in), elapsed_ms $(xf Bd2 in big.bin done .elapsed_ms)"
    dump_if_failed "$before" Ad Bd Bd2
}

# --- (e) full disk ------------------------------------------------------------------------
# mount_tmpfs DIR SIZE: a tmpfs on a host path (the namespaces see it), unmounted on exit.
mount_tmpfs() {
    mkdir -p "$1" && mount -t tmpfs -o "size=$2,mode=0755" tmpfs "$1" && MOUNTS+=("$1")
}
case_e() {
    local before=$LT_FAIL f50=$SRC/fifty.bin mnt1=$DATA/tmpfs20 mnt2=$DATA/tmpfs64 apid part
    local psize msg resumed
    head -c $((50 * 1024 * 1024)) /dev/urandom >"$f50"
    lt_log "== (e1) 50 MiB to a 20 MiB tmpfs: refused before writing"
    if ! mount_tmpfs "$mnt1" 20m; then
        lt_fail "(e1) mount a 20 MiB tmpfs"
        return
    fi
    A_ARGS=(--send "$f50" --exit-when-done)
    B_ARGS=(--download-dir "$mnt1" --accept all --exit-when-done)
    start_pair Ae Be 41004 42004
    lt_cli_wait Ae 60
    lt_cli_wait Be 20
    exit_ok Be e1
    exit_ok Ae e1
    lt_eq "(e1) B: the transfer failed with disk-full" disk-full "$(xf Be in fifty.bin failed .error)"
    msg=$(xf Be in fifty.bin failed .message)
    lt_match "(e1) B: the message says why" "free space" "$msg"
    lt_eq "(e1) A: the transfer failed with disk-full" disk-full "$(xf Ae out fifty.bin failed .error)"
    lt_log "(e1) B: $msg | A: $(xf Ae out fifty.bin failed .message)"
    lt_eq "(e1) nothing written to the tmpfs" "" "$(find "$mnt1" -mindepth 1)"
    dump_if_failed "$before" Ae Be

    before=$LT_FAIL
    lt_log "== (e2) 50 MiB to a 64 MiB tmpfs that fills up mid-transfer"
    if ! mount_tmpfs "$mnt2" 64m; then
        lt_fail "(e2) mount a 64 MiB tmpfs"
        return
    fi
    mkdir -p "$mnt2/dl"
    lt_shape "$SHAPE" || lt_fail "(e2) tc tbf $SHAPE on the NATs' WAN"
    A_ARGS=(--send "$f50" --exit-when-done)
    B_ARGS=(--download-dir "$mnt2/dl" --accept all --exit-when-done)
    start_pair Ae2 Be2 41005 42005
    if lt_wait_bytes Be2 1 60 in && apid=$(lt_cli_pid Ae2) && kill -STOP "$apid"; then
        STOPPED+=("$apid")
        # Fill the tmpfs (dd ends at ENOSPC; bounded by the count anyway), then let A go on.
        dd if=/dev/zero of="$mnt2/filler" bs=1M count=64 2>/dev/null
        lt_log "(e2) A paused at B's first progress; tmpfs filled: $(df -B1 --output=avail "$mnt2" | tail -n 1 | tr -d ' ') bytes free, partial $(find "$mnt2/dl" -name '*.punchline-part' -printf '%s')"
        kill -CONT "$apid"
    else
        lt_fail "(e2) pause A at B's first progress"
    fi
    lt_cli_wait Ae2 60
    lt_cli_wait Be2 20
    lt_shape off
    exit_ok Be2 e2
    exit_ok Ae2 e2
    lt_eq "(e2) B: the transfer failed with disk-full" disk-full "$(xf Be2 in fifty.bin failed .error)"
    msg=$(xf Be2 in fifty.bin failed .message)
    lt_match "(e2) B: the message says the disk is full" "disk is full" "$msg"
    lt_eq "(e2) A: the transfer failed with disk-full" disk-full "$(xf Ae2 out fifty.bin failed .error)"
    lt_log "(e2) B: $msg | A: $(xf Ae2 out fifty.bin failed .message)"
    part=$(find "$mnt2/dl" -name '*.punchline-part')
    psize=$(stat -c %s "$part" 2>/dev/null || echo 0)
    lt_check "(e2) the partial file remains on the tmpfs ($psize bytes)" test "$psize" -gt 0
    lt_eq "(e2) B's failed event counts the bytes on disk" "$psize" "$(xf Be2 in fifty.bin failed .bytes)"
    lt_eq "(e2) no file under its final name" "" "$(find "$mnt2/dl" -name fifty.bin)"
    dump_if_failed "$before" Ae2 Be2

    before=$LT_FAIL
    lt_log "== (e3) space freed, A sends the same file again: B adopts the partial data"
    rm -f "$mnt2/filler"
    A_ARGS=(--profile "$LT_TMP/Ae2/profile" --send "$f50" --exit-when-done)
    B_ARGS=(--profile "$LT_TMP/Be2/profile" --download-dir "$mnt2/dl" --accept all --exit-when-done)
    start_pair Ae3 Be3 41006 42006
    lt_cli_wait Ae3 60
    lt_cli_wait Be3 20
    exit_ok Ae3 e3
    exit_ok Be3 e3
    resumed=$(lt_events Be3 'select(.event == "transfer" and .direction == "in") | .resumed_from // 0' |
        sort -n | tail -n 1)
    lt_eq "(e3) B resumed from the partial file left by the full disk" "$psize" "${resumed:-}"
    lt_eq "(e3) B: done sha256" "$(sha256sum <"$f50" | cut -d' ' -f1)" "$(xf Be3 in fifty.bin done .sha256)"
    lt_check "(e3) the file is bit-identical" cmp -s "$f50" "$mnt2/dl/fifty.bin"
    lt_eq "(e3) only fifty.bin in the download dir" "fifty.bin" "$(ls -A "$mnt2/dl" | paste -sd '|')"
    dump_if_failed "$before" Ae3 Be3
}

# --- (f) --accept none ----------------------------------------------------------------------
case_f() {
    local before=$LT_FAIL dl=$DATA/dl-f small=$SRC/small.bin
    lt_log "== (f) B runs with --accept none"
    head -c $((1024 * 1024)) /dev/urandom >"$small"
    mkdir -p "$dl"
    A_ARGS=(--send "$small" --exit-when-done)
    B_ARGS=(--download-dir "$dl" --accept none --exit-when-done)
    start_pair Af Bf 41007 42007
    lt_cli_wait Af 60
    lt_cli_wait Bf 20
    exit_ok Af f
    exit_ok Bf f
    lt_eq "(f) A: the transfer was declined" "offered declined" "$(states Af out)"
    lt_eq "(f) B: declined the offer" "offered declined" "$(states Bf in)"
    lt_eq "(f) A: declined event has bytes 0" 0 "$(xf Af out small.bin declined .bytes)"
    lt_match "(f) A: the declined event says so in its message" "declined" \
        "$(xf Af out small.bin declined .message)"
    lt_log "(f) A: $(lt_events Af 'select(.event == "transfer" and .state == "declined")')"
    lt_eq "(f) nothing written to B's download dir" "" "$(find "$dl" -mindepth 1)"
    dump_if_failed "$before" Af Bf
}

# --- (g) done means on disk -----------------------------------------------------------------
# stitched TRACE: strace -f output with each "<unfinished ...>" call joined to its "resumed"
# line, at the place where it returned.
stitched() {
    awk '{ pid = $1 }
        / <unfinished \.\.\.>$/ { sub(/ <unfinished \.\.\.>$/, ""); held[pid] = $0; next }
        /<\.\.\. [a-z0-9_]+ resumed>/ { rest = $0; sub(/^.*resumed>/, "", rest); print held[pid] rest; next }
        { print }' "$1"
}
case_g() {
    local before=$LT_FAIL dl=$DATA/dl-g file=$SRC/g.bin sha trace=$DATA/g.strace wrap=$DATA/strace-cli
    local real=$PUNCHLINE_CLI cli l_sync l_ren l_dir l_done
    lt_log "== (g) B killed (SIGKILL) right after its done event: the file is complete and named"
    command -v strace >/dev/null || { lt_fail "(g) strace is needed (apt-get install strace)"; return; }
    head -c $((20 * 1024 * 1024)) /dev/urandom >"$file"
    sha=$(sha256sum <"$file" | cut -d' ' -f1)
    mkdir -p "$dl"
    printf '#!/bin/sh\nexec strace --seccomp-bpf -f -y -s 400 -e signal=none -e trace=fdatasync,fsync,renameat2,renameat,rename,linkat,write -o %q %q "$@"\n' \
        "$trace" "$real" >"$wrap"
    chmod +x "$wrap"
    A_ARGS=(--send "$file" --exit-when-done)
    B_ARGS=(--download-dir "$dl" --accept all)
    lt_cli_start Ag hostA 41008 --write-code "$LT_TMP/Ag.code" --peer "@$LT_TMP/Bg.code" \
        --timeout 60 "${A_ARGS[@]}"
    PUNCHLINE_CLI=$wrap
    lt_cli_start Bg hostB 42008 --write-code "$LT_TMP/Bg.code" --peer "@$LT_TMP/Ag.code" \
        --timeout 60 "${B_ARGS[@]}"
    PUNCHLINE_CLI=$real
    if ! timeout 120 tail -n +1 -F "$LT_TMP/Bg.out" 2>/dev/null |
        grep -q -m 1 -E '"state" *: *"done"'; then
        lt_fail "(g) B reported done within 120 s"
        lt_stop Bg
        lt_stop Ag
        dump_if_failed "$before" Ag Bg
        return
    fi
    # strace is timeout's child; punchline-cli is strace's.
    cli=$(pgrep -P "$(lt_cli_pid Bg)" | head -n 1)
    lt_check "(g) SIGKILL to B right after done" kill -KILL "${cli:-0}"
    lt_cli_wait Bg 10
    lt_stop Ag
    lt_eq "(g) B's done sha256" "$sha" "$(xf Bg in g.bin done .sha256)"
    lt_eq "(g) the file is complete under its final name" "$sha" \
        "$(sha256sum <"$dl/g.bin" 2>/dev/null | cut -d' ' -f1)"
    lt_eq "(g) only g.bin in the download dir (no partial)" "g.bin" "$(ls -A "$dl" | paste -sd '|')"
    # Line numbers (in the order the calls returned) of the first of each.
    stitched "$trace" >"$trace.st"
    l_sync=$(grep -n -E 'fdatasync\([0-9]+<[^>]*g\.bin\.[0-9a-f]+\.punchline-part>\) += 0' "$trace.st" | head -n 1 | cut -d: -f1)
    l_ren=$(grep -n -E 'renameat2\(.*g\.bin\.[0-9a-f]+\.punchline-part", [0-9]+<[^>]*>, "g\.bin", RENAME_NOREPLACE\) += 0' "$trace.st" | head -n 1 | cut -d: -f1)
    l_dir=$(grep -n -E "fsync\([0-9]+<$dl>\) += 0" "$trace.st" | awk -F: -v r="${l_ren:-0}" '$1 > r {print $1; exit}')
    l_done=$(grep -n -E 'write\(1<[^>]*>, ".*transfer.*done' "$trace.st" | head -n 1 | cut -d: -f1)
    lt_log "(g) trace lines: fdatasync ${l_sync:-none}, renameat2 ${l_ren:-none}, fsync(folder) ${l_dir:-none}, done written ${l_done:-none}"
    lt_check "(g) the partial file's data was synced before its rename" \
        test "${l_sync:-0}" -gt 0 -a "${l_ren:-0}" -gt "${l_sync:-0}"
    lt_check "(g) the folder was synced after the rename" test "${l_dir:-0}" -gt "${l_ren:-0}"
    lt_check "(g) done was written after the folder sync" \
        test "${l_dir:-0}" -gt 0 -a "${l_done:-0}" -gt "${l_dir:-0}"
    ((LT_FAIL > before)) && lt_log "(g) trace: $(grep -E 'fdatasync|fsync|rename|write\(1' "$trace.st" | tail -n 20)"
    dump_if_failed "$before" Ag Bg
}

for c in $CASES; do "case_$c"; done
lt_finish
