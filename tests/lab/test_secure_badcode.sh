#!/usr/bin/env bash
# Damaged Punchline codes (issue 3), on 127.0.0.1 inside a loopback-only namespace:
# - a real code with one character changed, one removed, two swapped, cut in half or to its
#   prefix, and plain garbage, each given with --peer CODE: exit 2 at once (< 5 s), an `error`
#   event whose code is code-checksum or bad-code with a sentence, never a `connected`; without
#   --json the sentence goes to stderr. The same through --peer @FILE (read after discovery).
# - the same code re-typed loosely (lowercase, spaces, line breaks, tabs, CRLF, quotes around
#   it) still works: A connects to the real peer, pinned to it, and messages cross both ways.
set -u
source "$(dirname "$0")/lab_test.sh"
lt_require_cli
lt_init
lt_lo_up

# A real peer B; its code is the material the damaged codes are made from.
lt_cli_start B lo 0 "${LT_LO_ARGS[@]}" --write-code "$LT_TMP/B.code" --peer "@$LT_TMP/A.code" \
    --say "hello from B" --timeout 60 --exit-when-done
if ! lt_wait_file "$LT_TMP/B.code" 15; then
    lt_fail "B wrote its code"
    lt_dump B
    lt_finish
fi
code=$(tr -d '\r\n' <"$LT_TMP/B.code")
lt_match "B's code looks like a code" '^PL1-[0-9A-Z]{60,}$' "$code"
b_fp=$(lt_field B addresses .fingerprint)

