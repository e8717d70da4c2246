#!/usr/bin/env bash
# Router port mapping end to end, with the real punchline-cli. Both homes behind symmetric NATs
# (no punching possible: see test_symmetric.sh); natA runs miniupnpd. A asks its router
# (--port-mapping on), its code carries the mapped endpoint, B dials it: both connect, B
# reports path "mapped" with A's mapped endpoint as the remote, messages cross both ways, and
# the mapping is gone from the router once A has exited. Cases (PORTMAP_CASES):
#   both    miniupnpd with UPnP IGD and NAT-PMP (NAT-PMP is asked first and wins)
#   natpmp  miniupnpd with NAT-PMP only
#   upnp    miniupnpd with UPnP IGD only
#   absent  no miniupnpd, drop/drop NATs: punching connects directly as without port mapping,
#           and A's mapping event says the router does not offer it
set -u
source "$(dirname "$0")/lab_test.sh"
lt_require_cli
lt_init
command -v miniupnpd >/dev/null || { echo "miniupnpd is needed (apt-get install miniupnpd-nftables)"; exit 77; }

# last_status NAME: what NAME last said of its router (a first "asking your router…" may precede it).
last_status() { lt_events "$1" 'select(.event == "mapping")' | tail -n 1 | jq -r '.status // empty'; }

# pair [stay]: A and B with port mapping on (B's router has none: it says so). Behind an
# endpoint-independent NAT the first code does not wait for the router (start-up, issue 15), so a
# pair that would be done before the router's answer (stay) keeps running until both sides have
# reported what their router said, then is stopped with TERM.
pair() {
    local done=(--exit-when-done)
    [[ ${1:-} == stay ]] && done=()
    lt_cli_start A hostA 41000 --port-mapping on --write-code "$LT_TMP/A.code" \
        --peer "@$LT_TMP/B.code" --say "hello from A" --timeout 60 "${done[@]}"
    lt_cli_start B hostB 42000 --port-mapping on --write-code "$LT_TMP/B.code" \
        --peer "@$LT_TMP/A.code" --say "hello from B" --timeout 60 "${done[@]}"
    if [[ ${1:-} == stay ]]; then
        local answered='.event == "mapping" and (.status | startswith("asking") | not)'
        for side in A B; do
            lt_wait_event "$side" '.event == "delivered"' 90 >/dev/null
            lt_wait_event "$side" "$answered" 15 >/dev/null
        done
        lt_stop A
        lt_stop B
    else
        lt_cli_wait A 90
        lt_cli_wait B 15
    fi
    lt_eq "A exit code" 0 "${LT_RC[A]}"
    lt_eq "B exit code" 0 "${LT_RC[B]}"
    lt_check_message A B "hello from A"
    lt_check_message B A "hello from B"
    lt_eq "B: mapping status" "your router does not offer port mapping" "$(last_status B)"
}

for case in ${PORTMAP_CASES:-both natpmp upnp absent}; do
    case "$case" in
    both) mode=1 protocol=NAT-PMP ;;
    natpmp) mode=natpmp protocol=NAT-PMP ;;
    upnp) mode=upnp protocol=UPnP ;;
    absent) mode=0 protocol="" ;;
    esac
    before=$LT_FAIL
    if [[ $case == absent ]]; then
        lt_log "== no port mapping on either router, drop/drop"
        lt_lab_up drop drop 0
        pair stay
        lt_eq "A: mapping status" "your router does not offer port mapping" "$(last_status A)"
        lt_eq "A: no mapped endpoint" "" "$(lt_field A mapping .endpoint)"
        lt_check_connected A direct "$LAB_IP_NATB_WAN"
        lt_check_connected B direct "$LAB_IP_NATA_WAN"
    else
        lt_log "== symmetric/symmetric, miniupnpd on natA ($case)"
        UPNP_A=$mode lt_lab_up symmetric symmetric 0
        pair
        mapped="$LAB_IP_NATA_WAN:41000"
        lt_eq "A: mapping status" "your router opened port 41000 ($protocol)" "$(lt_field A mapping .status)"
        lt_eq "A: mapping protocol" "$protocol" "$(lt_field A mapping .protocol)"
        lt_eq "A: mapped endpoint" "$mapped" "$(lt_field A mapping .endpoint)"
        lt_eq "A: nat" endpoint-dependent "$(lt_field A addresses .nat)"
        lt_eq "B: nat" endpoint-dependent "$(lt_field B addresses .nat)"
        # The first code already carries the mapping (the engine waits for the router).
        lt_eq "A: one code only" 1 "$(lt_count A '.event == "addresses"')"
        lt_eq "B: path" mapped "$(lt_field B connected .path)"
        lt_eq "B: remote is A's mapped endpoint" "$mapped" "$(lt_field B connected .remote)"
        lt_match "A: connected" '^(direct|mapped)$' "$(lt_field A connected .path)"
        lt_eq "natA: the mapping is gone after A exited" "" "$(lab_upnp_list A)"
    fi
    lt_log "$case: connect time A $(lt_field A connected .elapsed_ms) ms, B $(lt_field B connected .elapsed_ms) ms; run time A ${LT_ELAPSED[A]:-(stopped)} s, B ${LT_ELAPSED[B]:-(stopped)} s"
    lt_log "$case: A's mapping event: $(lt_event A mapping)"
    if ((LT_FAIL > before)); then
        lt_dump A
        lt_dump B
        [[ -f "$(lab_rundir)/miniupnpd-A.log" ]] &&
            tail -n 25 "$(lab_rundir)/miniupnpd-A.log" | sed 's/^/#   miniupnpd: /'
    fi
    lt_reset_clis
done
lt_finish
