#include "appsettings.h"

#include "reach/turnstore.h"

#include <QDir>
#include <QSettings>
#include <QStandardPaths>

namespace Punchline {

namespace {

const QString KeyDownloads = QStringLiteral("transfers/downloadDir");
const QString KeyStun = QStringLiteral("network/stunServers");
const QString KeyIpEcho = QStringLiteral("network/ipEchoUrl");
const QString KeyPortMapping = QStringLiteral("network/portMapping");
const QString KeyKeepalive = QStringLiteral("network/keepaliveSeconds");
const QString KeyDht = QStringLiteral("friendFinder/enabled");
const QString KeyDhtBootstrap = QStringLiteral("friendFinder/bootstrap");
const QString KeyDhtLocal = QStringLiteral("friendFinder/localDiscovery");
const QString KeyAcceptFriends = QStringLiteral("friendFinder/newFriends");
const QString KeyCloseToTray = QStringLiteral("window/closeToTray");
const QString KeyNameChosen = QStringLiteral("profile/nameChosen");
const QString KeyGeometry = QStringLiteral("window/geometry");
const QString KeyState = QStringLiteral("window/state");

QString policyName(AcceptPolicy p)
{
    switch (p) {
    case AcceptPolicy::All:
        return QStringLiteral("all");
    case AcceptPolicy::None:
        return QStringLiteral("none");
    case AcceptPolicy::Ask:
        break;
    }
    return QStringLiteral("ask");
}

AcceptPolicy policyFrom(const QString &name, AcceptPolicy fallback)
{
    if (name == QLatin1String("all"))
        return AcceptPolicy::All;
    if (name == QLatin1String("none"))
        return AcceptPolicy::None;
    if (name == QLatin1String("ask"))
        return AcceptPolicy::Ask;
    return fallback;
}

} // namespace

AppSettings::AppSettings(const QString &profileDir)
    : m_profileDir(profileDir)
    , m_path(QDir(profileDir).filePath(QString::fromLatin1(FileName)))
{
}

QString AppSettings::defaultProfileDir()
{
    return QStandardPaths::writableLocation(QStandardPaths::AppDataLocation);
}

QString AppSettings::defaultDownloadDir()
{
    QString dir = QStandardPaths::writableLocation(QStandardPaths::DownloadLocation);
    if (dir.isEmpty())
        dir = QDir::homePath();
    return dir;
}

Settings AppSettings::defaults(const QString &profileDir)
{
    Settings s;
    s.profileDir = profileDir;
    s.port = -1; // the profile's port
    s.displayName.clear(); // the profile's name
    s.stunServers = Settings::defaultStunServers();
    s.ipEchoUrl = Settings::defaultIpEchoUrl();
    s.portMapping = true; // users' machines ask their router, as for STUN
    s.downloadDir = defaultDownloadDir();
    // The friend finder, on for users like STUN (Settings keeps it off for tests).
    s.dht = true;
    s.dhtBootstrap = Settings::defaultDhtBootstrap();
    s.dhtLocalDiscovery = true;
    s.acceptFriends = AcceptPolicy::Ask;
    return s;
}

Settings AppSettings::load(Error *turnProblem) const
{
    Settings s = defaults(m_profileDir);
    const QSettings ini(m_path, QSettings::IniFormat);
    s.downloadDir = ini.value(KeyDownloads, s.downloadDir).toString();
    // An empty list is a choice (STUN off), so "missing" and "empty" differ.
    if (ini.contains(KeyStun))
        s.stunServers = ini.value(KeyStun).toStringList();
    s.stunServers.removeAll(QString());
    if (ini.contains(KeyIpEcho))
        s.ipEchoUrl = ini.value(KeyIpEcho).toString();
    s.portMapping = ini.value(KeyPortMapping, s.portMapping).toBool();
    const int keepalive = ini.value(KeyKeepalive, s.keepaliveIntervalMs / 1000).toInt();
    if (keepalive >= 5 && keepalive <= 600) {
        s.keepaliveIntervalMs = keepalive * 1000;
        s.peerSilentLimitMs = 3 * s.keepaliveIntervalMs;
    }
    s.dht = ini.value(KeyDht, s.dht).toBool();
    // As with STUN, an empty list is a choice (local discovery only).
    if (ini.contains(KeyDhtBootstrap))
        s.dhtBootstrap = ini.value(KeyDhtBootstrap).toStringList();
    s.dhtBootstrap.removeAll(QString());
    s.dhtLocalDiscovery = ini.value(KeyDhtLocal, s.dhtLocalDiscovery).toBool();
    s.acceptFriends = policyFrom(ini.value(KeyAcceptFriends).toString(), s.acceptFriends);
    s.turnServers = TurnStore::load(m_profileDir, turnProblem).value_or(QStringList {});
    return s;
}

bool AppSettings::saveTurnServers(const QStringList &servers, Error *error) const
{
    return TurnStore::save(m_profileDir, servers, error);
}

bool AppSettings::save(const Settings &settings) const
{
    QSettings ini(m_path, QSettings::IniFormat);
    ini.setValue(KeyDownloads, settings.downloadDir);
    ini.setValue(KeyStun, settings.stunServers);
    ini.setValue(KeyIpEcho, settings.ipEchoUrl);
    ini.setValue(KeyPortMapping, settings.portMapping);
    ini.setValue(KeyKeepalive, settings.keepaliveIntervalMs / 1000);
    ini.setValue(KeyDht, settings.dht);
    ini.setValue(KeyDhtBootstrap, settings.dhtBootstrap);
    ini.setValue(KeyDhtLocal, settings.dhtLocalDiscovery);
    ini.setValue(KeyAcceptFriends, policyName(settings.acceptFriends));
    ini.sync();
    return ini.status() == QSettings::NoError;
}

bool AppSettings::closeToTray() const
{
    return QSettings(m_path, QSettings::IniFormat).value(KeyCloseToTray, true).toBool();
}

bool AppSettings::setCloseToTray(bool on) const
{
    QSettings ini(m_path, QSettings::IniFormat);
    ini.setValue(KeyCloseToTray, on);
    ini.sync();
    return ini.status() == QSettings::NoError;
}

bool AppSettings::nameChosen() const
{
    return QSettings(m_path, QSettings::IniFormat).value(KeyNameChosen, false).toBool();
}

void AppSettings::setNameChosen() const
{
    QSettings(m_path, QSettings::IniFormat).setValue(KeyNameChosen, true);
}

QByteArray AppSettings::windowGeometry() const
{
    return QSettings(m_path, QSettings::IniFormat).value(KeyGeometry).toByteArray();
}

QByteArray AppSettings::windowState() const
{
    return QSettings(m_path, QSettings::IniFormat).value(KeyState).toByteArray();
}

void AppSettings::saveWindow(const QByteArray &geometry, const QByteArray &state) const
{
    QSettings ini(m_path, QSettings::IniFormat);
    ini.setValue(KeyGeometry, geometry);
    ini.setValue(KeyState, state);
}

} // namespace Punchline
