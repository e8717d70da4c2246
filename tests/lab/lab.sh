#!/usr/bin/env bash
# Punchline network lab: two homes behind NATs, an Internet router and a STUN server, each in
# its own network namespace. Usable as a CLI and as a bash library (source it).
#
#   lab.sh up [--nat-a drop|rst|symmetric] [--nat-b ...] [--delay MS] [--same-lan] [--no-stun]
#             [--ct-liberal] [--homes 2|3] [--nat-c ...] [--dht N] [--upnp-a] [--natpmp-a]
#             [--upnp-b] [--natpmp-b] [--v6 drop|rst] [--v6-a drop|rst|off] [--v6-b ...]
#             [--v6-c ...] [--id LAB_ID]
#   lab.sh down [--id ID]       remove everything this LAB_ID created (idempotent)
#   lab.sh exec HOST cmd...     run cmd in HOST's namespace (hostA hostA2 natA inet natB hostB stun;
#                               natC hostC with --homes 3)
#   lab.sh ns HOST              print the namespace name of HOST
#   lab.sh status | list
#   lab.sh stun HOST [SERVER_IP [LOCAL_PORT]]   print the XOR-MAPPED-ADDRESS seen from HOST
#   lab.sh upnp-list A|B        the TCP port mappings miniupnpd holds on that home's router
#   lab.sh dht-bootstrap        print the lab's DHT nodes, one ip:port a line (LAB_DHT > 0)
#
# Environment (flags win): LAB_ID (namespace prefix, default pl<pid>; needed again for down;
# exec/ns/stun/status pick the only lab present when unset),
# NAT_A, NAT_B (default drop), DELAY_MS (default 0: veth; N>0: taplink with N ms each way on
# each home's WAN link, so host-to-host RTT is about 4*N), SAME_LAN=1 (adds hostA2),
# LAB_STUN=0 (no coturn), CT_LIBERAL=1 (NATs skip TCP window checks), HOMES=3 (a third home:
# natC + hostC behind NAT kind NAT_C, default drop), LAB_DHT=N (0-5, default 0: N OpenDHT
# bootstrap nodes, dhtnode on UDP 4222, node 1 alone and the others bootstrapping from it, never
# from anything outside the lab), UPNP_A / UPNP_B = 1 (--upnp-a: miniupnpd on that home's
# router, UPnP IGD + NAT-PMP), natpmp (--natpmp-a: NAT-PMP only) or upnp (UPnP IGD only),
# default 0 (it needs the lab's STUN server), LAB_BUILD_DIR (where taplink is built,
# default /tmp), LAB_STATE_ROOT (where run dirs live, default /tmp), LAB_KEEP_RUNDIR=1 (keep
# logs after down),
# LAB_V6=drop|rst (IPv6 for every home: routed 2001:db8::/32 addresses, no NAT, a stateful
# ip6tables firewall on each home router that drops, or for rst rejects with a TCP reset,
# unsolicited inbound; the stun host becomes dual-stack), V6_A, V6_B, V6_C (per home, win over
# LAB_V6; off = no IPv6 in that home). Unset/off everywhere: IPv6 stays disabled in every
# namespace, as before. NAT kind off (NAT_A=off ...): the home router forwards no IPv4 at all
# (with V6_A=drop: an IPv6-only home).
#
# Topology (see README.md):
#   hostA 192.0.2.10, hostA2 .11 -- [lan 192.0.2.1/26] natA [wan 203.0.113.2/28]
#        -- 203.0.113.1 inet 203.0.113.17 -- [wan 203.0.113.18/28] natB [lan 192.0.2.65/26] -- hostB .74
#   inet 198.51.100.1/24 -- stun 198.51.100.10 + 198.51.100.11 (coturn, TCP 3478: STUN for all,
#                             TURN with TCP relaying for LAB_TURN_USER, relayed on .10)
#                            + 198.51.100.12 (a second coturn: TURN only, relayed on .12)
#   HOMES=3: hostC 192.0.2.138 -- [lan 192.0.2.129/26] natC [wan 203.0.113.34/28] -- 203.0.113.33 inet
#   IPv6 (V6_X != off): LAN X 2001:db8:X::/64 (router ::1, hostX ::10, hostA2 ::11), the link
#   natX -- inet 2001:db8:ffff:X::/64 (inet ::1, natX ::2), stun 2001:db8:ffff:5::10 and ::11
#   (inet ::1), for X in a b c.
#   LAB_DHT=N: inet -- dht1 198.51.100.20 ... dhtN 198.51.100.(19+N) (one namespace each, /32)

LAB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

# Addresses (documentation ranges only).
LAB_IP_HOSTA=192.0.2.10
LAB_IP_HOSTA2=192.0.2.11
LAB_IP_NATA_LAN=192.0.2.1
LAB_IP_NATA_WAN=203.0.113.2
LAB_IP_INET_A=203.0.113.1
LAB_IP_HOSTB=192.0.2.74
LAB_IP_NATB_LAN=192.0.2.65
LAB_IP_NATB_WAN=203.0.113.18
LAB_IP_INET_B=203.0.113.17
LAB_IP_HOSTC=192.0.2.138 # third home (HOMES=3)
LAB_IP_NATC_LAN=192.0.2.129
LAB_IP_NATC_WAN=203.0.113.34
LAB_IP_INET_C=203.0.113.33
LAB_IP_INET_STUN=198.51.100.1
LAB_IP_STUN1=198.51.100.10
LAB_IP_STUN2=198.51.100.11
LAB_STUN_PORT=3478
LAB_IP_TURN2=198.51.100.12 # the second relay (its own coturn, so a test can kill one relay)
# The TURN account on the lab's coturns (long-term credentials, TCP relaying).
LAB_TURN_USER=friend
LAB_TURN_PASS=lab-relay-pw
LAB_TURN_REALM=lab.punchline.test
# IPv6 (only when a home has V6_X/LAB_V6 set): routed, no NAT.
# shellcheck disable=SC2034 # some are used by name (${!var})
{
    LAB_IP6_HOSTA=2001:db8:a::10
    LAB_IP6_HOSTA2=2001:db8:a::11
    LAB_IP6_NATA_LAN=2001:db8:a::1
    LAB_IP6_NATA_WAN=2001:db8:ffff:a::2
    LAB_IP6_INET_A=2001:db8:ffff:a::1
    LAB_IP6_HOSTB=2001:db8:b::10
    LAB_IP6_NATB_LAN=2001:db8:b::1
    LAB_IP6_NATB_WAN=2001:db8:ffff:b::2
    LAB_IP6_INET_B=2001:db8:ffff:b::1
    LAB_IP6_HOSTC=2001:db8:c::10
    LAB_IP6_NATC_LAN=2001:db8:c::1
    LAB_IP6_NATC_WAN=2001:db8:ffff:c::2
    LAB_IP6_INET_C=2001:db8:ffff:c::1
    LAB_IP6_INET_STUN=2001:db8:ffff:5::1
    LAB_IP6_STUN1=2001:db8:ffff:5::10
    LAB_IP6_STUN2=2001:db8:ffff:5::11
}
# OpenDHT bootstrap nodes (LAB_DHT=N uses the first N). dhtnode cannot bind one address, so
# each node has a namespace of its own.
LAB_IP_DHT1=198.51.100.20
# shellcheck disable=SC2034 # read through _lab_dht_ip, and by tests
LAB_IP_DHT2=198.51.100.21 LAB_IP_DHT3=198.51.100.22 LAB_IP_DHT4=198.51.100.23 \
    LAB_IP_DHT5=198.51.100.24
