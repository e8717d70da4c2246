#include "settings.h"

namespace Punchline {

QStringList Settings::defaultStunServers()
{
    // Public servers that answer STUN over TCP (Punchline's discovery is STUN over TCP: a server
    // that answers only UDP is no use), one per operator so that one outage or one operator
    // leaving costs one answer. From the TCP list of the hourly public STUN checker
    // (github.com/pradt2/always-online-stun, valid_hosts_tcp.txt, 2026); see the README. Only
    // used on users' machines: tests, benchmarks and demos always pass lab/loopback servers or
    // "none".
    return { QStringLiteral("stun.nextcloud.com:443"), QStringLiteral("stun.threema.ch:3478"),
        QStringLiteral("stun.freeswitch.org:3478"), QStringLiteral("stun.framasoft.org:3478"),
        QStringLiteral("stun.ipfire.org:3478") };
}

QStringList Settings::defaultDhtBootstrap()
{
    // The public OpenDHT network's bootstrap (the one Jami uses). Users' machines only: tests,
    // benchmarks and demos pass lab nodes or "none".
    return { QStringLiteral("bootstrap.jami.net:4222") };
}

QString Settings::defaultIpEchoUrl()
{
    return QStringLiteral("https://api.ipify.org");
}

} // namespace Punchline
