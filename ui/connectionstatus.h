#pragma once
// What the status area says: the engine's state, punching progress, the connection's path and
// round-trip time, and for failures the reason and what to try next, in plain words.

#include "common/types.h"

#include <QCoreApplication>
#include <QString>

namespace Punchline {

class ConnectionStatus
{
    Q_DECLARE_TR_FUNCTIONS(Punchline::ConnectionStatus)
public:
    enum class Tone { Idle, Busy, Good, Warning, Bad };

    void setState(State state);
    void setProgress(const ConnectProgress &progress) { m_progress = progress; }
    void setConnection(const ConnectionInfo &info);
    void setRtt(int milliseconds) { m_rttMs = milliseconds; }
    void setError(const Error &error) { m_error = error; }
    void setDisconnectReason(const Error &why) { m_disconnectReason = why; }
    void setTargetName(const QString &name) { m_targetName = name; } // from the pasted code
    void setLocalNat(NatKind nat) { m_localNat = nat; }

    State state() const { return m_state; }
    const ConnectionInfo &connection() const { return m_connection; }
    int rttMs() const { return m_rttMs; }
    QString peerName() const; // the connected or expected friend, or "your friend"

    QString headline() const;
    QString detail() const;
    QString shortText() const; // one line for the status bar and the tray tooltip
    Tone tone() const;
    QString iconName() const; // a glyph in resources/icons/ui

    // Sentence(s) telling the user what to try after this error.
    static QString advice(const Error &error);
    static QString pathDescription(PathKind path);

private:
    QString connectedVia() const; // "Connected directly … to [2001:db8::1]:41000 over IPv6"
    State m_state = State::Idle;
    ConnectProgress m_progress;
    ConnectionInfo m_connection;
    bool m_haveConnection = false;
    int m_rttMs = -1;
    Error m_error;
    Error m_disconnectReason;
    QString m_targetName;
    NatKind m_localNat = NatKind::Unknown;
};

} // namespace Punchline
