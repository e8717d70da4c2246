#!/usr/bin/env bash
# A behind a symmetric NAT (MASQUERADE --random-fully: a new port per destination), B behind a
# dropping NAT. A must report nat "endpoint-dependent" (B "endpoint-independent"); neither can
# connect directly, so both give up cleanly within --timeout: exit 3 and an error event with a
# code and a message, and no connected event.
set -u
source "$(dirname "$0")/lab_test.sh"
lt_require_cli
lt_init
TIMEOUT=${LAB_SYM_TIMEOUT:-15}
SLACK=15 # discovery before connecting, and exit
lt_log "== symmetric/drop, DELAY_MS=0, codes swapped together, --timeout $TIMEOUT"
lt_lab_up symmetric drop 0
lt_cli_start A hostA 41000 --write-code "$LT_TMP/A.code" --peer "@$LT_TMP/B.code" \
    --say "hello from A" --timeout "$TIMEOUT" --exit-when-done
lt_cli_start B hostB 42000 --write-code "$LT_TMP/B.code" --peer "@$LT_TMP/A.code" \
    --say "hello from B" --timeout "$TIMEOUT" --exit-when-done
lt_cli_wait A $((TIMEOUT + SLACK + 30))
lt_cli_wait B 15
lt_eq "A: nat" endpoint-dependent "$(lt_field A addresses .nat)"
lt_eq "B: nat" endpoint-independent "$(lt_field B addresses .nat)"
for p in A B; do
    lt_eq "$p exit code" 3 "${LT_RC[$p]}"
    lt_check "$p gave up within --timeout + ${SLACK} s (took ${LT_ELAPSED[$p]} s)" \
        awk -v e="${LT_ELAPSED[$p]}" -v m=$((TIMEOUT + SLACK)) 'BEGIN{exit !(e <= m)}'
    lt_check "$p: no connected event" test -z "$(lt_event "$p" connected)"
    lt_check "$p: error event has a code" test -n "$(lt_field "$p" error .code)"
    lt_check "$p: error event has a message" test -n "$(lt_field "$p" error .message)"
done
[[ $LT_FAIL -gt 0 ]] && { lt_dump A; lt_dump B; }
lt_finish
