#include "commandline.h"

#include "common/hostport.h"
#include "engine/settings.h"
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

// The items of a repeatable option that also takes comma-separated lists, trimmed.
QStringList listItems(const QStringList &values)
{
    QStringList out;
    for (const QString &value : values) {
        const QStringList items = value.split(QLatin1Char(','), Qt::SkipEmptyParts);
        for (const QString &raw : items)
            out << raw.trimmed();
    }
    return out;
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
    , dht(QStringLiteral("dht"),
          tr("Friend finder: OpenDHT bootstrap node host:port (repeatable or comma separated; "
             "\"lan\": only nodes on this network; \"none\": off, paste both codes; default: "
             "bootstrap.jami.net:4222)."),
          QStringLiteral("HOST:PORT"))
    , dhtPort(QStringLiteral("dht-port"), tr("UDP port of the friend finder (0 = any)."),
          QStringLiteral("N"))
    , dhtLocalDiscovery(QStringLiteral("dht-local-discovery"),
          tr("Find friend-finder nodes on the local network by multicast: on or off (default on)."),
          QStringLiteral("on|off"))
    , acceptFriends(QStringLiteral("accept-friends"),
          tr("Someone who has your code asks to connect: all, none or ask (default ask)."),
          QStringLiteral("POLICY"))
    , inviteLifetime(QStringLiteral("invite-lifetime"),
          tr("How long a new code stays valid, in seconds (default 86400)."),
          QStringLiteral("SECONDS"))
    , inviteSingleUse(QStringLiteral("invite-single-use"),
          tr("A new code works for the first friend who uses it only."))
    , portMapping(QStringLiteral("port-mapping"),
          tr("Ask the router to open our port (UPnP IGD, NAT-PMP): on or off (default: on)."),
          QStringLiteral("on|off"))
{
}

void NetworkOptions::applyTo(Settings *s) const
{
    if (profileDir)
        s->profileDir = *profileDir;
    if (port)
        s->port = *port;
    if (stunServers)
        s->stunServers = *stunServers;
    if (ipEchoUrl)
        s->ipEchoUrl = *ipEchoUrl;
    if (dht)
        s->dht = *dht;
    if (dhtBootstrap)
        s->dhtBootstrap = *dhtBootstrap;
    if (dhtPort)
        s->dhtPort = *dhtPort;
    if (dhtLocalDiscovery)
        s->dhtLocalDiscovery = *dhtLocalDiscovery;
    if (acceptFriends)
        s->acceptFriends = *acceptFriends;
    if (inviteLifetimeSeconds)
        s->inviteLifetimeSeconds = *inviteLifetimeSeconds;
    if (inviteSingleUse)
        s->inviteSingleUse = *inviteSingleUse;
    if (portMapping)
        s->portMapping = *portMapping;
}

QList<QCommandLineOption> SharedOptions::options() const
{
    return { profile, port, stun, ipEcho, portMapping, turn, dht, dhtPort, dhtLocalDiscovery,
        acceptFriends, inviteLifetime, inviteSingleUse };
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
        const QStringList items = listItems(parser.values(stun));
        for (const QString &item : items) {
            if (item.compare(QLatin1String("none"), Qt::CaseInsensitive) == 0) {
                none = true;
                continue;
            }
            QString why;
            if (!StunClient::parseServer(item, &why))
                return bad(QStringLiteral("--stun \"%1\" is not a STUN server: %2").arg(item, why));
            servers << item;
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
    if (parser.isSet(dht)) {
        QStringList nodes;
        bool none = false;
        bool lan = false;
        const QStringList items = listItems(parser.values(dht));
        for (const QString &item : items) {
            if (item.compare(QLatin1String("none"), Qt::CaseInsensitive) == 0) {
                none = true;
                continue;
            }
            if (item.compare(QLatin1String("lan"), Qt::CaseInsensitive) == 0) {
                lan = true;
                continue;
            }
            QString why;
            if (!parseHostPort(item, 4222, &why))
                return bad(QStringLiteral("--dht \"%1\" is not a DHT node: %2").arg(item, why));
            nodes << item;
        }
        if (none && (lan || !nodes.isEmpty()))
            return bad(QStringLiteral("--dht none cannot be combined with nodes or \"lan\""));
        out->dht = !none;
        out->dhtBootstrap = nodes;
        if (lan && !parser.isSet(dhtLocalDiscovery))
            out->dhtLocalDiscovery = true;
    }
    if (parser.isSet(dhtPort)) {
        bool ok = false;
        const int value = parser.value(dhtPort).trimmed().toInt(&ok);
        if (!ok || value < 0 || value > 65535)
            return bad(QStringLiteral("--dht-port needs a number from 0 to 65535, got \"%1\"")
                           .arg(parser.value(dhtPort)));
        out->dhtPort = value;
    }
    if (parser.isSet(dhtLocalDiscovery)) {
        const QString v = parser.value(dhtLocalDiscovery).trimmed().toLower();
        if (v != QLatin1String("on") && v != QLatin1String("off"))
            return bad(QStringLiteral("--dht-local-discovery takes on or off, got \"%1\"").arg(v));
        out->dhtLocalDiscovery = v == QLatin1String("on");
    }
    if (parser.isSet(acceptFriends)) {
        const QString v = parser.value(acceptFriends).trimmed().toLower();
        if (v == QLatin1String("all"))
            out->acceptFriends = AcceptPolicy::All;
        else if (v == QLatin1String("none"))
            out->acceptFriends = AcceptPolicy::None;
        else if (v == QLatin1String("ask"))
            out->acceptFriends = AcceptPolicy::Ask;
        else
            return bad(
                QStringLiteral("--accept-friends takes all, none or ask, got \"%1\"").arg(v));
    }
    if (parser.isSet(inviteLifetime)) {
        bool ok = false;
        const int value = parser.value(inviteLifetime).trimmed().toInt(&ok);
        if (!ok || value < 60 || value > 365 * 24 * 3600)
            return bad(QStringLiteral("--invite-lifetime needs seconds from 60 to 31536000, got "
                                      "\"%1\"")
                           .arg(parser.value(inviteLifetime)));
        out->inviteLifetimeSeconds = value;
    }
    if (parser.isSet(inviteSingleUse))
        out->inviteSingleUse = true;
    if (parser.isSet(portMapping)) {
        const QString value = parser.values(portMapping).constLast().trimmed().toLower();
        if (value != QLatin1String("on") && value != QLatin1String("off"))
            return bad(QStringLiteral("--port-mapping needs \"on\" or \"off\", got \"%1\"")
                           .arg(parser.values(portMapping).constLast()));
        out->portMapping = value == QLatin1String("on");
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
