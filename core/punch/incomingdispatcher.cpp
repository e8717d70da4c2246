#include "incomingdispatcher.h"

#include "common/logging.h"
#include "net/nativesocket.h"
#include "preamble.h"

#include <QSslSocket>

namespace Punchline {

struct IncomingDispatcher::Pending
{
    QSslSocket *socket = nullptr;
    QString source;
    QTimer timeout;
};

IncomingDispatcher::IncomingDispatcher(const QByteArray &ourFingerprint, QObject *parent)
    : IncomingDispatcher(ourFingerprint, Limits {}, parent)
{
}

IncomingDispatcher::IncomingDispatcher(
    const QByteArray &ourFingerprint, const Limits &limits, QObject *parent)
    : QObject(parent)
    , m_ourFingerprint(ourFingerprint)
    , m_limits(limits)
{
    m_summaryTimer.setSingleShot(true);
    connect(&m_summaryTimer, &QTimer::timeout, this, &IncomingDispatcher::flushSummary);
}

IncomingDispatcher::~IncomingDispatcher()
{
    const auto pending = m_pending;
    m_pending.clear();
    for (Pending *p : pending) {
        p->socket->disconnect(this);
        p->socket->abort();
        delete p->socket;
        delete p;
    }
}

namespace {

// QAbstractSocket's peer setters are protected; a bridged descriptor has no address of its own.
class RelayedSocket : public QSslSocket
{
public:
    using QSslSocket::QSslSocket;
    void setRemote(const Endpoint &remote)
    {
        setPeerAddress(remote.address);
        setPeerPort(remote.port);
    }
};

} // namespace

void IncomingDispatcher::addConnection(qintptr fd)
{
    add(fd, std::nullopt);
}

void IncomingDispatcher::addRelayedConnection(qintptr fd, const Endpoint &remote)
{
    add(fd, remote);
}

void IncomingDispatcher::add(qintptr fd, const std::optional<Endpoint> &remote)
{
    auto *socket = new RelayedSocket(this);
    // Unbuffered: read exactly the preamble, never a byte of what follows (nomination, TLS).
    if (!socket->setSocketDescriptor(
            fd, QAbstractSocket::ConnectedState, QIODevice::ReadWrite | QIODevice::Unbuffered)) {
        Net::closeFd(fd);
        delete socket;
        return;
    }
    if (remote)
        socket->setRemote(*remote);
    const QString source = normalizedAddress(socket->peerAddress()).toString();
    if (m_pending.size() >= m_limits.maxTotal
        || m_perSource.value(source) >= m_limits.maxPerSource) {
        socket->abort();
        delete socket;
        noteStranger(QStringLiteral("too many unauthenticated connections (from %1)").arg(source));
        return;
    }
    socket->setSocketOption(QAbstractSocket::LowDelayOption, 1);
    auto *p = new Pending;
    p->socket = socket;
    p->source = source;
    m_pending.append(p);
    ++m_perSource[source];
    p->timeout.setSingleShot(true);
    connect(&p->timeout, &QTimer::timeout, this, [this, p] {
        drop(p, QStringLiteral("%1 sent no Punchline preamble in time").arg(p->source));
    });
    connect(socket, &QSslSocket::readyRead, this, [this, p] { onReadable(p); });
    connect(socket, &QSslSocket::disconnected, this,
        [this, p] { drop(p, QStringLiteral("%1 closed before its preamble").arg(p->source)); });
    connect(socket, &QSslSocket::errorOccurred, this, [this, p](QAbstractSocket::SocketError) {
        drop(p, QStringLiteral("%1: %2").arg(p->source, p->socket->errorString()));
    });
    // Ours is not sent here: only whoever takes the connection answers (a peer that got our
    // preamble would nominate the connection, and a stranger learns nothing from a port scan).
    p->timeout.start(m_limits.preambleTimeoutMs);
    if (socket->bytesAvailable() > 0)
        onReadable(p);
}

void IncomingDispatcher::onReadable(Pending *p)
{
    if (!m_pending.contains(p))
        return;
    QSslSocket *s = p->socket;
    if (s->bytesAvailable() < Preamble::Size) {
        Error e;
        if (!Preamble::checkStart(s->peek(8), &e))
            drop(p, QStringLiteral("%1: %2").arg(p->source, e.message));
        return;
    }
    QByteArray fp;
    Error e;
    if (!Preamble::decode(s->read(Preamble::Size), &fp, &e)) {
        drop(p, QStringLiteral("%1: %2").arg(p->source, e.message));
        return;
    }
    if (fp == m_ourFingerprint) {
        // One of our own addresses leads back to us: not a stranger, not a friend.
        release(p);
        s->abort();
        s->deleteLater();
        return;
    }
    release(p);
    s->setParent(nullptr);
    Q_EMIT arrived(s, fp);
}

void IncomingDispatcher::release(Pending *p)
{
    m_pending.removeOne(p);
    if (--m_perSource[p->source] <= 0)
        m_perSource.remove(p->source);
    p->socket->disconnect(this);
    delete p;
}

void IncomingDispatcher::drop(Pending *p, const QString &detail)
{
    if (!m_pending.contains(p))
        return;
    QSslSocket *s = p->socket;
    release(p);
    s->abort();
    s->deleteLater();
    noteStranger(detail);
}

void IncomingDispatcher::noteStranger(const QString &detail)
{
    qCDebug(lcPunch).noquote() << "stranger dropped:" << detail;
    ++m_dropped;
    ++m_droppedTotal;
    m_lastDetail = detail;
    if (!m_summaryTimer.isActive()) {
        // The first one of a quiet period is reported at once; the rest of the interval is
        // summed up at its end.
        flushSummary();
        m_summaryTimer.start(m_limits.summaryIntervalMs);
    }
}

void IncomingDispatcher::flushSummary()
{
    if (m_dropped == 0)
        return;
    const int seconds = qMax(1, m_limits.summaryIntervalMs / 1000);
    const QString summary = m_dropped == 1
        ? QStringLiteral("a connection from a stranger was dropped (%1)").arg(m_lastDetail)
        : QStringLiteral("%1 connections from strangers dropped in the last %2 s (last: %3)")
              .arg(m_dropped)
              .arg(seconds)
              .arg(m_lastDetail);
    const int count = m_dropped;
    m_dropped = 0;
    Q_EMIT logLine(summary);
    Q_EMIT strangersDropped(count, summary);
}

} // namespace Punchline
