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

    static QStringList defaultStunServers(); // public list, for users' machines only
    static QString defaultIpEchoUrl();
};

} // namespace Punchline

Q_DECLARE_METATYPE(Punchline::Settings)
