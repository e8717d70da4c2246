#!/usr/bin/env bash
# IPv6-only homes behind stateful firewalls that answer unsolicited inbound SYNs with a TCP
# reset (ip6tables REJECT --reject-with tcp-reset), at DELAY_MS 20: both connect directly over
# IPv6 anyway (the reset closes only the firewall state our own SYN made; redialing reopens it).
set -u
source "$(dirname "$0")/lab_test.sh"
lt_require_cli
lt_init
lt_log "== IPv6 only, firewalls rst/rst, DELAY_MS=20"
lt_v6_lab_up off off rst rst 20
lt_v6_pair_start 60
lt_v6_pair_check "[$LAB_IP6_HOSTB]:42000" "[$LAB_IP6_HOSTA]:41000" 90
lt_finish
