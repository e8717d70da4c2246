#include "stuncheck.h"

#include "stun/stunclient.h"

#include <QCoreApplication>

namespace Punchline {

QString checkStunServer(const QString &text)
{
    QString why;
    if (StunClient::parseServer(text, &why))
        return QString();
    return QCoreApplication::translate("Punchline::SettingsDialog",
        "\"%1\" is not a STUN server: %2. Write host:port, for example stun.example.org:3478.")
        .arg(text, why);
}

} // namespace Punchline