LAB_DHT_PORT=4222
LAB_DHT_MAX=5

lab_log() { printf 'lab: %s\n' "$*" >&2; }

_lab_id() {
    if [[ -z "${LAB_ID:-}" ]]; then
        lab_log "LAB_ID is not set"
        return 1
    fi
    if [[ ! "$LAB_ID" =~ ^[A-Za-z0-9_]{1,24}$ ]]; then
        lab_log "LAB_ID must be 1-24 characters of [A-Za-z0-9_]: '$LAB_ID'"
        return 1
    fi
}

lab_rundir() { printf '%s/punchline-lab.%s\n' "${LAB_STATE_ROOT:-/tmp}" "$LAB_ID"; }

lab_ns() { printf '%s-%s\n' "$LAB_ID" "$1"; }

lab_exec() {
    local host=$1
    shift
    ip netns exec "$(lab_ns "$host")" "$@"
}

# Prints the path of a taplink binary, building it if missing or older than the source.
lab_taplink_bin() {
    local dir=${LAB_BUILD_DIR:-/tmp} src="$LAB_DIR/taplink.c"
    local bin="$dir/taplink"
    if [[ ! -x "$bin" || "$src" -nt "$bin" ]]; then
        mkdir -p "$dir" || return 1
        local tmp="$bin.tmp.$$"
        if ! cc -O2 -Wall -o "$tmp" "$src"; then
            rm -f "$tmp"
            lab_log "could not build taplink"
            return 1
        fi
        mv -f "$tmp" "$bin" # atomic, so concurrent runs never see half a binary
    fi
    printf '%s\n' "$bin"
}

# --- up -----------------------------------------------------------------------------------

# _lab_mkns HOST [v6]: a namespace; IPv6 stays disabled unless the second argument is v6 (then
# addresses are usable at once, no duplicate address detection, no router advertisements).
_lab_mkns() {
    local ns
    ns=$(lab_ns "$1")
    echo "$ns" >>"$RUN/namespaces" # recorded first, so a half-made lab is still torn down
    ip netns add "$ns"
    ip -n "$ns" link set lo up
    if [[ "${2:-}" == v6 ]]; then
        ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.accept_dad=0 \
            net.ipv6.conf.default.accept_dad=0 net.ipv6.conf.all.accept_ra=0 \
            net.ipv6.conf.default.accept_ra=0 net.ipv6.conf.all.disable_ipv6=0 \
            net.ipv6.conf.default.disable_ipv6=0
    else
        ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 \
            net.ipv6.conf.default.disable_ipv6=1
    fi
}

# A cable between two namespaces: veth, or a taplink with DELAY ms each way.
# _lab_link NS1 IF1 NS2 IF2 DELAY
_lab_link() {
    local h1=$1 if1=$2 h2=$3 if2=$4 delay=$5
    local ns1 ns2
    ns1=$(lab_ns "$h1")
    ns2=$(lab_ns "$h2")
    if [[ "$delay" == 0 ]]; then
        ip -n "$ns1" link add "$if1" type veth peer name "$if2" netns "$ns2"
    else
        # taplink runs inside ns2, so the TAPs never appear in the root namespace and names
        # cannot clash with another run; then the first TAP moves to ns1.
        local bin tag="taplink-$h1-$h2" tmpname="tl$RANDOM"
        bin=$(lab_taplink_bin)
        # a little priority: on a loaded machine its wake-ups are the link's jitter
        ip netns exec "$ns2" nice -n -5 "$bin" "$tmpname" "$if2" "$delay" \
            </dev/null >"$RUN/$tag.out" 2>"$RUN/$tag.log" &
        echo $! >"$RUN/$tag.pid"
        local i
        for ((i = 0; i < 50; i++)); do
            grep -q '^ready$' "$RUN/$tag.out" 2>/dev/null && break
            if ! _lab_alive "$(cat "$RUN/$tag.pid")"; then
                lab_log "taplink died: $(cat "$RUN/$tag.log")"
                return 1
            fi
            sleep 0.1
        done
        grep -q '^ready$' "$RUN/$tag.out" || { lab_log "taplink not ready after 5 s"; return 1; }
        ip -n "$ns2" link set "$tmpname" netns "$ns1"
        ip -n "$ns1" link set "$tmpname" name "$if1"
    fi
    ip -n "$ns1" link set "$if1" up
    ip -n "$ns2" link set "$if2" up
}

_lab_router() {
    ip netns exec "$(lab_ns "$1")" sysctl -qw net.ipv4.ip_forward=1
    if [[ "${2:-}" == v6 ]]; then
        ip netns exec "$(lab_ns "$1")" sysctl -qw net.ipv6.conf.all.forwarding=1
    fi
}

