#pragma once
// Preferences: display name, download folder, port, STUN servers, IP echo fallback, keepalive,
// TURN relay servers (kept by TurnStore in the profile's owner-only turn.json, not in
// punchline.ini), and the friend finder (on/off, bootstrap nodes, local discovery, what to do with
// new friends). OK checks everything first; a bad value is explained and nothing is changed. The
// name and port shown are the profile's (LocalInfo); the window sends changes of them to
// Node::updateSettings.

#include "engine/settings.h"

#include <QDialog>

class QCheckBox;
class QComboBox;
class QLabel;
class QLineEdit;
class QPlainTextEdit;
class QSpinBox;

namespace Punchline {

class SettingsDialog : public QDialog
{
    Q_OBJECT
public:
    explicit SettingsDialog(const Settings &current, QWidget *parent = nullptr);

    // The edited values (valid after accept()); port 0 means automatic.
    Settings settings() const;
    QString errorText() const;
    // The window's own choice: closing it keeps Punchline in the tray (shown only with a tray).
    void setCloseToTray(bool on, bool trayAvailable);
    bool closeToTray() const;
    // Says which values this run takes from the command line (they are not saved here).
    void setOneRunNote(const QString &text);

    // Empty when the folder exists (or could be created) and a file can be written in it.
    static QString checkDownloadDir(const QString &dir);
    // Empty when every line is host:port (checkStunServer).
    static QString checkStunServers(const QStringList &servers);
    // Empty when every line is a DHT node: host:port, or host alone (OpenDHT's port 4222), read
    // by parseHostPort as the engine reads it.
    static QString checkDhtBootstrap(const QStringList &nodes);
    static constexpr quint16 DhtDefaultPort = 4222;
    // Empty when every line is a TURN relay parseTurnServer() accepts
    // ("turn:USER:PASS@HOST:PORT"). The message names the bad line by its number and server,
    // never by its text: the password must not appear in an error.
    static QString checkTurnServers(const QStringList &servers);

public Q_SLOTS:
    void accept() override;

private:
    void browseDownloadDir();
    void showError(const QString &text, QWidget *field);

    Settings m_settings;
    QLineEdit *m_name;
    QLineEdit *m_downloadDir;
    QSpinBox *m_port;
    QPlainTextEdit *m_stun;
    QCheckBox *m_ipEchoEnabled;
    QLineEdit *m_ipEchoUrl;
    QCheckBox *m_portMapping;
    QSpinBox *m_keepalive;
    QCheckBox *m_dht;
    QPlainTextEdit *m_dhtBootstrap;
    QCheckBox *m_dhtLocal;
    QComboBox *m_acceptFriends;
    QPlainTextEdit *m_turn;
    QCheckBox *m_closeToTray;
    QLabel *m_oneRunNote;
    QLabel *m_error;
};

} // namespace Punchline
