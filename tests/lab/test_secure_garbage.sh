#!/usr/bin/env bash
# Something that is not Punchline answers at the friend's address (issue 3). On 127.0.0.1 inside
# a loopback-only namespace, socat servers answer on fixed ports:
#   http          "HTTP/1.1 200 OK" and a small page
#   random        512 random bytes
#   silent        accepts and says nothing
#   drip-http     an HTTP status line, one byte per second
#   drip-magic    a Punchline preamble, one byte per second (slower than any preamble timeout)
#   tls-garbage   a well-formed preamble, then garbage where the TLS handshake belongs
# For each, A runs with --peer 127.0.0.1:PORT --timeout T (all at once) and must: report an
# `error` event with a code and a sentence within 15 s of starting, never `connected`, still be
# running after 15 s (no crash, it keeps trying), and exit 3 at its timeout.
# Env: LAB_GARBAGE_TIMEOUT (A's --timeout, default 20).
set -u
source "$(dirname "$0")/lab_test.sh"
lt_require_cli
command -v socat >/dev/null || { echo "socat is needed"; exit 77; }
lt_init
lt_lo_up

T=${LAB_GARBAGE_TIMEOUT:-20}
((T >= 17)) || T=17
KINDS="http random silent drip-http drip-magic tls-garbage"
declare -A PORT=([http]=45001 [random]=45002 [silent]=45003 [drip-http]=45004 [drip-magic]=45005
    [tls-garbage]=45006)
declare -A EXPECT=([http]='^not-punchline$' [random]='^not-punchline$' [silent]='^not-punchline$'
    [drip-http]='^not-punchline$' [drip-magic]='^not-punchline$'
    [tls-garbage]='^(tls-error|protocol-error|not-punchline)$')

# The servers' scripts (each connection gets its own process; all end by themselves).
mkdir -p "$LT_TMP/srv"
cat >"$LT_TMP/srv/http.sh" <<'EOF'
printf 'HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 13\r\nConnection: close\r\n\r\n<p>hello</p>\n'
sleep 3
EOF
cat >"$LT_TMP/srv/random.sh" <<'EOF'
head -c 512 /dev/urandom
sleep 3
EOF
cat >"$LT_TMP/srv/silent.sh" <<'EOF'
sleep 25
EOF
cat >"$LT_TMP/srv/drip-http.sh" <<'EOF'
s='HTTP/1.1 200 OK'
for ((i = 0; i < ${#s}; i++)); do printf '%s' "${s:i:1}"; sleep 1; done
EOF
cat >"$LT_TMP/srv/drip-magic.sh" <<'EOF'
s='PUNCHLN1AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA'
for ((i = 0; i < ${#s}; i++)); do printf '%s' "${s:i:1}"; sleep 1; done
EOF
# Fingerprint of 32 zero bytes: smaller than any real one, so A is the controller: it sends 'N'
# and its TLS ClientHello, and gets an HTTP answer instead of a ServerHello.
cat >"$LT_TMP/srv/tls-garbage.sh" <<'EOF'
printf 'PUNCHLN1'
head -c 32 /dev/zero
sleep 0.3
printf 'HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n'
head -c 300 /dev/urandom
sleep 3
EOF

for k in $KINDS; do
    ip netns exec "$(lab_ns lo)" timeout -k 2 $((T + 30)) socat "TCP-LISTEN:${PORT[$k]},bind=127.0.0.1,reuseaddr,fork" \
        "EXEC:bash $LT_TMP/srv/$k.sh" </dev/null >"$LT_TMP/srv/$k.log" 2>&1 &
    LT_BG+=($!)
done
# Wait until every server accepts.
for k in $KINDS; do
    for ((i = 0; i < 50; i++)); do
        lab_exec lo bash -c "exec 3<>/dev/tcp/127.0.0.1/${PORT[$k]}" 2>/dev/null && break
        sleep 0.1
    done
done

for k in $KINDS; do
    lt_cli_start "$k" lo 0 "${LT_LO_ARGS[@]}" --peer "127.0.0.1:${PORT[$k]}" --timeout "$T" \
        --say "this must not reach $k"
done

# Watch for each one's first error event (bounded: 15 s).
declare -A FIRST_ERR=()
for ((i = 0; i < 150; i++)); do
    now=$(date +%s.%N)
    pending=0
    for k in $KINDS; do
        [[ -n "${FIRST_ERR[$k]:-}" ]] && continue
        if [[ -n "$(lt_event "$k" error)" ]]; then
            FIRST_ERR[$k]=$(awk -v a="$now" -v b="${LT_T0[$k]}" 'BEGIN{printf "%.1f", a-b}')
        else
            pending=1
        fi
    done
    ((pending)) || break
    sleep 0.1
done
# Past 15 s since the last start, before the timeout: all must still be running.
while (($(awk -v a="$(date +%s.%N)" -v b="${LT_T0[tls-garbage]}" 'BEGIN{print (a-b < 15.5)}'))); do
    sleep 0.2
done
declare -A ALIVE=()
for k in $KINDS; do
    if lt_alive "$k"; then ALIVE[$k]=yes; else ALIVE[$k]=no; fi
done
for k in $KINDS; do lt_cli_wait "$k" $((T + 15)); done

for k in $KINDS; do
    before=$LT_FAIL
    lt_log "-- $k (127.0.0.1:${PORT[$k]})"
    ev=$(lt_event "$k" error)
    if [[ -n "${FIRST_ERR[$k]:-}" ]]; then
        lt_ok "$k: error event after ${FIRST_ERR[$k]} s (< 15 s)"
    else
        lt_fail "$k: no error event within 15 s"
    fi
    lt_match "$k: error code" "${EXPECT[$k]}" "$(jq -r '.code // empty' <<<"$ev" 2>/dev/null)"
    lt_match "$k: error message is a sentence" '[A-Za-z]+ [A-Za-z]+ [A-Za-z]+' \
        "$(jq -r '.message // empty' <<<"$ev" 2>/dev/null)"
    lt_eq "$k: still running 15 s after start" yes "${ALIVE[$k]}"
    lt_eq "$k: exit code at --timeout" 3 "${LT_RC[$k]}"
    lt_check "$k: ran until its timeout (${LT_ELAPSED[$k]} s >= $((T - 1)) s)" \
        awk -v e="${LT_ELAPSED[$k]}" -v t="$T" 'BEGIN{exit !(e >= t - 1)}'
    lt_eq "$k: no connected event" 0 "$(lt_count "$k" '.event == "connected"')"
    lt_eq "$k: no message event" 0 "$(lt_count "$k" '.event == "message"')"
    lt_eq "$k: no crash report on stderr" 0 \
        "$(grep -c -i -E 'sanitizer|segmentation|abort|assert|terminate called' "$LT_TMP/$k.err")"
    lt_log "$k: $(lt_count "$k" '.event == "error"') error events; codes: $(lt_events "$k" \
        'select(.event == "error") | .code' | sort | uniq -c | tr -s ' \n' ' ')"
    lt_log "$k: first error: $(jq -r '.message' <<<"$ev" 2>/dev/null)"
    [[ $LT_FAIL -gt $before ]] && lt_dump "$k"
done
lt_finish