# _lab_fw6 HOST KIND: the IPv6 firewall of a home router (no NAT: addresses are routed). Like
# a home router's default (RFC 6092): everything out, only established/related in; unsolicited
# inbound is dropped (drop) or answered with a TCP reset (rst). The peer's SYN of a simultaneous
# open matches the conntrack entry our own SYN created, so it is let in.
_lab_fw6() {
    local host=$1 kind=$2
    local -a ipt=(ip netns exec "$(lab_ns "$host")" ip6tables -w 5)
    case "$kind" in drop | rst) ;; *)
        lab_log "unknown IPv6 firewall kind '$kind' (drop|rst|off)"
        return 1
        ;;
    esac
    "${ipt[@]}" -P FORWARD DROP
    "${ipt[@]}" -A FORWARD -m conntrack --ctstate INVALID -j DROP
    "${ipt[@]}" -A FORWARD -i lan -o wan -j ACCEPT
    "${ipt[@]}" -A FORWARD -i wan -o lan -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT
    if [[ "$kind" == rst ]]; then
        "${ipt[@]}" -A FORWARD -i wan -o lan -p tcp --syn -m conntrack --ctstate NEW \
            -j REJECT --reject-with tcp-reset
    fi
    "${ipt[@]}" -A INPUT -i lo -j ACCEPT
    "${ipt[@]}" -A INPUT -i lan -j ACCEPT
    "${ipt[@]}" -A INPUT -p ipv6-icmp -j ACCEPT # neighbour discovery, ping, errors
    "${ipt[@]}" -A INPUT -i wan -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT
    "${ipt[@]}" -A INPUT -i wan -j DROP
}

# _lab_nat HOST KIND: iptables rules of a home router (LAN 'lan', WAN 'wan').
_lab_nat() {
    local host=$1 kind=$2
    local -a ipt=(ip netns exec "$(lab_ns "$host")" iptables -w 5)
    case "$kind" in
    drop | rst) "${ipt[@]}" -t nat -A POSTROUTING -o wan -j MASQUERADE ;;
    symmetric) "${ipt[@]}" -t nat -A POSTROUTING -o wan -j MASQUERADE --random-fully ;;
    off)
        # No IPv4 service: nothing is forwarded either way (an IPv6-only home).
        "${ipt[@]}" -P FORWARD DROP
        return 0
        ;;
    *)
        lab_log "unknown NAT kind '$kind' (drop|rst|symmetric|off)"
        return 1
        ;;
    esac
    # Linux conntrack tracks TCP windows strictly by default, like most Linux-based routers;
    # CT_LIBERAL=1 models a lenient NAT that translates out-of-window packets too.
    ip netns exec "$(lab_ns "$host")" sysctl -qw \
        net.netfilter.nf_conntrack_tcp_be_liberal="${CT_LIBERAL:-0}"
    "${ipt[@]}" -P FORWARD DROP
    # Packets conntrack calls INVALID are not translated; without this they would leave the
    # WAN with their private source address.
    "${ipt[@]}" -A FORWARD -m conntrack --ctstate INVALID -j DROP
    "${ipt[@]}" -A FORWARD -i lan -o wan -j ACCEPT
    # Replies, ICMP errors for our flows, and the peer's SYN of a simultaneous open (it matches
    # the conntrack entry our own SYN created, so it is ESTABLISHED, not NEW).
    "${ipt[@]}" -A FORWARD -i wan -o lan -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT
    "${ipt[@]}" -A INPUT -i lo -j ACCEPT
    "${ipt[@]}" -A INPUT -i lan -j ACCEPT
    "${ipt[@]}" -A INPUT -i wan -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT
    "${ipt[@]}" -A INPUT -i wan -p icmp --icmp-type echo-request -j ACCEPT
    if [[ "$kind" == rst ]]; then
        "${ipt[@]}" -A INPUT -i wan -p tcp --syn -m conntrack --ctstate NEW \
            -j REJECT --reject-with tcp-reset
    fi
    "${ipt[@]}" -A INPUT -i wan -j DROP
}

