#!/usr/bin/env bash
# A hostile DHT node (tools/dht_hostile.py, python3-opendht, in the dht3 namespace) attacks the
# keys friends really use. What it covers: A and B become friends by one-way paste (their
# presence, invitation request and reply records are then in the DHT); both stop. The hostile
# node learns every key in use from its own storage (with a handful of nodes every node stores
# every key, as the nodes near a key do on the public DHT) and captures every value there: the
# friends' last presence and "going offline" records, B's request at A's invitation key, A's
# reply. Then, for the whole time A and B start again (no --peer), it replays every captured
# value at its key (fresh id: a second copy every listener receives again; original id: it may
# replace the current copy), and floods every key with junk (random record-sized and oversized
# values, captured values with a flipped bit). The friends must still reconnect by themselves
# (via dht), A must not be asked again (no `request` from the replayed request), and nobody may
# go "offline" from a replayed "going offline" record while connected.
# What it does not cover: a forger with the keys (it cannot have them: they come from secrets).
set -u
source "$(dirname "$0")/lab_test.sh"
lt_require_cli
lt_init
if ! /usr/bin/python3 -c 'import opendht' 2>/dev/null; then
    echo "python3-opendht is needed (apt-get install python3-opendht)"
    exit 77
fi
LAB_DHT=3 lt_lab_up drop drop 0
lt_dht_args
lt_log "== hostile node joins the DHT (captures everything it stores)"
lab_exec dht3 /usr/bin/python3 "$LT_DIR/tools/dht_hostile.py" \
    --bootstrap "$LAB_IP_DHT1:$LAB_DHT_PORT" --port 4333 --seconds 200 --period 3 \
    --attack-file "$LT_TMP/attack" --expect-nodes 2 >"$LT_TMP/hostile.out" 2>"$LT_TMP/hostile.err" &
hostile=$!
LT_BG+=("$hostile")
# It captures only what is put after the lab's nodes know it: wait until it has joined (a fixed
# sleep lost that race once on a loaded machine: it stored nothing and learned no key). The
# checks at the end (keys found, values replayed) tell whether it joined in time.
for ((i = 0; i < 400; i++)); do
    grep -q '"event": "joined"' "$LT_TMP/hostile.out" 2>/dev/null && break
    sleep 0.1
done
lt_log "hostile node: $(grep '"event": "joined"' "$LT_TMP/hostile.out")"
sleep 1
lt_log "== first contact: one-way paste, A accepts everyone"
lt_dht_oneway all
lt_wait_event A '.event == "connected"' 60 >/dev/null
lt_wait_event B '.event == "connected"' 30 >/dev/null
lt_eq "A: first connection via" dht "$(lt_field A connected .via)"
sleep 2
lt_stop A
lt_stop B
for side in A B; do mv "$LT_TMP/$side.out" "$LT_TMP/$side.first.out"; rm -f "$LT_TMP/$side.in"; done
sleep 4 # the "going offline" records are captured too
lt_log "== attack: replays and junk at every key in use, while A and B start again"
touch "$LT_TMP/attack"

# The attack starts once the first contact is over; until then it only listens and captures.
for ((i = 0; i < 300; i++)); do
    grep -q '"event": "round"' "$LT_TMP/hostile.out" 2>/dev/null && break
    sleep 0.1
done
t0=$(lt_now)
lt_cli_start A hostA 41000 "${LT_DHT_ARGS[@]}" --accept-friends ask
lt_cli_start B hostB 42000 "${LT_DHT_ARGS[@]}" --accept-friends ask
lt_wait_event A '.event == "connected"' 90 >/dev/null
lt_wait_event B '.event == "connected"' 10 >/dev/null
lt_log "both started to both connected under attack: $(lt_since "$t0") s"
lt_eq "A: reconnected via" dht "$(lt_field A connected .via)"
lt_eq "B: reconnected via" dht "$(lt_field B connected .via)"
lt_cli_say A "hello from A under attack"
lt_wait_event B '.event == "message" and .text == "hello from A under attack"' 20 >/dev/null
lt_check_message A B "hello from A under attack"
# Keep both up while the attack goes on: replayed "going offline" records must not count.
sleep 30
lt_eq "A: not asked again (no request from replays)" 0 "$(lt_count A '.event == "request"')"
# Counted from the connection on: at start each side rightly says the other is offline since it
# was last seen (from its profile, before the DHT answered).
offline_since_connected() {
    sed -n '/"event":"connected"/,$p' "$LT_TMP/$1.out" |
        jq -c -R 'fromjson? | select(.event == "presence" and .online == false)' | wc -l
}
lt_eq "A: B never offline once connected" 0 "$(offline_since_connected A)"
lt_eq "B: A never offline once connected" 0 "$(offline_since_connected B)"
lt_eq "A: still one connection" 1 "$(lt_count A '.event == "connected"')"
lt_check "A still running" lt_alive A
lt_check "B still running" lt_alive B
summary=$(grep '"event": "round"' "$LT_TMP/hostile.out" | tail -n 1)
lt_log "hostile node: $summary"
lt_check "hostile node found the keys in use (>= 3)" test "$(jq -r '.keys // 0' <<<"$summary")" -ge 3
lt_check "hostile node replayed captured values" test "$(jq -r '.replayed // 0' <<<"$summary")" -gt 0
lt_check "hostile node wrote junk" test "$(jq -r '.junk // 0' <<<"$summary")" -gt 0
lt_stop A
lt_stop B
lt_eq "A: exit code after TERM" 0 "${LT_RC[A]}"
lt_eq "B: exit code after TERM" 0 "${LT_RC[B]}"
if ((LT_FAIL)); then
    lt_dump A
    lt_dump B
    sed 's/^/#   hostile: /' "$LT_TMP/hostile.out" | tail -n 20
    sed 's/^/#   hostile err: /' "$LT_TMP/hostile.err" | tail -n 20
fi
lt_finish