# other_symbol C: an alphabet symbol that decodes differently from C (no 0/O, 1/I/L twins).
other_symbol() { if [[ "$1" == X ]]; then echo Y; else echo X; fi; }
mid=$((${#code} / 2))
changed=${code:0:mid}$(other_symbol "${code:mid:1}")${code:mid+1}
changed_last=${code:0:${#code}-1}$(other_symbol "${code: -1}")
removed=${code:0:mid}${code:mid+1}
swapped=$code
while [[ "$swapped" == "$code" && $mid -lt ${#code}-2 ]]; do
    swapped=${code:0:mid}${code:mid+1:1}${code:mid:1}${code:mid+2}
    mid=$((mid + 1))
done
half=${code:0:${#code}/2}
declare -A BAD=(
    [one-changed]=$changed
    [last-changed]=$changed_last
    [one-removed]=$removed
    [two-swapped]=$swapped
    [half]=$half
    [prefix-only]=PL1-
    [one-added]=${code:0:10}Z${code:10}
    [garbage-text]="hello, this is not a code"
    [garbage-symbols]="PL1-QQQQ!!!!????"
    [garbage-alphabet]="PL1-0123456789ABCDEFGHJKMNPQRSTVWXYZ0123456789ABCDEFGHJKMNPQRSTVWXYZ"
)

# run_bad NAME PEER_ARG [--json]: one short run in the namespace; output in $LT_TMP/NAME.*
run_bad() {
    local name=$1 peer=$2 json=${3:-}
    local t0 rc
    t0=$(date +%s%N)
    ip netns exec "$(lab_ns lo)" timeout -k 2 20 "$PUNCHLINE_CLI" --profile "$LT_TMP/bad/profile" \
        --port 0 "${LT_LO_ARGS[@]}" ${json:+--json} --peer "$peer" --timeout 15 \
        </dev/null >"$LT_TMP/$name.out" 2>"$LT_TMP/$name.err"
    rc=$?
    RUN_MS=$((($(date +%s%N) - t0) / 1000000))
    RUN_RC=$rc
}

for kind in one-changed last-changed one-removed two-swapped half prefix-only one-added \
    garbage-text garbage-symbols garbage-alphabet; do
    value=${BAD[$kind]}
    lt_log "-- $kind: $value"
    before=$LT_FAIL
    for via in arg file; do
        peer=$value
        if [[ $via == file ]]; then
            printf '%s\n' "$value" >"$LT_TMP/$kind.code"
            peer="@$LT_TMP/$kind.code"
        fi
        name="$kind-$via"
        run_bad "$name" "$peer" json
        lt_eq "$kind (--peer $via): exit code" 2 "$RUN_RC"
        lt_check "$kind (--peer $via): exits within 5 s (${RUN_MS} ms)" test "$RUN_MS" -lt 5000
        ev=$(lt_event "$name" error)
        lt_match "$kind (--peer $via): error code" '^(code-checksum|bad-code)$' \
            "$(jq -r '.code // empty' <<<"$ev" 2>/dev/null)"
        lt_match "$kind (--peer $via): error message is a sentence" '[A-Za-z]+ [A-Za-z]+ [A-Za-z]+' \
            "$(jq -r '.message // empty' <<<"$ev" 2>/dev/null)"
        lt_eq "$kind (--peer $via): no connected event" 0 "$(lt_count "$name" '.event == "connected"')"
        lt_eq "$kind (--peer $via): never started connecting" 0 \
            "$(lt_count "$name" '.event == "state" and .state == "connecting"')"
        if [[ $LT_FAIL -gt $before ]]; then
            sed 's/^/#   out: /' "$LT_TMP/$name.out" | tail -n 10
            sed 's/^/#   err: /' "$LT_TMP/$name.err" | tail -n 5
            before=$LT_FAIL
        fi
    done
    # Without --json a person reads the sentence on stderr.
    run_bad "$kind-human" "$value"
    lt_eq "$kind (human): exit code" 2 "$RUN_RC"
    lt_match "$kind (human): a sentence on stderr" '[A-Za-z]+ [A-Za-z]+ [A-Za-z]+' \
        "$(head -c 400 "$LT_TMP/$kind-human.err")"
done

# The real code typed loosely still connects to the real B.
loose=$(printf '%s' "$code" | tr 'A-Z' 'a-z' | sed -E 's/(.{5})/\1 /g; s/(([^ ]+ ){4})/\1\n/g')
loose=$'  \n'"$loose"$'\n\n  '
lt_log "loosely typed code: $(printf '%q' "$loose")"
lt_cli_start A lo 0 "${LT_LO_ARGS[@]}" --write-code "$LT_TMP/A.code" --peer "$loose" \
    --say "hello from A" --timeout 30 --exit-when-done
lt_cli_wait A 45
lt_cli_wait B 15
lt_eq "loose code (lowercase, spaces, line breaks): A exit code" 0 "${LT_RC[A]}"
lt_eq "loose code: B exit code" 0 "${LT_RC[B]}"
lt_eq "loose code: A pinned to the code's identity" true "$(lt_field A connected .pinned)"
lt_eq "loose code: A's peer is B" "$b_fp" "$(lt_field A connected .peer_fingerprint)"
lt_check_message A B "hello from A"
lt_check_message B A "hello from B"
[[ $LT_FAIL -gt 0 ]] && { lt_dump A; lt_dump B; }

# Second spelling: tabs, CRLF line ends, the code quoted in a sentence-like wrapping.
lt_reset_clis
lt_cli_start B lo 0 "${LT_LO_ARGS[@]}" --write-code "$LT_TMP/B.code" --peer "@$LT_TMP/A.code" \
    --say "hello again from B" --timeout 60 --exit-when-done
if lt_wait_file "$LT_TMP/B.code" 15; then
    code=$(tr -d '\r\n' <"$LT_TMP/B.code")
    loose2=$(printf '%s' "$code" | sed -E 's/(.{8})/\1\t/g; s/(.{30})/\1\r\n/g')
    loose2="\"${loose2,,}\""
    lt_log "second loose spelling: $(printf '%q' "$loose2")"
    lt_cli_start A lo 0 "${LT_LO_ARGS[@]}" --write-code "$LT_TMP/A.code" --peer "$loose2" \
        --say "hello again from A" --timeout 30 --exit-when-done
    lt_cli_wait A 45
    lt_cli_wait B 15
    lt_eq "loose code (tabs, CRLF, quotes): A exit code" 0 "${LT_RC[A]}"
    lt_eq "loose code (tabs, CRLF, quotes): B exit code" 0 "${LT_RC[B]}"
    lt_eq "loose code (tabs, CRLF, quotes): A pinned" true "$(lt_field A connected .pinned)"
    lt_check_message A B "hello again from A"
    lt_check_message B A "hello again from B"
else
    lt_fail "second B wrote its code"
fi
[[ $LT_FAIL -gt 0 ]] && { lt_dump A; lt_dump B; }
lt_finish