# _lab_home SIDE(A|B|C) KIND NAT_LAN_IP NAT_WAN_IP INET_IP INET_IF HOST=IP...
# The home's IPv6 firewall kind is V6_<SIDE> (drop|rst|off).
_lab_home() {
    local side=$1 kind=$2 natlan=$3 natwan=$4 inetip=$5 inetif=$6
    shift 6
    local nat="nat$side" ns v6kind v6="" vname="V6_$side"
    v6kind=${!vname:-off}
    [[ "$v6kind" != off ]] && v6=v6
    ns=$(lab_ns "$nat")
    _lab_mkns "$nat" $v6
    _lab_router "$nat" $v6
    # The LAN is a bridge so a second host can join it; bridged frames must not go through
    # iptables (br_netfilter is built into this kernel).
    if [[ -e /proc/sys/net/bridge/bridge-nf-call-iptables ]]; then
        ip netns exec "$ns" sysctl -qw net.bridge.bridge-nf-call-iptables=0 2>/dev/null || true
    fi
    if [[ -n "$v6" ]]; then
        # no multicast snooping: neighbour discovery is flooded like ARP
        ip -n "$ns" link add lan type bridge mcast_snooping 0
    else
        ip -n "$ns" link add lan type bridge
    fi
    ip -n "$ns" addr add "$natlan/26" dev lan
    ip -n "$ns" link set lan up
    local x=${side,,} var
    local natlan6 natwan6 inet6
    var="LAB_IP6_NAT${side}_LAN" && natlan6=${!var}
    var="LAB_IP6_NAT${side}_WAN" && natwan6=${!var}
    var="LAB_IP6_INET_${side}" && inet6=${!var}
    [[ -n "$v6" ]] && ip -n "$ns" addr add "$natlan6/64" dev lan nodad
    local spec host ip ip6
    for spec in "$@"; do
        host=${spec%%=*}
        ip=${spec#*=}
        _lab_mkns "$host" $v6
        ip -n "$ns" link add "p$host" type veth peer name eth0 netns "$(lab_ns "$host")"
        ip -n "$ns" link set "p$host" master lan up
        ip -n "$(lab_ns "$host")" addr add "$ip/26" dev eth0
        ip -n "$(lab_ns "$host")" link set eth0 up
        ip -n "$(lab_ns "$host")" route add default via "$natlan"
        if [[ -n "$v6" ]]; then
            var="LAB_IP6_${host^^}" && ip6=${!var}
            ip -n "$(lab_ns "$host")" addr add "$ip6/64" dev eth0 nodad
            ip -n "$(lab_ns "$host")" -6 route add default via "$natlan6"
        fi
    done
    _lab_link "$nat" wan inet "$inetif" "${DELAY_MS:-0}"
    ip -n "$ns" addr add "$natwan/28" dev wan
    ip -n "$(lab_ns inet)" addr add "$inetip/28" dev "$inetif"
    ip -n "$ns" route add default via "$inetip"
    _lab_nat "$nat" "$kind"
    if [[ -n "$v6" ]]; then
        ip -n "$ns" addr add "$natwan6/64" dev wan nodad
        ip -n "$(lab_ns inet)" addr add "$inet6/64" dev "$inetif" nodad
        ip -n "$ns" -6 route add default via "$inet6"
        ip -n "$(lab_ns inet)" -6 route add "2001:db8:$x::/64" via "$natwan6"
        _lab_fw6 "$nat" "$v6kind"
    fi
}

_lab_start_stun() {
    local ns
    ns=$(lab_ns stun)
    local -a v6ips=() addrs=("$LAB_IP_STUN1" "$LAB_IP_STUN2")
    if [[ "${1:-}" == v6 ]]; then
        v6ips=(--listening-ip "$LAB_IP6_STUN1" --listening-ip "$LAB_IP6_STUN2")
        addrs+=("$LAB_IP6_STUN1" "$LAB_IP6_STUN2")
    fi
    # -n: no config file from /etc. STUN (Binding, RFC 5780 with both addresses) for everyone,
    # TCP+UDP on both addresses (and on two IPv6 addresses when the lab has IPv6); TURN with
    # long-term credentials and TCP relaying (RFC 6062) for the lab user, relayed addresses on
    # the first address, peers in the lab's ranges.
    ip netns exec "$ns" turnserver -n --no-cli --no-tls --no-dtls \
        --listening-ip "$LAB_IP_STUN1" --listening-ip "$LAB_IP_STUN2" "${v6ips[@]}" \
        --listening-port "$LAB_STUN_PORT" "${_LAB_TURN_ARGS[@]}" --relay-ip "$LAB_IP_STUN1" \
        --log-file "$RUN/coturn.log" --simple-log \
        --no-stdout-log --pidfile "$RUN/coturn.selfpid" --no-software-attribute \
        --userdb "$RUN/turndb" \
        </dev/null >"$RUN/coturn.out" 2>&1 &
    echo $! >"$RUN/coturn.pid"
    local i ip ok
    for ((i = 0; i < 100; i++)); do
        ok=1
        for ip in "${addrs[@]}"; do
            ip netns exec "$(lab_ns inet)" timeout 1 bash -c \
                "exec 3<>/dev/tcp/$ip/$LAB_STUN_PORT" 2>/dev/null || ok=0
        done
        [[ $ok == 1 ]] && return 0
        _lab_alive "$(cat "$RUN/coturn.pid")" || break
        sleep 0.1
    done
    lab_log "coturn does not accept TCP on all its addresses; log: $RUN/coturn.log"
    return 1
}

_LAB_TURN_ARGS=(--lt-cred-mech --realm "$LAB_TURN_REALM" --user "$LAB_TURN_USER:$LAB_TURN_PASS"
    --allowed-peer-ip 192.0.2.0-192.0.2.255 --allowed-peer-ip 198.51.100.0-198.51.100.255
    --allowed-peer-ip 203.0.113.0-203.0.113.255)

# The second relay: TURN only, on 198.51.100.12 (added to the stun host), its own process.
_lab_start_turn2() {
    local ns i
    ns=$(lab_ns stun)
    ip -n "$ns" addr add "$LAB_IP_TURN2/24" dev eth0 2>/dev/null
    ip netns exec "$ns" turnserver -n --no-cli --no-tls --no-dtls --no-udp \
        --listening-ip "$LAB_IP_TURN2" --relay-ip "$LAB_IP_TURN2" \
        --listening-port "$LAB_STUN_PORT" "${_LAB_TURN_ARGS[@]}" \
        --log-file "$RUN/coturn2.log" --simple-log --no-stdout-log \
        --pidfile "$RUN/coturn2.selfpid" --no-software-attribute --userdb "$RUN/turndb2" \
        </dev/null >"$RUN/coturn2.out" 2>&1 &
    echo $! >"$RUN/coturn2.pid"
    for ((i = 0; i < 100; i++)); do
        ip netns exec "$(lab_ns inet)" timeout 1 bash -c \
            "exec 3<>/dev/tcp/$LAB_IP_TURN2/$LAB_STUN_PORT" 2>/dev/null && return 0
        _lab_alive "$(cat "$RUN/coturn2.pid")" || break
        sleep 0.1
    done
    lab_log "the second coturn does not accept TCP on $LAB_IP_TURN2; log: $RUN/coturn2.log"
    return 1
}

# lab_turn_kill N: kills relay N at once (SIGKILL: no goodbye to its clients, as a crashed or
# cut-off relay): 1 = the coturn on .10/.11 (STUN goes with it), 2 = the one on .12.
# lab_turn_start N starts it again.
lab_turn_kill() {
    _lab_id || return 1
    local RUN pidfile pid
    RUN=$(lab_rundir)
    pidfile=$RUN/coturn.pid
    [[ $1 == 2 ]] && pidfile=$RUN/coturn2.pid
    pid=$(cat "$pidfile" 2>/dev/null)
    [[ "$pid" =~ ^[0-9]+$ ]] || return 1
    grep -q turnserver "/proc/$pid/cmdline" 2>/dev/null || return 1
    kill -KILL "$pid"
}
lab_turn_start() {
    _lab_id || return 1
    local RUN
    RUN=$(lab_rundir)
    if [[ $1 == 2 ]]; then _lab_start_turn2; else _lab_start_stun; fi
}

# _lab_start_miniupnpd SIDE(A|B) MODE(1|natpmp|upnp): the home router's port mapping service.
# miniupnpd refuses to map when its WAN address is reserved (203.0.113.0/24 is, like every
# documentation range) unless STUN (ext_perform_stun) shows that nothing filters in front of it,
# so the router asks the lab's coturn: its own UDP must leave unmasqueraded (a symmetric NAT's
# --random-fully would change the port and read as 'restrictive NAT') and coturn's answers from
# the other address and port (RFC 5780 CHANGE-REQUEST) must get in. miniupnpd-nftables (2.3.1)
# adds rules to chains it does not create: they are made here, in a table of their own. The
# FORWARD chain of the lab's iptables (policy DROP) then accepts what miniupnpd's DNAT let in.
_lab_start_miniupnpd() {
    local side=$1 mode=$2 nat="nat$1" ns wan lan upnp=yes natpmp=yes
    ns=$(lab_ns "$nat")
    [[ "$mode" == natpmp ]] && upnp=no
    [[ "$mode" == upnp ]] && natpmp=no
    case "$side" in
    A) wan=$LAB_IP_NATA_WAN lan=$LAB_IP_NATA_LAN ;;
    B) wan=$LAB_IP_NATB_WAN lan=$LAB_IP_NATB_LAN ;;
    *) lab_log "miniupnpd: unknown home $side"; return 1 ;;
    esac
    if [[ "${LAB_STUN:-1}" == 0 ]]; then
        lab_log "miniupnpd needs the lab's STUN server (LAB_STUN=1)"
        return 1
    fi
    local -a ipt=(ip netns exec "$ns" iptables -w 5)
    local sports="$LAB_STUN_PORT:$((LAB_STUN_PORT + 1))"
    "${ipt[@]}" -t nat -I POSTROUTING -o wan -s "$wan" -j RETURN
    "${ipt[@]}" -I INPUT -i wan -p udp -s "$LAB_IP_STUN1" --sport "$sports" -j ACCEPT
    "${ipt[@]}" -I INPUT -i wan -p udp -s "$LAB_IP_STUN2" --sport "$sports" -j ACCEPT
    "${ipt[@]}" -A FORWARD -i wan -o lan -m conntrack --ctstate DNAT -j ACCEPT
    ip netns exec "$ns" nft -f - <<NFT
