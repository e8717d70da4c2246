#pragma once
// The window's persistent preferences: the node Settings a user can change here (download folder,
// STUN servers, IP echo fallback, keepalive, the friend finder: on/off, bootstrap nodes, local
// discovery, what to do with new friends) plus window geometry, kept with QSettings in
// <profile>/punchline.ini. The TURN relays and their credentials are not in that file: load()
// reads them from TurnStore (<profile>/turn.json, owner-only), saveTurnServers() writes them. The
// display name and the port are not here: core's profile owns them (LocalInfo shows them,
// Node::updateSettings changes them).

#include "common/types.h"
#include "engine/settings.h"

#include <QByteArray>
#include <QString>

namespace Punchline {

class AppSettings
{
public:
    static constexpr const char *FileName = "punchline.ini";

    explicit AppSettings(const QString &profileDir);

    // Stored values over the defaults; profileDir is always set, port is -1 (the profile's) and
    // displayName empty (the profile's). turnServers come from TurnStore; a problem with that
    // file (never with a password in it) goes to *turnProblem, the usable servers are kept.
    Settings load(Error *turnProblem = nullptr) const;
    // Writes the fields this file owns (not profileDir, displayName or port). False if the file
    // cannot be written.
    bool save(const Settings &settings) const;
    // The TURN relays through TurnStore (owner-only turn.json; an empty list removes it).
    bool saveTurnServers(const QStringList &servers, Error *error = nullptr) const;

    // Closing the window keeps Punchline running in the tray (default on, as Signal Desktop and
    // KDE Connect do).
    bool closeToTray() const;
    bool setCloseToTray(bool on) const;
    // The user was asked for a name at the first start (asked once, whatever they chose).
    bool nameChosen() const;
    void setNameChosen() const;

    QByteArray windowGeometry() const;
    QByteArray windowState() const;
    void saveWindow(const QByteArray &geometry, const QByteArray &state) const;

    QString path() const { return m_path; }
    static QString defaultProfileDir(); // QStandardPaths::AppDataLocation
    static QString defaultDownloadDir(); // the user's Downloads folder
    static Settings defaults(const QString &profileDir);

private:
    QString m_profileDir;
    QString m_path;
};

} // namespace Punchline
