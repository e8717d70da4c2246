#include "session.h"

#include "common/logging.h"
#include "common/textfilter.h"
#include "session/link.h"
#include "session/transferhandler.h"

#include <QDateTime>
#include <QRandomGenerator>
#include <QThread>
#include <QUuid>

// Sessions, links and sockets belong to the network thread; the UI reaches them only through the
// engine's queued calls.
#define ASSERT_OWN_THREAD() Q_ASSERT(QThread::currentThread() == thread())

namespace Punchline {

namespace {

constexpr int MaxSeenIds = 10000;
constexpr int MaxPingsInFlight = 16;

QByteArray randomBytes(int n)
{
    QByteArray out(n, Qt::Uninitialized);
    QRandomGenerator::system()->fillRange(reinterpret_cast<quint32 *>(out.data()), n / 4);
    return out;
}

QString typeName(quint16 type)
{
    return QStringLiteral("0x%1").arg(type, 4, 16, QLatin1Char('0'));
}

} // namespace

Session::Session(const SessionConfig &config, QObject *parent)
    : QObject(parent)
    , m_config(config)
    , m_sessionId(randomBytes(Limits::SessionIdBytes))
{
    m_clock.start();
    m_helloTimer.setSingleShot(true);
    connect(&m_helloTimer, &QTimer::timeout, this, [this] {
        failLink({ ErrorCode::PeerLost,
            QStringLiteral("the other side did not greet within %1 s")
                .arg(m_config.helloTimeoutMs / 1000.0) });
    });
    connect(&m_pingTimer, &QTimer::timeout, this, &Session::onPingTimer);
    m_renameTimer.setSingleShot(true);
    m_renameTimer.setInterval(RenameIntervalMs);
    connect(&m_renameTimer, &QTimer::timeout, this, [this] {
        if (m_peerHello.displayName.isEmpty() || m_peerHello.displayName == m_announcedPeerName)
            return;
        m_announcedPeerName = m_peerHello.displayName;
        Q_EMIT peerRenamed(m_announcedPeerName);
    });
    connect(&m_silenceTimer, &QTimer::timeout, this, &Session::onSilenceCheck);
    m_checkTimer.setSingleShot(true);
    connect(&m_checkTimer, &QTimer::timeout, this, [this] {
        // Any frame after the check began is an answer, however late this deadline is handled.
        if (m_established && m_sinceLastFrame.nsecsElapsed() >= m_checkStarted.nsecsElapsed())
            failLink({ ErrorCode::PeerLost,
                QStringLiteral("no answer from your friend within %1 s of a check: the "
                               "connection is lost")
                    .arg(m_checkTimer.interval() / 1000.0) });
    });
    setKeepalive(m_config.keepaliveIntervalMs, m_config.peerSilentLimitMs);
}

Session::~Session()
{
    detachLink();
    setTransferHandler(nullptr);
}

void Session::setKeepalive(int intervalMs, int silentLimitMs)
{
    m_config.keepaliveIntervalMs = qMax(10, intervalMs);
    m_config.peerSilentLimitMs = qMax(m_config.keepaliveIntervalMs, silentLimitMs);
    m_pingTimer.setInterval(m_config.keepaliveIntervalMs);
    m_silenceTimer.setInterval(qBound(10, m_config.peerSilentLimitMs / 4, 1000));
}

QByteArray Session::helloPayload() const
{
    HelloMessage hello;
    hello.displayName = m_config.displayName;
    hello.capabilities = m_config.capabilities;
    hello.sessionId = m_sessionId;
    hello.version = m_config.protocolVersion;
    hello.minVersion = m_config.minProtocolVersion;
    return encodeHello(hello);
}

void Session::attachLink(Link *link, bool helloSent)
{
    m_rendezvousOnLink = false;
    ASSERT_OWN_THREAD();
    detachLink();
    if (!link || !link->isOpen())
        return;
    m_link = link;
    m_attached = link;
    m_established = false;
    m_doneSent = false;
    m_peerDone = false;
    m_pingsInFlight.clear();
    m_peerQueued = 0;
    m_sendBudget.reset();
    m_bulkHanded = 0;
    m_unsentLimit = 0;
    // Before the peer's hello is accepted nothing large may arrive (KDE Connect's lesson).
    link->setMaxPayload(Limits::PreHelloMaxPayload);
    connect(link, &Link::frameReceived, this, &Session::onFrame);
    connect(link, &Link::writable, this, &Session::pump);
    connect(link, &Link::closed, this, [this, link](const Error &why) {
        if (m_link != link)
            return;
        failLink(why.isError()
                ? why
                : Error { ErrorCode::PeerLost, QStringLiteral("the link was closed") });
    });
    // Deleted while attached (instead of closed, then deleted): same as lost. By now m_link
    // (a QPointer) is already null, so the raw pointer tells whether it was ours.
    connect(link, &QObject::destroyed, this, [this](QObject *gone) {
        if (gone != m_attached)
            return;
        detachLink();
        Q_EMIT linkLost({ ErrorCode::PeerLost, QStringLiteral("the link went away") });
    });
    if (!helloSent) // else it went with the TLS server's flight (0.5-RTT data)
        link->sendFrame(FrameType::Hello, helloPayload());
    m_sinceLastFrame.start();
    m_helloTimer.start(m_config.helloTimeoutMs);
    qCDebug(lcSession).noquote() << "attached" << link->describe();
}

void Session::detachLink()
{
    m_helloTimer.stop();
    m_pingTimer.stop();
    m_silenceTimer.stop();
    m_checkTimer.stop();
    const bool wasUp = m_transfersUp;
    m_transfersUp = false;
    m_established = false;
    if (m_link)
        m_link->disconnect(this);
    m_link = nullptr;
    m_attached = nullptr;
    if (wasUp && m_transfers)
        m_transfers->onLinkDown();
}

void Session::failLink(const Error &why)
{
    QPointer<Link> link = m_link;
    if (!link)
        return;
    qCInfo(lcSession).noquote() << "link lost:" << why.message;
    detachLink();
    if (link)
        link->close(why);
    Q_EMIT linkLost(why);
}

void Session::protocolError(const QString &message)
{
    failLink({ ErrorCode::ProtocolError, message });
}

void Session::reset()
{
    ASSERT_OWN_THREAD();
    detachLink();
    m_outbox.clear();
    m_seen.clear();
    m_seenOrder.clear();
    m_peerSessionId.clear();
    m_peerHello = HelloMessage();
    m_version = 0;
    m_doneRequested = false;
    m_allDoneEmitted = false;
}

void Session::onFrame(quint16 type, const QByteArray &payload)
{
    // Before the hello nothing is answered, and what the hello makes us send (the outbox) is
    // ours, not the peer's.
    const QPointer<Link> link = m_link;
    if (!m_established || !link) {
        dispatchFrame(type, payload);
        return;
    }
    // The link sends in order, so no more of our answers can still wait in it than it holds
    // in all: the bound tightens whenever the peer reads.
    const qint64 before = link->pendingBytes();
    m_peerQueued = qMin(m_peerQueued, before);
    const QPointer<Session> self(this);
    dispatchFrame(type, payload);
    if (!self || !link || m_link != link || !m_established)
        return;
    m_peerQueued += qMax<qint64>(0, link->pendingBytes() - before);
    if (m_peerQueued > MaxPeerQueuedBytes)
        protocolError(QStringLiteral("the other side does not read what it asks for (%1 KiB of "
                                     "answers to it are waiting)")
                          .arg(m_peerQueued / 1024));
}

void Session::dispatchFrame(quint16 type, const QByteArray &payload)
{
    m_sinceLastFrame.start();
    if (!m_established) {
        if (type == FrameType::Hello)
            onHello(payload);
        else if (type == FrameType::Bye)
            onBye(payload);
        else
            protocolError(QStringLiteral("the other side sent frame type %1 before its hello")
                              .arg(typeName(type)));
        return;
    }
    switch (type) {
    case FrameType::Hello:
        protocolError(QStringLiteral("the other side said hello twice"));
        return;
    case FrameType::Ping:
        onPing(payload);
        return;
    case FrameType::Pong:
        onPong(payload);
        return;
    case FrameType::Chat:
        onChat(payload);
        return;
    case FrameType::ChatAck:
        onChatAck(payload);
        return;
    case FrameType::Done: {
        Error error;
        if (!decodeDone(payload, &error)) {
            protocolError(error.message);
            return;
        }
        m_peerDone = true;
        maybeSendDone();
        maybeFinishDone();
        return;
    }
    case FrameType::Bye:
        onBye(payload);
        return;
    case FrameType::Rendezvous: {
        Error error;
        const auto contribution = decodeRendezvous(payload, &error);
        if (!contribution) {
            protocolError(error.message);
            return;
        }
        // One per link: a peer repeating it (or alternating values) changes nothing more, so it
        // cannot make us rewrite the known-peers file per frame.
        if (m_rendezvousOnLink)
            return;
        m_rendezvousOnLink = true;
        if (*contribution != m_peerRendezvous) {
            m_peerRendezvous = *contribution;
            Q_EMIT rendezvousReceived(*contribution);
        }
        return;
    }
    case FrameType::Profile: {
        Error error;
        const auto name = decodeProfile(payload, &error);
        if (!name) {
            protocolError(error.message);
            return;
        }
        if (!name->isEmpty() && *name != m_peerHello.displayName) {
            m_peerHello.displayName = *name;
            if (!m_renameTimer.isActive())
                m_renameTimer.start();
        }
        return;
    }
    default:
        break;
    }
    if (FrameType::isTransfer(type)) {
        if (m_transfers) {
            m_transfers->handleFrame(type, payload);
            maybeSendDone();
            maybeFinishDone();
        }
        return;
    }
    // A frame type from a newer Punchline: skipped, so new features can be added.
    qCDebug(lcSession) << "skipping unknown frame type" << typeName(type);
}

void Session::onHello(const QByteArray &payload)
{
    Error error;
    const auto hello = decodeHello(payload, &error);
    if (!hello) {
        protocolError(error.message);
        return;
    }
    // No downgrade: a peer that cannot speak our minimum is refused, not accommodated.
    if (hello->version < m_config.minProtocolVersion) {
        protocolError(
            QStringLiteral("your friend's Punchline is too old (protocol %1, this one needs %2 or "
                           "newer): ask them to update")
                .arg(hello->version)
                .arg(m_config.minProtocolVersion));
        return;
    }
    if (hello->minVersion > m_config.protocolVersion) {
        protocolError(
            QStringLiteral("your friend's Punchline is newer and no longer speaks protocol %1: "
                           "update Punchline")
                .arg(m_config.protocolVersion));
        return;
    }
    m_version = qMin(hello->version, m_config.protocolVersion);
    const bool resumed = !m_peerSessionId.isEmpty() && m_peerSessionId == hello->sessionId;
    if (!m_peerSessionId.isEmpty() && !resumed)
        qCInfo(lcSession) << "the peer restarted since the last link (new session id)";
    m_peerSessionId = hello->sessionId;
    m_peerHello = *hello;
    m_established = true;
    m_helloTimer.stop();
    m_link->setMaxPayload(Limits::MaxPayload);
    m_sinceLastFrame.start();
    m_pingTimer.start();
    m_silenceTimer.start();

    const QPointer<Session> self(this);
    const QPointer<Link> link = m_link;
    sendPing(); // a first RTT at once
    if (!m_rendezvous.isEmpty())
        m_link->sendFrame(FrameType::Rendezvous, encodeRendezvous(m_rendezvous));
    for (const Outgoing &message : std::as_const(m_outbox))
        sendChatFrame(message);
    if (m_transfers) {
        m_transfersUp = true;
        m_transfers->setPeerCapabilities(m_peerHello.capabilities);
        m_transfers->onLinkUp();
        if (!self || m_link != link)
            return;
    }
    qCInfo(lcSession).noquote() << "established with" << hello->displayName << "protocol"
                                << m_version << (resumed ? "(resumed)" : "");
    m_announcedPeerName = hello->displayName;
    Q_EMIT established(hello->displayName, resumed);
    if (!self || m_link != link || !m_established)
        return;
    maybeSendDone();
    schedulePump();
}

void Session::onChat(const QByteArray &payload)
{
    Error error;
    const auto chat = decodeChat(payload, &error);
    if (!chat) {
        protocolError(error.message);
        return;
    }
    // Every copy is acknowledged: the first ack may have been lost with the old link.
    m_link->sendFrame(FrameType::ChatAck, encodeChatAck({ chat->id }));
    if (m_seen.contains(chat->id))
        return;
    rememberSeen(chat->id);
    m_peerDone = false; // the peer is active again; it sends a new Done when it is done
    ChatMessage message;
    message.id = chat->id;
    message.text = sanitizeChatText(chat->text);
    const qint64 now = QDateTime::currentMSecsSinceEpoch();
    // The sender's time (when it was typed, maybe during a cut), unless its clock is far ahead.
    message.time = QDateTime::fromMSecsSinceEpoch(
        chat->timestampMs > now + qint64(24) * 3600 * 1000 ? now : chat->timestampMs, Qt::UTC);
    message.outgoing = false;
    message.delivered = true;
    Q_EMIT chatReceived(message);
}

void Session::rememberSeen(const QString &id)
{
    m_seen.insert(id);
    m_seenOrder.push_back(id);
    while (m_seenOrder.size() > size_t(MaxSeenIds)) {
        m_seen.remove(m_seenOrder.front());
        m_seenOrder.pop_front();
    }
}

void Session::onChatAck(const QByteArray &payload)
{
    Error error;
    const auto ack = decodeChatAck(payload, &error);
    if (!ack) {
        protocolError(error.message);
        return;
    }
    for (qsizetype i = 0; i < m_outbox.size(); ++i) {
        if (m_outbox.at(i).id == ack->id) {
            m_outbox.removeAt(i);
            const QPointer<Session> self(this);
            Q_EMIT chatDelivered(ack->id);
            if (self) {
                maybeSendDone();
                maybeFinishDone();
            }
            return;
        }
    }
    // An ack for a message already acknowledged (a resend crossed the first ack): nothing to do.
}

void Session::onPing(const QByteArray &payload)
{
    Error error;
    const auto ping = decodePing(payload, &error);
    if (!ping) {
        protocolError(error.message);
        return;
    }
    m_link->sendFrame(FrameType::Pong, encodePing(*ping));
}

void Session::onPong(const QByteArray &payload)
{
    Error error;
    const auto pong = decodePing(payload, &error);
    if (!pong) {
        protocolError(error.message);
        return;
    }
    const auto it = m_pingsInFlight.constFind(pong->nonce);
    if (it == m_pingsInFlight.constEnd() || it.value() != pong->timeMs)
        return; // not ours, or from before a link change
    m_pingsInFlight.erase(it);
    Q_EMIT rttMeasured(int(qMin<qint64>(m_clock.elapsed() - pong->timeMs, INT_MAX)));
}

void Session::onBye(const QByteArray &payload)
{
    Error error;
    const auto bye = decodeBye(payload, &error);
    const QString reason = bye ? bye->reason : QString();
    failLink({ ErrorCode::PeerClosed,
        reason.isEmpty() ? QStringLiteral("your friend closed the connection")
                         : QStringLiteral("your friend closed the connection (%1)").arg(reason) });
}

void Session::onPingTimer()
{
    if (!m_established)
        return;
    sendPing();
    maybeSendDone();
    maybeFinishDone();
}

void Session::onSilenceCheck()
{
    if (!m_established)
        return;
    if (m_sinceLastFrame.elapsed() > m_config.peerSilentLimitMs) {
        failLink({ ErrorCode::PeerLost,
            QStringLiteral("no sign of life from your friend for %1 s: the "
                           "connection is lost")
                .arg(m_config.peerSilentLimitMs / 1000.0) });
        return;
    }
    // Transfers have no "became idle" callback: the done handshake polls them here.
    maybeSendDone();
    maybeFinishDone();
}

void Session::checkAlive(int withinMs)
{
    if (!m_established || !m_link || m_checkTimer.isActive())
        return;
    m_checkStarted.start();
    sendPing();
    m_checkTimer.start(qMax(1, withinMs));
}

void Session::sendPing()
{
    if (!m_link)
        return;
    PingMessage ping;
    ping.nonce = QRandomGenerator::global()->generate64() >> 2;
    ping.timeMs = m_clock.elapsed();
    if (m_pingsInFlight.size() >= MaxPingsInFlight)
        m_pingsInFlight.clear(); // unanswered for a long time: the silence check will act
    m_pingsInFlight.insert(ping.nonce, ping.timeMs);
    m_link->sendFrame(FrameType::Ping, encodePing(ping));
}

QString Session::sendChat(const QString &text, Error *error)
{
    const QString id = QUuid::createUuid().toString(QUuid::WithoutBraces);
    return sendChat(id, text, error) ? id : QString();
}

bool Session::sendChat(const QString &id, const QString &text, Error *error)
{
    ASSERT_OWN_THREAD();
    const auto refuse = [error](const QString &why) {
        if (error)
            *error = { ErrorCode::BadUsage, why };
        return false;
    };
    if (!isValidChatId(id))
        return refuse(QStringLiteral("a message id must be 1 to 36 letters, digits or '-'"));
    for (const Outgoing &o : std::as_const(m_outbox)) {
        if (o.id == id)
            return refuse(QStringLiteral("a message with this id is already waiting"));
    }
    if (text.trimmed().isEmpty())
        return refuse(QStringLiteral("the message is empty"));
    if (text.toUtf8().size() > Limits::ChatTextBytes)
        return refuse(QStringLiteral("the message is longer than %1 KiB: send it as a file")
                          .arg(Limits::ChatTextBytes / 1024));
    Outgoing message { id, QDateTime::currentMSecsSinceEpoch(), text };
    m_outbox.append(message);
    m_doneSent = false; // a new Done follows once this one is acknowledged
    if (m_established)
        sendChatFrame(message);
    return true;
}

void Session::sendChatFrame(const Outgoing &message)
{
    if (m_link)
        m_link->sendFrame(
            FrameType::Chat, encodeChat({ message.id, message.timestampMs, message.text }));
}

QList<ChatMessage> Session::pendingMessages() const
{
    QList<ChatMessage> out;
    for (const Outgoing &o : m_outbox)
        out.append(ChatMessage {
            o.id, o.text, QDateTime::fromMSecsSinceEpoch(o.timestampMs, Qt::UTC), true, false });
    return out;
}

void Session::requestDone()
{
    ASSERT_OWN_THREAD();
    m_doneRequested = true;
    maybeSendDone();
}

bool Session::transfersIdle() const
{
    return !m_transfers || m_transfers->isIdle();
}

void Session::maybeSendDone()
{
    if (!m_established || !m_link || !m_doneRequested || m_doneSent || !m_outbox.isEmpty()
        || !transfersIdle())
        return;
    m_doneSent = true;
    m_link->sendFrame(FrameType::Done, encodeDone());
    maybeFinishDone();
}

void Session::maybeFinishDone()
{
    if (m_allDoneEmitted || !m_established || !m_doneSent || !m_peerDone || !m_outbox.isEmpty()
        || !transfersIdle())
        return;
    m_allDoneEmitted = true;
    qCInfo(lcSession) << "both sides done";
    Q_EMIT allDone();
}

void Session::setDisplayName(const QString &name)
{
    if (name == m_config.displayName)
        return;
    m_config.displayName = name;
    if (m_established && m_link)
        m_link->sendFrame(FrameType::Profile, encodeProfile(name));
}

void Session::setRendezvousContribution(const QByteArray &contribution)
{
    if (contribution == m_rendezvous)
        return;
    m_rendezvous = contribution;
    if (m_established && m_link && !m_rendezvous.isEmpty())
        m_link->sendFrame(FrameType::Rendezvous, encodeRendezvous(m_rendezvous));
}

void Session::sendBye(const QString &reason)
{
    if (m_link && m_link->isOpen())
        m_link->sendFrame(FrameType::Bye, encodeBye({ reason }));
}

void Session::close(const QString &reason)
{
    ASSERT_OWN_THREAD();
    QPointer<Link> link = m_link;
    if (!link)
        return;
    sendBye(reason);
    detachLink();
    if (link)
        link->close({ ErrorCode::None, QStringLiteral("closed on purpose") });
}

void Session::setTransferHandler(TransferHandler *handler)
{
    ASSERT_OWN_THREAD();
    if (m_transfers) {
        if (m_transfersUp)
            m_transfers->onLinkDown();
        m_transfers->setSendControl({});
        m_transfers->bulkAvailable = {};
    }
    m_transfersUp = false;
    m_transfers = handler;
    if (!handler)
        return;
    handler->setSendControl(
        [this](quint16 type, const QByteArray &payload) { sendTransferControl(type, payload); });
    handler->bulkAvailable = [this] { schedulePump(); };
    if (m_established) {
        m_transfersUp = true;
        handler->setPeerCapabilities(m_peerHello.capabilities);
        handler->onLinkUp();
        schedulePump();
    }
}

void Session::sendTransferControl(quint16 type, const QByteArray &payload)
{
    if (!FrameType::isTransfer(type) || payload.size() > Limits::MaxPayload) {
        qCWarning(lcSession) << "transfer handler sent a bad frame, type" << typeName(type)
                             << "size" << payload.size();
        return;
    }
    // While no link is up the frame is dropped: the handler resends its state after onLinkUp().
    if (m_established && m_link)
        m_link->sendFrame(type, payload);
}

void Session::schedulePump()
{
    if (m_pumpScheduled)
        return;
    m_pumpScheduled = true;
    QMetaObject::invokeMethod(
        this,
        [this] {
            m_pumpScheduled = false;
            pump();
        },
        Qt::QueuedConnection);
}

void Session::pump()
{
    if (m_pumping || !m_established || !m_transfers)
        return;
    m_pumping = true;
    const QPointer<Session> self(this);
    bool backlogged = true; // the budget, not the transfer, ended the loop
    while (self && m_established && m_link && m_link->isOpen()
        && m_link->pendingBytes() < qMin(BulkLowWaterMark, m_sendBudget.bytes())) {
        auto frame = m_transfers->nextBulkFrame();
        if (!self || !frame) {
            backlogged = false;
            break;
        }
        if (!FrameType::isTransfer(frame->first) || frame->second.size() > Limits::MaxPayload) {
            qCWarning(lcSession) << "transfer handler produced a bad bulk frame, type"
                                 << typeName(frame->first) << "size" << frame->second.size();
            continue;
        }
        if (m_link) {
            m_link->sendFrame(frame->first, frame->second);
            m_bulkHanded += frame->second.size();
        }
    }
    if (!self)
        return;
    m_pumping = false;
    updateSendBudget(backlogged);
    maybeSendDone();
    maybeFinishDone();
}

void Session::updateSendBudget(bool backlogged)
{
    if (!m_link || !m_established)
        return;
    const qint64 drained = m_bulkHanded - qMin(m_bulkHanded, m_link->pendingBytes());
    m_sendBudget.update(drained, m_clock.nsecsElapsed() / 1000, backlogged);
    // The kernel's unsent bytes wait ahead of a chat line too: the same budget, asked again
    // only when it moved by a quarter (one system call, not one per frame).
    const qint64 budget = m_sendBudget.bytes();
    if (m_unsentLimit == 0 || qAbs(budget - m_unsentLimit) * 4 > m_unsentLimit) {
        m_unsentLimit = budget;
        m_link->setUnsentLimit(budget);
    }
}

} // namespace Punchline