table inet miniupnpd {
    chain forward { type filter hook forward priority 0; policy accept; jump miniupnpd; }
    chain miniupnpd { }
    chain prerouting { type nat hook prerouting priority -100; policy accept; jump prerouting_miniupnpd; }
    chain postrouting { type nat hook postrouting priority 100; policy accept; jump postrouting_miniupnpd; }
    chain prerouting_miniupnpd { }
    chain postrouting_miniupnpd { }
}
NFT
    local conf="$RUN/miniupnpd-$side.conf"
    cat >"$conf" <<CONF
ext_ifname=wan
listening_ip=lan
http_port=0
enable_upnp=$upnp
enable_natpmp=$natpmp
secure_mode=yes
ext_perform_stun=yes
ext_stun_host=$LAB_IP_STUN1
ext_stun_port=$LAB_STUN_PORT
upnp_table_name=miniupnpd
upnp_nat_table_name=miniupnpd
upnp_forward_chain=miniupnpd
upnp_nat_chain=prerouting_miniupnpd
upnp_nat_postrouting_chain=postrouting_miniupnpd
lease_file=$RUN/miniupnpd-$side.leases
system_uptime=yes
notify_interval=60
clean_ruleset_interval=600
uuid=3d3cec3a-8cf0-11e0-98ee-00166c0f0a0$([[ $side == A ]] && echo 1 || echo 2)
allow 1024-65535 ${lan%.*}.$((${lan##*.} - 1))/26 1024-65535
deny 0-65535 0.0.0.0/0 0-65535
CONF
    # -d: foreground, log to stderr (debug level).
    ip netns exec "$ns" miniupnpd -d -f "$conf" -P "$RUN/miniupnpd-$side.selfpid" \
        </dev/null >"$RUN/miniupnpd-$side.log" 2>&1 &
    echo $! >"$RUN/miniupnpd-$side.pid"
    local i
    for ((i = 0; i < 100; i++)); do
        if grep -q 'Listening for NAT-PMP\|HTTP listening' "$RUN/miniupnpd-$side.log" 2>/dev/null &&
            grep -q 'Port forwarding is now enabled' "$RUN/miniupnpd-$side.log"; then
            return 0
        fi
        _lab_alive "$(cat "$RUN/miniupnpd-$side.pid")" || break
        sleep 0.1
    done
    lab_log "miniupnpd on $nat did not come up (or STUN saw a filtering NAT); log: $RUN/miniupnpd-$side.log"
    tail -n 20 "$RUN/miniupnpd-$side.log" >&2
    return 1
}

# lab_upnp_list SIDE: the TCP port mappings miniupnpd on that home's router holds, one per line
# as "TCP <external port> <internal ip> <internal port>" (read from the DNAT rules it made; nft
# prints the protocol match as '@nh,72,8 0x6', the IPv4 protocol byte = TCP).
lab_upnp_list() {
    ip netns exec "$(lab_ns "nat$1")" nft list chain inet miniupnpd prerouting_miniupnpd 2>/dev/null |
        sed -n 's/.*@nh,72,8 0x6 th dport \([0-9]*\) dnat ip to \([0-9.]*\):\([0-9]*\).*/TCP \1 \2 \3/p'
}

# _lab_dht_ip K: the address of DHT node K (1-based).
_lab_dht_ip() {
    local var="LAB_IP_DHT$1"
    printf '%s\n' "${!var}"
}

# N namespaces dht1..dhtN, each with one /32 address on a veth to inet (inet routes the /32 to
# it, so the stun /24 stays as it is), each running a dhtnode (lab_dht_start).
_lab_start_dht() {
    local n=$1 k ns ip inet
    inet=$(lab_ns inet)
    for ((k = 1; k <= n; k++)); do
        ip=$(_lab_dht_ip "$k")
        _lab_mkns "dht$k"
        ns=$(lab_ns "dht$k")
        _lab_link "dht$k" eth0 inet "todht$k" 0
        ip -n "$ns" addr add "$ip/32" dev eth0
        ip -n "$ns" route add "$LAB_IP_INET_STUN" dev eth0
        ip -n "$ns" route add default via "$LAB_IP_INET_STUN" dev eth0
        ip -n "$inet" route add "$ip/32" dev "todht$k"
        lab_dht_start "$k"
    done
}

# lab_dht_start K: starts DHT node K (again, e.g. after lab_dht_stop) in service mode on UDP
# 4222, waiting until it listens. Node 1 knows no one; the others bootstrap from node 1 only.
# Without -b dhtnode contacts no one: the package's /etc/default/dhtnode (bootstrap.ring.cx) is
# read only by its systemd unit. Log: <run dir>/dhtK.log.
lab_dht_start() {
    _lab_id || return 1
    local k=$1 run ns i
    run=$(lab_rundir)
    ns=$(lab_ns "dht$k")
    local -a bootstrap=()
    ((k > 1)) && bootstrap=(-b "$LAB_IP_DHT1:$LAB_DHT_PORT")
    # HOME in the run dir: nothing of the user's is read or written.
    ip netns exec "$ns" env HOME="$run" dhtnode -s -v -l "$run/dht$k.log" \
        -p "$LAB_DHT_PORT" "${bootstrap[@]}" </dev/null >"$run/dht$k.out" 2>&1 &
    echo $! >"$run/dht$k.pid"
    for ((i = 0; i < 50; i++)); do
        [[ -n "$(ip netns exec "$ns" ss -Hnul "sport = :$LAB_DHT_PORT")" ]] && return 0
        _lab_alive "$(cat "$run/dht$k.pid")" || break
        sleep 0.1
    done
    lab_log "dhtnode $k does not listen on UDP $LAB_DHT_PORT; see $run/dht$k.out"
    return 1
}

# lab_dht_stop K: stops DHT node K (its namespace stays).
lab_dht_stop() {
    _lab_id || return 1
    _lab_stop_pid "$(lab_rundir)/dht$1.pid" dhtnode
}

_lab_up_body() {
    set -euo pipefail
    local k nat_a=${NAT_A:-drop} nat_b=${NAT_B:-drop} nat_c=${NAT_C:-drop} homes=${HOMES:-2}
    [[ "${DELAY_MS:-0}" =~ ^[0-9]+$ ]] || { lab_log "DELAY_MS must be a number"; return 1; }
    [[ "$homes" == 2 || "$homes" == 3 ]] || { lab_log "HOMES must be 2 or 3"; return 1; }
    for k in "${UPNP_A:-0}" "${UPNP_B:-0}"; do
        case "$k" in 0 | 1 | natpmp | upnp) ;; *)
            lab_log "UPNP_A/UPNP_B must be 0, 1, natpmp or upnp: '$k'"
            return 1
            ;;
        esac
    done
    local dht=${LAB_DHT:-0}
    if [[ ! "$dht" =~ ^[0-9]$ ]] || ((dht > LAB_DHT_MAX)); then
        lab_log "LAB_DHT must be 0-$LAB_DHT_MAX"
        return 1
    fi
    if ((dht > 0)) && ! command -v dhtnode >/dev/null; then
        lab_log "LAB_DHT needs dhtnode (apt-get install dhtnode)"
        return 1
    fi
    for k in "$nat_a" "$nat_b" "$nat_c"; do
        case "$k" in drop | rst | symmetric | off) ;; *)
            lab_log "unknown NAT kind '$k' (drop|rst|symmetric|off)"
            return 1
            ;;
        esac
    done
    # IPv6 per home: V6_X wins over LAB_V6; the internet and the stun host get IPv6 when any
    # home has it.
    export V6_A=${V6_A:-${LAB_V6:-off}} V6_B=${V6_B:-${LAB_V6:-off}} V6_C=${V6_C:-${LAB_V6:-off}}
    [[ "$homes" == 3 ]] || V6_C=off
    local v6=""
    for k in "$V6_A" "$V6_B" "$V6_C"; do
        case "$k" in drop | rst) v6=v6 ;; off) ;; *)
            lab_log "unknown IPv6 kind '$k' (drop|rst|off)"
            return 1
            ;;
        esac
    done
    if [[ "${DELAY_MS:-0}" != 0 ]]; then lab_taplink_bin >/dev/null; fi
    printf 'NAT_A=%s\nNAT_B=%s\nDELAY_MS=%s\nSAME_LAN=%s\nLAB_STUN=%s\nCT_LIBERAL=%s\n' \
        "$nat_a" "$nat_b" "${DELAY_MS:-0}" "${SAME_LAN:-0}" "${LAB_STUN:-1}" "${CT_LIBERAL:-0}" \
        >"$RUN/config"
    if [[ "$homes" == 3 ]]; then printf 'HOMES=3\nNAT_C=%s\n' "$nat_c" >>"$RUN/config"; fi
    if [[ -n "$v6" ]]; then
        printf 'V6_A=%s\nV6_B=%s\n' "$V6_A" "$V6_B" >>"$RUN/config"
        [[ "$homes" == 3 ]] && printf 'V6_C=%s\n' "$V6_C" >>"$RUN/config"
    fi
    printf 'UPNP_A=%s\nUPNP_B=%s\n' "${UPNP_A:-0}" "${UPNP_B:-0}" >>"$RUN/config"
    printf 'LAB_DHT=%s\n' "$dht" >>"$RUN/config"

    _lab_mkns inet $v6
    _lab_router inet $v6
    local hosts_a=("hostA=$LAB_IP_HOSTA")
    [[ "${SAME_LAN:-0}" == 1 ]] && hosts_a+=("hostA2=$LAB_IP_HOSTA2")
    _lab_home A "$nat_a" "$LAB_IP_NATA_LAN" "$LAB_IP_NATA_WAN" "$LAB_IP_INET_A" toA "${hosts_a[@]}"
    _lab_home B "$nat_b" "$LAB_IP_NATB_LAN" "$LAB_IP_NATB_WAN" "$LAB_IP_INET_B" toB \
        "hostB=$LAB_IP_HOSTB"
    if [[ "$homes" == 3 ]]; then
        _lab_home C "$nat_c" "$LAB_IP_NATC_LAN" "$LAB_IP_NATC_WAN" "$LAB_IP_INET_C" toC \
            "hostC=$LAB_IP_HOSTC"
    fi

    _lab_mkns stun $v6
    _lab_link stun eth0 inet tostun 0
    ip -n "$(lab_ns stun)" addr add "$LAB_IP_STUN1/24" dev eth0
    ip -n "$(lab_ns stun)" addr add "$LAB_IP_STUN2/24" dev eth0
    ip -n "$(lab_ns stun)" route add default via "$LAB_IP_INET_STUN"
    ip -n "$(lab_ns inet)" addr add "$LAB_IP_INET_STUN/24" dev tostun
    if [[ -n "$v6" ]]; then
        ip -n "$(lab_ns stun)" addr add "$LAB_IP6_STUN1/64" dev eth0 nodad
        ip -n "$(lab_ns stun)" addr add "$LAB_IP6_STUN2/64" dev eth0 nodad
        ip -n "$(lab_ns stun)" -6 route add default via "$LAB_IP6_INET_STUN"
        ip -n "$(lab_ns inet)" addr add "$LAB_IP6_INET_STUN/64" dev tostun nodad
    fi
    # shellcheck disable=SC2086 # $v6 is empty or one word
    if [[ "${LAB_STUN:-1}" != 0 ]]; then _lab_start_stun $v6 && _lab_start_turn2; fi
    if [[ "${UPNP_A:-0}" != 0 ]]; then _lab_start_miniupnpd A "$UPNP_A"; fi
    if [[ "${UPNP_B:-0}" != 0 ]]; then _lab_start_miniupnpd B "$UPNP_B"; fi
    if ((dht > 0)); then _lab_start_dht "$dht"; fi
}

