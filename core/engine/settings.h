#pragma once
// Everything a user (window settings, CLI flags) can choose about a Punchline node.

#include "common/acceptpolicy.h"

#include <QMetaType>
#include <QString>
#include <QStringList>

namespace Punchline {

struct Settings
{
    QString profileDir; // identity, settings, known peers; must be set
    QString displayName; // empty: keep the profile's name (or the user name)
    int port = -1; // -1: the profile's saved port (else any); 0: any free port
    QStringList localAddresses; // restrict local candidates to these IPs; empty = all usable
    QStringList stunServers; // "host:port"; empty list = STUN disabled
    QString ipEchoUrl; // empty = disabled
    int discoveryTimeoutMs = 3000; // per STUN server / IP echo
    int attemptTimeoutMs = 5000; // one connect attempt (kernel SYN retransmits inside)
    int retryIntervalMs = 500; // a new attempt per candidate at least this often
    int connectTimeoutMs = 0; // 0: punch until cancelled
    int lowTtl = 0; // > 0: STUNT-style low-TTL SYN after a RST (lenient NATs only)
    int keepaliveIntervalMs = 15000; // ping; keeps NAT mappings alive, measures RTT
    int peerSilentLimitMs = 45000; // no frame for this long: the link counts as lost
    int reconnectWindowMs = 600000; // how long healing keeps punching before giving up
    QString downloadDir; // received files land here
    AcceptPolicy accept = AcceptPolicy::Ask;
    // Router port mapping (UPnP IGD, NAT-PMP). Off here; the CLI and the window turn it on for
    // users (tests never ask a real router).
    bool portMapping = false;
    // TURN relays: "turn:USER:PASS@HOST:PORT" or "turns:..." (TLS to the server).
    QStringList turnServers;
    // The friend finder (OpenDHT rendezvous). Off here; on for users in the CLI and the window.
    // dhtBootstrap: "host:port" nodes to join through (empty with dht on: local peer discovery
    // only, for a LAN without Internet); dhtPort: our UDP port (0: any).
    bool dht = false;
    bool dhtLocalDiscovery = false; // multicast for DHT nodes on the LAN (off in every test)
    QStringList dhtBootstrap;
    int dhtPort = 0;
    // First contacts that arrive through the DHT (someone pasted our code): all, none or ask.
    AcceptPolicy acceptFriends = AcceptPolicy::Ask;
    // How long a new code's invitation stays valid (seconds), and whether the first friend to
    // use it consumes it.
    int inviteLifetimeSeconds = 24 * 3600;
    bool inviteSingleUse = false;

    static QStringList defaultStunServers(); // public list, for users' machines only
    static QString defaultIpEchoUrl();
    static QStringList defaultDhtBootstrap(); // OpenDHT's public bootstrap, users' machines only
};

} // namespace Punchline

Q_DECLARE_METATYPE(Punchline::Settings)
