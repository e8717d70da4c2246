#include "commandline.h"

#include "reach/turnclient.h"
#include "reach/turnstore.h"
#include "stun/stunclient.h"

#include <QCommandLineParser>
#include <QCoreApplication>
#include <QDir>
#include <QUrl>

namespace Punchline {

namespace {

QString tr(const char *text)
{
    return QCoreApplication::translate("SharedOptions", text);
}

} // namespace

SharedOptions::SharedOptions()
    : profile(QStringLiteral("profile"),
        tr("Use the profile in DIR (identity, friends, settings; default: the app-data folder)."),
        QStringLiteral("DIR"))
    , port(QStringLiteral("port"),
          tr("Local TCP port (0 = any free port; default: the profile's port)."),
          QStringLiteral("N"))
    , stun(QStringLiteral("stun"),
          tr("STUN server host:port (repeatable or comma separated; \"none\" disables; default: a "
             "public list)."),
          QStringLiteral("HOST:PORT"))
    , ipEcho(QStringLiteral("ip-echo"),
          tr("IP echo URL used when no STUN server answers (\"none\" disables)."),
          QStringLiteral("URL"))
    , turn(QStringLiteral("turn"),
          tr("TURN relay for friends no direct path reaches: turn:USER:PASSWORD@HOST:PORT "
             "(repeatable; saved in the profile, readable by you only; \"none\" forgets them)."),
          QStringLiteral("URL"))
{
}

QList<QCommandLineOption> SharedOptions::options() const
{
    return { profile, port, stun, ipEcho, turn };
}

bool SharedOptions::read(const QCommandLineParser &parser, NetworkOptions *out, Error *error) const
{
    auto bad = [error](const QString &message) {
        *error = { ErrorCode::BadUsage, message };
        return false;
    };
    if (parser.isSet(profile)) {
        const QString dir = parser.value(profile).trimmed();
        if (dir.isEmpty())
            return bad(QStringLiteral("--profile needs a folder"));
        out->profileDir = QDir(dir).absolutePath();
    }
    if (parser.isSet(port)) {
        bool ok = false;
        const int value = parser.value(port).trimmed().toInt(&ok);
        if (!ok || value < 0 || value > 65535)
            return bad(QStringLiteral("--port needs a number from 0 to 65535, got \"%1\"")
                           .arg(parser.value(port)));
        out->port = value;
    }
    if (parser.isSet(stun)) {
        QStringList servers;
        bool none = false;
        const QStringList values = parser.values(stun);
        for (const QString &value : values) {
            const QStringList items = value.split(QLatin1Char(','), Qt::SkipEmptyParts);
            for (const QString &raw : items) {
                const QString item = raw.trimmed();
                if (item.compare(QLatin1String("none"), Qt::CaseInsensitive) == 0) {
                    none = true;
                    continue;
                }
                QString why;
                if (!StunClient::parseServer(item, &why))
                    return bad(
                        QStringLiteral("--stun \"%1\" is not a STUN server: %2").arg(item, why));
                servers << item;
            }
        }
        out->stunServers = none ? QStringList {} : servers;
    }
    if (parser.isSet(ipEcho)) {
        const QString value = parser.value(ipEcho).trimmed();
        if (value.compare(QLatin1String("none"), Qt::CaseInsensitive) == 0) {
            out->ipEchoUrl = QString();
        } else {
            const QUrl url(value, QUrl::StrictMode);
            if (!url.isValid() || url.host().isEmpty()
                || (url.scheme() != QLatin1String("http")
                    && url.scheme() != QLatin1String("https")))
                return bad(QStringLiteral("--ip-echo needs an http(s) URL or \"none\", got \"%1\"")
                               .arg(value));
            out->ipEchoUrl = value;
        }
    }
    if (parser.isSet(turn)) {
        QStringList servers;
        bool none = false;
        const QStringList values = parser.values(turn);
        for (const QString &raw : values) {
            const QString item = raw.trimmed();
            if (item.compare(QLatin1String("none"), Qt::CaseInsensitive) == 0) {
                none = true;
                continue;
            }
            Error why;
            // The sentence never repeats the password; neither does this one.
            if (!parseTurnServer(item, &why))
                return bad(QStringLiteral("--turn: %1").arg(why.message));
            servers << item;
        }
        out->turnServers = none ? QStringList {} : servers;
    }
    return true;
}

QStringList turnServersFor(const NetworkOptions &options, const QString &profileDir, Error *error)
{
    if (options.turnServers) {
        TurnStore::save(profileDir, *options.turnServers, error);
        return *options.turnServers;
    }
    return TurnStore::load(profileDir, error).value_or(QStringList {});
}

} // namespace Punchline