# lab_up: builds the lab for LAB_ID from NAT_A, NAT_B, DELAY_MS, SAME_LAN, LAB_STUN, CT_LIBERAL,
# HOMES, NAT_C, LAB_DHT, LAB_V6 and V6_A/V6_B/V6_C.
# On failure everything made so far is removed and it returns 1.
lab_up() {
    _lab_id || return 1
    if [[ $EUID -ne 0 ]]; then
        lab_log "must run as root"
        return 1
    fi
    local RUN
    RUN=$(lab_rundir)
    if [[ -e "$RUN" ]]; then
        lab_log "$RUN exists: LAB_ID $LAB_ID is in use (lab.sh down first)"
        return 1
    fi
    mkdir -p "$RUN"
    # A separate bash, so that 'set -e' really applies to the body (it is ignored in a function
    # or subshell that runs as the condition of an if or || list).
    if ! env LAB_ID="$LAB_ID" RUN="$RUN" NAT_A="${NAT_A:-drop}" NAT_B="${NAT_B:-drop}" \
        CT_LIBERAL="${CT_LIBERAL:-0}" HOMES="${HOMES:-2}" NAT_C="${NAT_C:-drop}" \
        DELAY_MS="${DELAY_MS:-0}" SAME_LAN="${SAME_LAN:-0}" LAB_STUN="${LAB_STUN:-1}" \
        LAB_DHT="${LAB_DHT:-0}" UPNP_A="${UPNP_A:-0}" UPNP_B="${UPNP_B:-0}" \
        LAB_V6="${LAB_V6:-off}" V6_A="${V6_A:-}" V6_B="${V6_B:-}" V6_C="${V6_C:-}" \
        bash "$LAB_DIR/lab.sh" __up_body; then
        lab_log "up failed; tearing down"
        lab_down
        return 1
    fi
}

