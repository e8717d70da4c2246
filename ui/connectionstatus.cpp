#include "connectionstatus.h"

#include "messageformat.h"

namespace Punchline {

void ConnectionStatus::setState(State state)
{
    if (state == State::Connecting || state == State::Discovering) {
        m_error = {};
        m_disconnectReason = {};
        m_progress = {};
    }
    if (state == State::Reconnecting)
        m_progress = {};
    if (state == State::Connecting)
        m_rttMs = -1;
    m_state = state;
}

void ConnectionStatus::setConnection(const ConnectionInfo &info)
{
    m_connection = info;
    m_haveConnection = true;
    m_error = {};
    m_disconnectReason = {};
}

QString ConnectionStatus::peerName() const
{
    // The friend's current name (a rename reaches us later than the connection's hello).
    if (!m_targetName.isEmpty())
        return MessageFormat::isolate(m_targetName);
    if (m_haveConnection && !m_connection.peerName.isEmpty())
        return MessageFormat::isolate(m_connection.peerName);
    return tr("your friend");
}

QString ConnectionStatus::pathDescription(PathKind path)
{
    switch (path) {
    case PathKind::Lan:
        return tr("on the same local network");
    case PathKind::Direct:
        return tr("directly through both routers");
    case PathKind::Mapped:
        return tr("directly, through a port your router opened");
    case PathKind::Relay:
        return tr("through a relay (end-to-end encrypted)");
    }
    return QString();
}

QString ConnectionStatus::connectedVia() const
{
    const QString how = tr("Connected %1").arg(pathDescription(m_connection.path));
    const Endpoint &remote = m_connection.remote;
    if (!remote.isValid())
        return how;
    // "[2001:db8::…]:port": the brackets keep the port apart from the address.
    return normalizedAddress(remote.address).protocol() == QAbstractSocket::IPv6Protocol
        ? tr("%1 to %2 over IPv6").arg(how, remote.toString())
        : tr("%1 to %2").arg(how, remote.toString());
}

QString ConnectionStatus::headline() const
{
    switch (m_state) {
    case State::Idle:
        return tr("Starting…");
    case State::Discovering:
        return tr("Finding your addresses…");
    case State::Ready:
        return tr("Ready: paste your friend's code to connect");
    case State::Connecting:
        return tr("Waiting for %1…").arg(peerName());
    case State::Securing:
        return tr("Securing the connection with %1…").arg(peerName());
    case State::Connected:
        return tr("Connected to %1").arg(peerName());
    case State::Reconnecting:
        return tr("Connection lost: reconnecting to %1…").arg(peerName());
    case State::Disconnected:
        return m_disconnectReason.code == ErrorCode::PeerClosed
            ? tr("%1 closed the connection").arg(peerName())
            : tr("Disconnected");
    case State::Failed:
        return tr("Could not connect");
    }
    return QString();
}

QString ConnectionStatus::detail() const
{
    switch (m_state) {
    case State::Idle:
        return QString();
    case State::Discovering:
        return tr("Asking the Internet which address your router shows to the world. This takes a "
                  "few seconds.");
    case State::Ready:
        return tr("Send your code to your friend (by chat or e-mail) and paste theirs below. "
                  "Both of you press Connect.");
    case State::Connecting: {
        QString text;
        if (m_progress.attempts > 0)
            text = tr("Attempt %1 over %n address(es), %2 so far.", nullptr, m_progress.candidates)
                       .arg(m_progress.attempts)
                       .arg(MessageFormat::duration(m_progress.sinceMs));
        else
            text = tr("Opening a path through the routers.");
        return text + QLatin1Char(' ')
            + tr("Your friend must press Connect with your code too; it works as soon as both "
                 "sides try.");
    }
    case State::Securing:
        return tr("A path is open; checking your friend's identity and encrypting (TLS 1.3).");
    case State::Connected: {
        QStringList parts;
        parts << connectedVia();
        if (m_rttMs >= 0)
            parts << tr("round trip %1 ms").arg(m_rttMs);
        parts << (m_connection.peerPinnedByCode ? tr("identity checked against the code")
                                                : tr("identity trusted on first use"));
        parts << tr("encrypted");
        return parts.join(QStringLiteral(" · "));
    }
    case State::Reconnecting: {
        QString text = tr("Messages and files wait and continue once the link is back.");
        if (m_progress.attempts > 0)
            text.prepend(tr("Attempt %1, %2 so far. ")
                             .arg(m_progress.attempts)
                             .arg(MessageFormat::duration(m_progress.sinceMs)));
        return text;
    }
    case State::Disconnected:
        if (m_disconnectReason.isError() && m_disconnectReason.code != ErrorCode::PeerClosed)
            return MessageFormat::sentence(m_disconnectReason.message) + QLatin1Char(' ')
                + advice(m_disconnectReason);
        return tr("Press Reconnect, or pick the friend in your conversations and reconnect from "
                  "its menu.");
    case State::Failed: {
        const QString reason = m_error.isError() ? MessageFormat::sentence(m_error.message)
                                                 : tr("The connection attempt gave up.");
        const QString next = advice(m_error);
        return next.isEmpty() ? reason : reason + QLatin1Char(' ') + next;
    }
    }
    return QString();
}

QString ConnectionStatus::shortText() const
{
    switch (m_state) {
    case State::Connecting:
        return m_progress.attempts > 0 ? tr("Punching, attempt %1").arg(m_progress.attempts)
                                       : tr("Punching");
    case State::Connected:
        return m_rttMs >= 0
            ? tr("Connected to %1 (%2, %3 ms)")
                  .arg(peerName(), pathName(m_connection.path))
                  .arg(m_rttMs)
            : tr("Connected to %1 (%2)").arg(peerName(), pathName(m_connection.path));
    case State::Reconnecting:
        return m_progress.attempts > 0 ? tr("Reconnecting, attempt %1").arg(m_progress.attempts)
                                       : tr("Reconnecting");
    default:
        return headline();
    }
}

ConnectionStatus::Tone ConnectionStatus::tone() const
{
    switch (m_state) {
    case State::Idle:
    case State::Ready:
    case State::Disconnected:
        return Tone::Idle;
    case State::Discovering:
    case State::Connecting:
    case State::Securing:
        return Tone::Busy;
    case State::Connected:
        return Tone::Good;
    case State::Reconnecting:
        return Tone::Warning;
    case State::Failed:
        return Tone::Bad;
    }
    return Tone::Idle;
}

QString ConnectionStatus::iconName() const
{
    switch (tone()) {
    case Tone::Idle:
        return m_state == State::Ready ? QStringLiteral("status-info")
                                       : QStringLiteral("status-idle");
    case Tone::Busy:
        return QStringLiteral("status-busy");
    case Tone::Good:
        return QStringLiteral("status-ok");
    case Tone::Warning:
        return QStringLiteral("status-warning");
    case Tone::Bad:
        return QStringLiteral("status-error");
    }
    return QString();
}

QString ConnectionStatus::advice(const Error &error)
{
    switch (error.code) {
    case ErrorCode::BadCode:
        return tr("Copy your friend's code again, in full, or type addresses as host:port.");
    case ErrorCode::CodeChecksum:
        return tr(
            "A character was changed or lost on the way: ask your friend to send the code again.");
    case ErrorCode::CodeVersion:
        return tr("Your friend has a newer Punchline: update yours.");
    case ErrorCode::PortInUse:
        return tr("Another program uses this port: choose another one (or Automatic) in Settings.");
    case ErrorCode::SocketError:
        return tr("Check that the network is up, then restart Punchline.");
    case ErrorCode::StunFailed:
    case ErrorCode::IpEchoFailed:
    case ErrorCode::NoPublicAddress:
        return tr(
            "Only your local addresses are known: connecting works on the same network; over the "
            "Internet check the STUN servers in Settings.");
    case ErrorCode::SymmetricNat:
        return tr("Try from another network (a phone hotspot often works), or ask your friend to "
                  "connect to you while you wait.");
    case ErrorCode::ConnectTimeout:
        return tr(
            "Check that your friend pressed Connect with your current code at about the same time, "
            "then try again.");
    case ErrorCode::NotPunchline:
        return tr("Something answered at that address but it is not Punchline: check the address.");
    case ErrorCode::PeerIdentityMismatch:
        return tr("Someone other than your friend answered. Ask your friend for a fresh code.");
    case ErrorCode::ConnectedToSelf:
        return tr("Paste your friend's code, not your own.");
    case ErrorCode::TlsError:
    case ErrorCode::ProtocolError:
        return tr("Try again; if it keeps failing, make sure both of you have the same Punchline "
                  "version.");
    case ErrorCode::PeerLost:
    case ErrorCode::ReconnectTimeout:
        return tr("Reconnect from your conversations once your friend is back online, or ask for a "
                  "new code.");
    case ErrorCode::IdentityError:
        return tr("Check the profile folder's permissions; Punchline never replaces a damaged "
                  "identity by itself.");
    case ErrorCode::DiskFull:
        return tr("Free some disk space or choose another download folder, then send again.");
    case ErrorCode::FileError:
        return tr("Check that the file or folder still exists and can be read or written.");
    default:
        return QString();
    }
}

} // namespace Punchline
