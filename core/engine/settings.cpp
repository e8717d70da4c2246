#include "settings.h"

namespace Punchline {

QStringList Settings::defaultStunServers()
{
    // Public servers that answer STUN over TCP. Only used on users' machines: tests, benchmarks
    // and demos always pass lab/loopback servers or "none".
    return { QStringLiteral("stun.cloudflare.com:3478"), QStringLiteral("stun.nextcloud.com:443"),
        QStringLiteral("stun.sipgate.net:3478") };
}

QString Settings::defaultIpEchoUrl()
{
    return QStringLiteral("https://api.ipify.org");
}

} // namespace Punchline
