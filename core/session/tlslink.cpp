#include "tlslink.h"

#include <QElapsedTimer>

#include "common/logging.h"
#include "net/nativesocket.h"

#include <QSslSocket>

namespace Punchline {

namespace {
constexpr qint64 ReadChunk = qint64(64) * 1024; // bounds the decoder's buffer per turn
constexpr int CloseGraceMs = 3000;
constexpr int OrphanLimitMs = 5000; // see close()
} // namespace

TlsLink::TlsLink(QSslSocket *socket, QObject *parent)
    : Link(parent)
    , m_socket(socket)
    , m_decoder(FrameDecoder::DefaultMaxPayload)
{
    Q_ASSERT(socket);
    socket->setParent(this);
    // Bound Qt's own decrypted-data buffer too: we read in chunks and the peer waits when full.
    // Large enough that one pass of the event loop takes what the kernel holds (file data goes
    // to the transfer queue, so a chat frame behind it is reached at once).
    socket->setReadBufferSize(16 * ReadChunk);
    m_description = QStringLiteral("tls %1:%2 -> %3:%4")
                        .arg(normalizedAddress(socket->localAddress()).toString())
                        .arg(socket->localPort())
                        .arg(normalizedAddress(socket->peerAddress()).toString())
                        .arg(socket->peerPort());
    connect(socket, &QSslSocket::readyRead, this, &TlsLink::onReadyRead);
    connect(socket, &QSslSocket::bytesWritten, this, &TlsLink::onBytesWritten);
    connect(socket, &QSslSocket::encryptedBytesWritten, this, &TlsLink::onBytesWritten);
    connect(socket, &QSslSocket::disconnected, this, &TlsLink::onDisconnected);
    connect(socket, &QSslSocket::errorOccurred, this, &TlsLink::onSocketError);
    m_closeTimer.setSingleShot(true);
    connect(&m_closeTimer, &QTimer::timeout, this, [this] {
        if (m_socket)
            m_socket->abort();
    });
    if (socket->state() != QAbstractSocket::ConnectedState || !socket->isEncrypted()) {
        finish(Error { ErrorCode::Internal,
            QStringLiteral("the connection was not secured when handed over") });
        return;
    }
    QMetaObject::invokeMethod(this, &TlsLink::onReadyRead, Qt::QueuedConnection);
}

TlsLink::~TlsLink()
{
    if (m_socket) {
        m_socket->disconnect(this);
        m_socket->abort();
    }
}

QString TlsLink::describe() const
{
    return m_description;
}

void TlsLink::sendFrame(quint16 type, const QByteArray &payload)
{
    if (!m_open || !m_socket)
        return;
    m_socket->write(encodeFrame(type, payload));
}

qint64 TlsLink::pendingBytes() const
{
    if (!m_socket)
        return 0;
    return m_socket->bytesToWrite() + m_socket->encryptedBytesToWrite();
}

void TlsLink::setUnsentLimit(qint64 bytes)
{
    if (m_socket && m_socket->socketDescriptor() >= 0)
        Net::setNotSentLowWater(
            m_socket->socketDescriptor(), int(qBound(qint64(1), bytes, qint64(INT_MAX))));
}

void TlsLink::onReadyRead()
{
    const QPointer<TlsLink> self(this);
    Frame frame;
    Error error;
    while (m_open && m_socket && m_socket->bytesAvailable() > 0) {
        m_decoder.append(m_socket->read(ReadChunk));
        for (;;) {
            const FrameDecoder::Status status = m_decoder.next(&frame, &error);
            if (status == FrameDecoder::Status::NeedMore)
                break;
            if (status == FrameDecoder::Status::Error) {
                qCWarning(lcSession).noquote() << m_description << error.message;
                abortNow(error); // a peer that breaks framing gets no more of our time
                return;
            }
            Q_EMIT frameReceived(frame.type, frame.payload);
            if (!self || !m_open)
                return;
        }
    }
}

void TlsLink::onBytesWritten()
{
    if (m_open && pendingBytes() < LowWaterMark)
        Q_EMIT writable();
}

void TlsLink::onDisconnected()
{
    onReadyRead(); // what arrived before the close (a Bye, say) still counts
    finish(
        Error { ErrorCode::PeerLost, QStringLiteral("the connection to your friend was closed") });
}

void TlsLink::onSocketError()
{
    if (!m_socket)
        return;
    const QAbstractSocket::SocketError e = m_socket->error();
    const QPointer<TlsLink> self(this);
    onReadyRead();
    if (!self || !m_socket)
        return;
    Error why;
    switch (e) {
    case QAbstractSocket::RemoteHostClosedError:
        why = { ErrorCode::PeerLost, QStringLiteral("your friend's side closed the connection") };
        break;
    case QAbstractSocket::SslHandshakeFailedError:
    case QAbstractSocket::SslInternalError:
    case QAbstractSocket::SslInvalidUserDataError:
        why = { ErrorCode::TlsError,
            QStringLiteral("the secure connection failed: %1").arg(m_socket->errorString()) };
        break;
    default:
        why = { ErrorCode::PeerLost,
            QStringLiteral("the connection to your friend was lost: %1")
                .arg(m_socket->errorString()) };
        break;
    }
    if (m_open)
        m_socket->abort();
    finish(why);
}

void TlsLink::close(const Error &why)
{
    if (!m_open)
        return;
    if (why.isError()) {
        // Closed because something went wrong (peer silent, protocol error): no graceful FIN
        // that would leave an orphaned socket retransmitting on the very 4-tuple healing punches
        // again; reset at once instead.
        abortNow(why);
        return;
    }
    finish(why);
    if (m_socket) {
        // What the kernel still has to deliver after we let go gets a few seconds, not the
        // minutes an orphaned FIN_WAIT1 socket would hold the 4-tuple behind a dead path.
        if (m_socket->socketDescriptor() >= 0)
            Net::setUnacknowledgedTimeout(m_socket->socketDescriptor(), OrphanLimitMs);
        m_socket->disconnectFromHost(); // flushes, sends close_notify
        if (m_socket->state() != QAbstractSocket::UnconnectedState)
            m_closeTimer.start(CloseGraceMs);
    }
}

void TlsLink::abortNow(const Error &why)
{
    finish(why);
    m_closeTimer.stop();
    if (m_socket && m_socket->state() != QAbstractSocket::UnconnectedState) {
        m_socket->flush();
        if (m_socket->socketDescriptor() >= 0)
            Net::setAbortiveClose(m_socket->socketDescriptor());
        m_socket->abort();
    }
}

void TlsLink::flushAndClose(int timeoutMs, bool resetOnceAcknowledged)
{
    if (!m_socket)
        return;
    QElapsedTimer timer;
    timer.start();
    auto left = [&] { return int(qMax<qint64>(1, timeoutMs - timer.elapsed())); };
    m_socket->flush();
    while (m_socket->state() == QAbstractSocket::ConnectedState && pendingBytes() > 0
        && timer.elapsed() < timeoutMs) {
        if (!m_socket->waitForBytesWritten(left()))
            break;
    }
    // Everything is in the kernel now: if the friend's side acknowledged it, the Bye has
    // arrived and a RST loses nothing (the friend reads what it received before the reset).
    // A graceful close here would leave TIME_WAIT on one side, or on both when the two friends
    // quit at the same moment (a simultaneous close), for a minute.
    const qintptr fd = m_socket->socketDescriptor();
    if (resetOnceAcknowledged && m_socket->state() == QAbstractSocket::ConnectedState
        && pendingBytes() == 0 && fd >= 0
        && Net::setAbortiveCloseOnceAcknowledged(fd, qMin(AcknowledgeWaitMs, left()))) {
        qCDebug(lcSession).noquote() << m_description << "last bytes acknowledged: reset on exit";
        abortNow({ ErrorCode::None, QStringLiteral("closed on exit") });
        return;
    }
    // Not acknowledged in time, or the friend's side reset it already (it read our Bye).
    qCDebug(lcSession).noquote() << m_description << "graceful close on exit";
    close({ ErrorCode::None, QStringLiteral("closed on exit") });
    // disconnectFromHost() only starts the close (close_notify, then FIN once the encrypted
    // bytes are out): wait for it, or the last frames die with the thread.
    if (m_socket && m_socket->state() != QAbstractSocket::UnconnectedState
        && timer.elapsed() < timeoutMs)
        m_socket->waitForDisconnected(left());
}

void TlsLink::finish(const Error &why)
{
    m_open = false;
    if (m_closedEmitted)
        return;
    m_closedEmitted = true;
    qCDebug(lcSession).noquote() << m_description << "closed:" << why.message;
    QMetaObject::invokeMethod(
        this, [this, why] { Q_EMIT closed(why); }, Qt::QueuedConnection);
}

} // namespace Punchline