# --- down ---------------------------------------------------------------------------------

# True if PID runs (a zombie waiting for init to reap it does not count).
_lab_alive() {
    local st
    st=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
    st=${st##*) }
    [[ "${st:0:1}" != Z ]]
}

# Stops a process we started if it is still the same program (guards against PID reuse).
_lab_stop_pid() {
    local pidfile=$1 name=$2 pid i
    [[ -f "$pidfile" ]] || return 0
    pid=$(cat "$pidfile")
    [[ "$pid" =~ ^[0-9]+$ ]] || return 0
    if _lab_alive "$pid" && grep -q "$name" "/proc/$pid/cmdline" 2>/dev/null; then
        kill -TERM "$pid" 2>/dev/null
        for ((i = 0; i < 50; i++)); do
            _lab_alive "$pid" || break
            sleep 0.1
        done
        kill -KILL "$pid" 2>/dev/null
    fi
    rm -f "$pidfile"
}

# Kills whatever still runs inside one of our namespaces (test programs left behind).
_lab_kill_ns_pids() {
    local ns=$1 pids i
    for ((i = 0; i < 3; i++)); do
        pids=$(ip netns pids "$ns" 2>/dev/null) || return 0
        [[ -z "$pids" ]] && return 0
        # shellcheck disable=SC2086
        kill -TERM $pids 2>/dev/null
        sleep 0.3
    done
    pids=$(ip netns pids "$ns" 2>/dev/null)
    # shellcheck disable=SC2086
    [[ -n "$pids" ]] && kill -KILL $pids 2>/dev/null
    sleep 0.1
}

lab_down() {
    _lab_id || return 1
    local RUN ns f
    RUN=$(lab_rundir)
    if [[ -d "$RUN" ]]; then
        _lab_stop_pid "$RUN/coturn.pid" turnserver
        _lab_stop_pid "$RUN/coturn2.pid" turnserver
        _lab_stop_pid "$RUN/miniupnpd-A.pid" miniupnpd
        _lab_stop_pid "$RUN/miniupnpd-B.pid" miniupnpd
        for f in "$RUN"/taplink-*.pid; do
            [[ -e "$f" ]] && _lab_stop_pid "$f" taplink
        done
        for f in "$RUN"/dht[0-9].pid; do
            [[ -e "$f" ]] && _lab_stop_pid "$f" dhtnode
        done
    fi
    local -a all=()
    [[ -f "$RUN/namespaces" ]] && mapfile -t all <"$RUN/namespaces"
    # Also the fixed names, in case the run dir was lost.
    for f in hostA hostA2 natA inet natB hostB natC hostC stun dht1 dht2 dht3 dht4 dht5; do
        all+=("$(lab_ns "$f")")
    done
    for ns in "${all[@]}"; do
        [[ -e "/run/netns/$ns" ]] || continue
        _lab_kill_ns_pids "$ns"
        ip netns del "$ns" 2>/dev/null || lab_log "could not delete namespace $ns"
    done
    if [[ -d "$RUN" ]]; then
        if [[ "${LAB_KEEP_RUNDIR:-0}" == 1 ]]; then
            rm -f "$RUN/namespaces"
            lab_log "logs kept in $RUN"
        else
            rm -rf "$RUN"
        fi
    fi
    return 0
}

# --- helpers for tests --------------------------------------------------------------------

# lab_stun HOST [SERVER_IP [LOCAL_PORT]]: sends one STUN Binding request over TCP from HOST and
# prints the XOR-MAPPED-ADDRESS as ip:port ([ip]:port for IPv6; SERVER_IP may be IPv6). Needs
# socat and od; no python.
lab_stun() {
    local host=$1 server=${2:-$LAB_IP_STUN1} lport=${3:-} opts=""
    [[ -n "$lport" ]] && opts=",sourceport=$lport,reuseaddr"
    local target="TCP:$server:$LAB_STUN_PORT"
    [[ "$server" == *:* ]] && target="TCP6:[$server]:$LAB_STUN_PORT"
    local txid="" i
    local -a tx=()
    for ((i = 0; i < 12; i++)); do
        tx+=($((RANDOM % 256)))
        txid+=$(printf '\\x%02x' "${tx[i]}")
    done
    local hex
    # shellcheck disable=SC2059
    hex=$(printf "\\x00\\x01\\x00\\x00\\x21\\x12\\xa4\\x42$txid" |
        lab_exec "$host" timeout 5 socat -t 2 - "$target,connect-timeout=3$opts" |
        od -An -v -tx1 | tr -s ' \n' ' ') || return 1
    local -a b
    read -r -a b <<<"$hex"
    ((${#b[@]} >= 20)) || { lab_log "short STUN answer (${#b[@]} bytes)"; return 1; }
    [[ "${b[0]}${b[1]}" == 0101 ]] || { lab_log "not a Binding success: ${b[0]}${b[1]}"; return 1; }
    local len=$((16#${b[2]}${b[3]})) off=20 end t l
    end=$((20 + len))
    while ((off + 4 <= end && off + 4 <= ${#b[@]})); do
        t=$((16#${b[off]}${b[off + 1]}))
        l=$((16#${b[off + 2]}${b[off + 3]}))
        if ((t == 0x0020 && l >= 20)) && [[ "${b[off + 5]}" == 02 ]]; then
            # IPv6: XOR with the magic cookie and the transaction id
            local -a key=(0x21 0x12 0xa4 0x42 "${tx[@]}") words=()
            local port=$(((16#${b[off + 6]}${b[off + 7]}) ^ 0x2112)) j
            for ((j = 0; j < 16; j += 2)); do
                words+=("$(printf '%x' $(((16#${b[off + 8 + j]} ^ key[j]) << 8 |
                    (16#${b[off + 9 + j]} ^ key[j + 1]))))")
            done
            local IFS=: text z n k
            text=":${words[*]}:"
            for ((n = 8; n >= 2; n--)); do # the longest run of zero groups becomes "::"
                z=":"
                for ((k = 0; k < n; k++)); do z+="0:"; done
                if [[ "$text" == *"$z"* ]]; then
                    text=${text/"$z"/::}
                    break
                fi
            done
            [[ "$text" == ::* ]] || text=${text#:}
            [[ "$text" == *:: ]] || text=${text%:}
            printf '[%s]:%d\n' "$text" "$port"
            return 0
        fi
        if ((t == 0x0020 && l >= 8)); then
            local port=$(((16#${b[off + 6]}${b[off + 7]}) ^ 0x2112))
            local a1=$((16#${b[off + 8]} ^ 0x21)) a2=$((16#${b[off + 9]} ^ 0x12))
            local a3=$((16#${b[off + 10]} ^ 0xa4)) a4=$((16#${b[off + 11]} ^ 0x42))
            printf '%d.%d.%d.%d:%d\n' "$a1" "$a2" "$a3" "$a4" "$port"
            return 0
        fi
        off=$((off + 4 + (l + 3) / 4 * 4))
    done
    lab_log "no XOR-MAPPED-ADDRESS in the answer"
    return 1
}

# lab_dht_bootstrap: the lab's DHT nodes as "ip:port" lines (nothing when LAB_DHT=0), for
# --dht options.
lab_dht_bootstrap() {
    _lab_id || return 1
    local n k
    n=$(sed -n 's/^LAB_DHT=//p' "$(lab_rundir)/config" 2>/dev/null)
    for ((k = 1; k <= ${n:-0}; k++)); do
        printf '%s:%s\n' "$(_lab_dht_ip "$k")" "$LAB_DHT_PORT"
    done
}

lab_status() {
    _lab_id || return 1
    local RUN
    RUN=$(lab_rundir)
    [[ -f "$RUN/config" ]] && cat "$RUN/config"
    echo "run dir: $RUN"
    ip netns list | grep "^$LAB_ID-" || echo "(no namespaces)"
}

# --- CLI ----------------------------------------------------------------------------------

_lab_pick_id() {
    [[ -n "${LAB_ID:-}" ]] && return 0
    local -a dirs
    mapfile -t dirs < <(compgen -G "${LAB_STATE_ROOT:-/tmp}/punchline-lab.*")
    if ((${#dirs[@]} == 1)); then
        LAB_ID=${dirs[0]##*/punchline-lab.}
        lab_log "using LAB_ID=$LAB_ID"
        return 0
    fi
    lab_log "set LAB_ID (labs present: ${dirs[*]##*/punchline-lab.})"
    return 1
}

_lab_usage() {
    sed -n '2,45p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
}

lab_main() {
    local cmd=${1:-}
    shift || true
    case "$cmd" in
    up)
        while (($#)); do
            case "$1" in
            --nat-a) NAT_A=$2; shift 2 ;;
            --nat-b) NAT_B=$2; shift 2 ;;
            --nat-c) NAT_C=$2; shift 2 ;;
            --homes) HOMES=$2; shift 2 ;;
            --delay) DELAY_MS=$2; shift 2 ;;
            --same-lan) SAME_LAN=1; shift ;;
            --no-stun) LAB_STUN=0; shift ;;
            --ct-liberal) CT_LIBERAL=1; shift ;;
            --dht) LAB_DHT=$2; shift 2 ;;
            --upnp-a) UPNP_A=1; shift ;;
            --natpmp-a) UPNP_A=natpmp; shift ;;
            --upnp-b) UPNP_B=1; shift ;;
            --natpmp-b) UPNP_B=natpmp; shift ;;
            --v6) LAB_V6=$2; shift 2 ;;
            --v6-a) V6_A=$2; shift 2 ;;
            --v6-b) V6_B=$2; shift 2 ;;
            --v6-c) V6_C=$2; shift 2 ;;
            --id) LAB_ID=$2; shift 2 ;;
            NAT_A=* | NAT_B=* | NAT_C=* | HOMES=* | DELAY_MS=* | SAME_LAN=* | LAB_STUN=* | \
                CT_LIBERAL=* | LAB_DHT=* | UPNP_A=* | UPNP_B=* | LAB_V6=* | V6_A=* | V6_B=* | V6_C=*)
                export "${1?}"
                shift
                ;;
            *) lab_log "unknown option $1"; _lab_usage >&2; return 2 ;;
            esac
        done
        LAB_ID=${LAB_ID:-pl$$}
        lab_up || return 1
        echo "LAB_ID=$LAB_ID"
        ;;
    down)
        # destructive: never guessed (it could be another run's lab)
        [[ "${1:-}" == --id ]] && LAB_ID=${2:-}
        if [[ -z "${LAB_ID:-}" ]]; then
            lab_log "set LAB_ID or pass --id ID (labs present: $(lab_main list | tr '\n' ' '))"
            return 2
        fi
        lab_down
        ;;
    exec)
        (($# >= 2)) || { _lab_usage >&2; return 2; }
        _lab_pick_id || return 1
        lab_exec "$@"
        ;;
    ns) _lab_pick_id && lab_ns "$1" ;;
    stun) _lab_pick_id && lab_stun "$@" ;;
    upnp-list) _lab_pick_id && lab_upnp_list "$@" ;;
    dht-bootstrap) _lab_pick_id && lab_dht_bootstrap ;;
    status) _lab_pick_id && lab_status ;;
    list) compgen -G "${LAB_STATE_ROOT:-/tmp}/punchline-lab.*" | sed 's/.*punchline-lab\.//' || true ;;
    taplink) lab_taplink_bin ;;
    __up_body) _lab_up_body ;;
    -h | --help | help) _lab_usage ;;
    *) _lab_usage >&2; return 2 ;;
    esac
}

if [[ "${BASH_SOURCE[0]}" == "$0" ]]; then
    lab_main "$@"
    exit $?
fi
