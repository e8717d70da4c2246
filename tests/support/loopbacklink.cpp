#include "loopbacklink.h"

#include "common/logging.h"

#include <QMetaObject>

namespace Punchline {

std::pair<LoopbackLink *, LoopbackLink *> LoopbackLink::createPair(const QString &name)
{
    auto *a = new LoopbackLink(name.isEmpty() ? QStringLiteral("a") : name + QStringLiteral("/a"));
    auto *b = new LoopbackLink(name.isEmpty() ? QStringLiteral("b") : name + QStringLiteral("/b"));
    a->m_peer = b;
    b->m_peer = a;
    return { a, b };
}

LoopbackLink::LoopbackLink(const QString &name)
    : m_name(name)
{
}

LoopbackLink::~LoopbackLink()
{
    if (m_peer && m_peer->m_open)
        m_peer->finish(Error {
            ErrorCode::PeerLost, QStringLiteral("the other end of the loopback link went away") });
}

QString LoopbackLink::describe() const
{
    return QStringLiteral("loopback %1").arg(m_name);
}

void LoopbackLink::sendFrame(quint16 type, const QByteArray &payload)
{
    if (!m_open)
        return;
    sendRaw(encodeFrame(type, payload));
}

void LoopbackLink::sendRaw(const QByteArray &bytes)
{
    if (!m_open || m_blackhole)
        return;
    m_wire.append(bytes);
    scheduleFlush();
}

void LoopbackLink::setReading(bool on)
{
    m_reading = on;
    if (on && m_peer)
        m_peer->scheduleFlush();
}

void LoopbackLink::scheduleFlush()
{
    if (m_flushScheduled)
        return;
    m_flushScheduled = true;
    QMetaObject::invokeMethod(this, &LoopbackLink::flush, Qt::QueuedConnection);
}

void LoopbackLink::flush()
{
    m_flushScheduled = false;
    if (!m_open && !m_draining)
        return;
    if (m_peer && !m_peer->m_reading)
        return; // resumed by the peer's setReading(true)
    const qint64 before = pendingBytes();
    const qsizetype n = qsizetype(qMin<qint64>(before, m_bytesPerTick));
    if (n > 0) {
        const QByteArray chunk = m_wire.mid(m_wireOffset, n);
        m_wireOffset += n;
        if (m_wireOffset == m_wire.size()) {
            m_wire.clear();
            m_wireOffset = 0;
        } else if (m_wireOffset > qsizetype(1024) * 1024) {
            m_wire.remove(0, m_wireOffset);
            m_wireOffset = 0;
        }
        if (m_peer)
            m_peer->receive(chunk);
    }
    if (m_draining) {
        if (pendingBytes() > 0 && m_peer && m_peer->m_open) {
            scheduleFlush();
        } else {
            m_draining = false;
            m_wire.clear();
            m_wireOffset = 0;
            if (m_peer)
                m_peer->finish(m_peerWhy);
        }
        return;
    }
    if (!m_open)
        return;
    if (pendingBytes() > 0)
        scheduleFlush();
    if (n > 0 && pendingBytes() < LowWaterMark)
        Q_EMIT writable();
}

void LoopbackLink::receive(QByteArrayView bytes)
{
    if (!m_open)
        return;
    m_decoder.append(bytes);
    QPointer<LoopbackLink> self(this);
    Frame frame;
    Error error;
    for (;;) {
        const FrameDecoder::Status status = m_decoder.next(&frame, &error);
        if (status == FrameDecoder::Status::NeedMore)
            return;
        if (status == FrameDecoder::Status::Error) {
            qCWarning(lcSession).noquote() << describe() << error.message;
            close(error);
            return;
        }
        Q_EMIT frameReceived(frame.type, frame.payload);
        if (!self || !m_open)
            return;
    }
}

void LoopbackLink::close(const Error &why)
{
    if (!m_open)
        return;
    // Like TCP's FIN: what was already sent still arrives, then the other end sees the close.
    m_peerWhy = why.code == ErrorCode::ProtocolError
        ? Error { ErrorCode::PeerLost,
              QStringLiteral("the other side closed the link after a protocol error") }
        : Error { ErrorCode::PeerLost, QStringLiteral("the other side closed the link") };
    m_draining = true;
    scheduleFlush();
    finish(why);
}

void LoopbackLink::finish(const Error &why)
{
    if (!m_open)
        return;
    m_open = false;
    if (!m_draining) {
        m_wire.clear();
        m_wireOffset = 0;
    }
    // Like a socket: closed() comes from the event loop, never from inside close()/sendFrame().
    QMetaObject::invokeMethod(
        this, [this, why] { Q_EMIT closed(why); }, Qt::QueuedConnection);
}

} // namespace Punchline
