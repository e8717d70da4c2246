#include "settings.h"

namespace Punchline {

QStringList Settings::defaultStunServers()
{
    // Public servers that answer STUN over TCP. Only used on users' machines: tests, benchmarks
    // and demos always pass lab/loopback servers or "none".
    return { QStringLiteral("stun.cloudflare.com:3478"), QStringLiteral("stun.nextcloud.com:443"),
        QStringLiteral("stun.sipgate.net:3478") };
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
