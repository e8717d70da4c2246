#include "stuncheck.h"

#include <QCoreApplication>

namespace Punchline {

QString checkStunServer(const QString &text)
{
    const qsizetype colon = text.lastIndexOf(QLatin1Char(':'));
    bool portOk = false;
    const int port = colon > 0 ? text.mid(colon + 1).toInt(&portOk) : 0;
    const QString host = colon > 0 ? text.left(colon) : QString();
    if (!portOk || port < 1 || port > 65535 || host.isEmpty() || host.contains(QLatin1Char(' '))
        || host.contains(QLatin1Char('/')))
        return QCoreApplication::translate("Punchline::SettingsDialog",
            "\"%1\" is not a STUN server: write host:port, for example stun.example.org:3478.")
            .arg(text);
    return QString();
}

} // namespace Punchline
