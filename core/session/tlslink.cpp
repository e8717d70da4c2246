#include "tlslink.h"

#include "common/logging.h"
#include "net/nativesocket.h"
#include "session/tlshandshake.h"

#include <QElapsedTimer>
#include <QPointer>

#include <cerrno>
#include <cstring>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <sys/socket.h>

namespace Punchline {

namespace {
constexpr int ReadChunk = 64 * 1024;
constexpr int ReadChunksPerTurn = 16; // bounds one pass of the event loop (1 MiB)
constexpr qsizetype WriteChunk = qsizetype(256) * 1024;
constexpr int CloseGraceMs = 3000;
constexpr int OrphanLimitMs = 5000; // see close()
} // namespace

TlsLink::TlsLink(TlsStream *stream, QObject *parent)
    : Link(parent)
    , m_stream(stream)
    , m_decoder(FrameDecoder::DefaultMaxPayload)
{
    Q_ASSERT(stream);
    stream->setParent(this);
    m_description = QStringLiteral("tls %1 -> %2")
                        .arg(stream->localEndpoint().toString(), stream->peerEndpoint().toString());
    connect(stream->readNotifier(), &QSocketNotifier::activated, this, &TlsLink::onReadable);
    connect(stream->writeNotifier(), &QSocketNotifier::activated, this, [this] {
        m_stream->writeNotifier()->setEnabled(false);
        const qint64 before = pendingBytes();
        flush();
        if (m_open && pendingBytes() < before && pendingBytes() < LowWaterMark)
            Q_EMIT writable();
        onReadable(); // a read that wanted to write
    });
    m_closeTimer.setSingleShot(true);
    connect(&m_closeTimer, &QTimer::timeout, this, [this] { m_stream->closeNow(true); });
    if (stream->isClosed() || !stream->ssl() || !SSL_is_init_finished(stream->ssl())) {
        finish(Error { ErrorCode::Internal,
            QStringLiteral("the connection was not secured when handed over") });
        return;
    }
    stream->readNotifier()->setEnabled(true);
    m_readQueued = true;
    QMetaObject::invokeMethod(this, &TlsLink::onReadable, Qt::QueuedConnection);
}

TlsLink::~TlsLink()
{
    if (m_stream)
        m_stream->disconnect(this);
}

QString TlsLink::describe() const
{
    return m_description;
}

int TlsLink::descriptor() const
{
    return m_stream ? m_stream->fd() : -1;
}

void TlsLink::sendFrame(quint16 type, const QByteArray &payload)
{
    if (!m_open || m_stream->isClosed())
        return;
    m_out.append(encodeFrame(type, payload));
    flush();
}

qint64 TlsLink::pendingBytes() const
{
    return m_out.size() - m_outPos;
}

void TlsLink::flush()
{
    if (m_stream->isClosed())
        return;
    SSL *ssl = m_stream->ssl();
    while (m_outPos < m_out.size()) {
        // A retried SSL_write must not ask for fewer bytes than the one that wanted the retry.
        const int len = int(qMax(m_lastWrite, qMin(m_out.size() - m_outPos, WriteChunk)));
        ERR_clear_error();
        const int n = SSL_write(ssl, m_out.constData() + m_outPos, len);
        if (n > 0) {
            m_outPos += n;
            m_lastWrite = 0;
            continue;
        }
        const int err = SSL_get_error(ssl, n);
        if (err == SSL_ERROR_WANT_WRITE || err == SSL_ERROR_WANT_READ) {
            m_lastWrite = len;
            if (err == SSL_ERROR_WANT_WRITE)
                m_stream->writeNotifier()->setEnabled(true);
            break;
        }
        const int saved = errno;
        ERR_clear_error();
        lost({ ErrorCode::PeerLost,
            QStringLiteral("the connection to your friend was lost: %1")
                .arg(QString::fromLocal8Bit(std::strerror(saved))) });
        return;
    }
    if (m_outPos == m_out.size()) {
        m_out.clear();
        m_outPos = 0;
        if (m_closing && !m_shutdownSent)
            startShutdown();
    } else if (m_outPos > WriteChunk * 4 && m_lastWrite == 0) {
        m_out.remove(0, m_outPos);
        m_outPos = 0;
    }
}

void TlsLink::onReadable()
{
    m_readQueued = false;
    if (m_stream->isClosed())
        return;
    const QPointer<TlsLink> self(this);
    SSL *ssl = m_stream->ssl();
    QByteArray buf(ReadChunk, Qt::Uninitialized);
    Frame frame;
    Error error;
    for (int turn = 0;; ++turn) {
        if (turn == ReadChunksPerTurn) {
            // Let the rest of the program run; what is left is read on the next pass (OpenSSL
            // may hold it already, so the notifier alone would not say so).
            if (!m_readQueued) {
                m_readQueued = true;
                QMetaObject::invokeMethod(this, &TlsLink::onReadable, Qt::QueuedConnection);
            }
            return;
        }
        ERR_clear_error();
        const int n = SSL_read(ssl, buf.data(), ReadChunk);
        if (n > 0) {
            if (!m_open)
                continue; // closing: what still comes is not delivered
            m_decoder.append(QByteArrayView(buf.constData(), n));
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
                if (!self || m_stream->isClosed())
                    return;
            }
            continue;
        }
        const int err = SSL_get_error(ssl, n);
        if (err == SSL_ERROR_WANT_READ) {
            ERR_clear_error();
            break;
        }
        if (err == SSL_ERROR_WANT_WRITE) {
            ERR_clear_error();
            m_stream->writeNotifier()->setEnabled(true);
            break;
        }
        const int saved = errno;
        const unsigned long e = ERR_peek_last_error();
        const char *reason = ERR_reason_error_string(e);
        ERR_clear_error();
        if (err == SSL_ERROR_ZERO_RETURN || (err == SSL_ERROR_SYSCALL && saved == 0)
            || ERR_GET_REASON(e) == SSL_R_UNEXPECTED_EOF_WHILE_READING) {
            lost({ ErrorCode::PeerLost,
                QStringLiteral("the connection to your friend was closed") });
        } else if (err == SSL_ERROR_SYSCALL && (saved == ECONNRESET || saved == EPIPE)) {
            lost({ ErrorCode::PeerLost,
                QStringLiteral("your friend's side closed the connection") });
        } else if (err == SSL_ERROR_SYSCALL) {
            lost({ ErrorCode::PeerLost,
                QStringLiteral("the connection to your friend was lost: %1")
                    .arg(QString::fromLocal8Bit(std::strerror(saved))) });
        } else {
            lost({ ErrorCode::TlsError,
                QStringLiteral("the secure connection failed: %1")
                    .arg(QString::fromLatin1(reason ? reason : "TLS error")) });
        }
        return;
    }
    if (m_outPos < m_out.size() && m_lastWrite > 0)
        flush(); // a write that wanted to read first
}

void TlsLink::lost(const Error &why)
{
    m_stream->readNotifier()->setEnabled(false);
    m_stream->writeNotifier()->setEnabled(false);
    if (m_closing) {
        // We were closing anyway: the peer's side has ended too.
        m_closeTimer.stop();
        m_stream->closeNow(false);
    }
    finish(why);
}

void TlsLink::startShutdown()
{
    m_shutdownSent = true;
    ERR_clear_error();
    SSL_shutdown(m_stream->ssl()); // close_notify
    ERR_clear_error();
    ::shutdown(m_stream->fd(), SHUT_WR); // FIN; the peer's end of stream closes the descriptor
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
    if (m_stream->isClosed())
        return;
    // What the kernel still has to deliver after we let go gets a few seconds, not the minutes an
    // orphaned FIN_WAIT1 socket would hold the 4-tuple behind a dead path.
    Net::setUnacknowledgedTimeout(m_stream->fd(), OrphanLimitMs);
    m_closing = true;
    flush();
    if (!m_stream->isClosed())
        m_closeTimer.start(CloseGraceMs);
}

void TlsLink::abortNow(const Error &why)
{
    finish(why);
    m_closeTimer.stop();
    if (!m_stream->isClosed()) {
        flush();
        m_stream->closeNow(true);
    }
}

void TlsLink::setUnsentLimit(qint64 bytes)
{
    if (!m_stream->isClosed())
        Net::setNotSentLowWater(m_stream->fd(), int(qBound(qint64(1), bytes, qint64(INT_MAX))));
}

void TlsLink::flushAndClose(int timeoutMs, bool resetOnceAcknowledged)
{
    if (m_stream->isClosed())
        return;
    QElapsedTimer timer;
    timer.start();
    auto left = [&] { return int(qMax<qint64>(1, timeoutMs - timer.elapsed())); };
    flush();
    while (!m_stream->isClosed() && pendingBytes() > 0 && timer.elapsed() < timeoutMs) {
        pollfd p { m_stream->fd(), POLLOUT, 0 };
        if (::poll(&p, 1, left()) <= 0)
            break;
        flush();
    }
    // Everything is in the kernel now: if the friend's side acknowledged it, the Bye has arrived
    // and a RST loses nothing (the friend reads what it received before the reset). A graceful
    // close here would leave TIME_WAIT on one side, or on both when the two friends quit at the
    // same moment (a simultaneous close), for a minute.
    if (resetOnceAcknowledged && !m_stream->isClosed() && pendingBytes() == 0
        && Net::setAbortiveCloseOnceAcknowledged(
            m_stream->fd(), qMin(int(AcknowledgeWaitMs), left()))) {
        qCDebug(lcSession).noquote() << m_description << "last bytes acknowledged: reset on exit";
        abortNow({ ErrorCode::None, QStringLiteral("closed on exit") });
        return;
    }
    // Not acknowledged in time, or the friend's side reset it already (it read our Bye).
    qCDebug(lcSession).noquote() << m_description << "graceful close on exit";
    close({ ErrorCode::None, QStringLiteral("closed on exit") });
    // close() only starts the close (close_notify and FIN once everything is out): wait for the
    // peer's end, or the last frames die with the thread.
    while (!m_stream->isClosed() && m_shutdownSent && timer.elapsed() < timeoutMs) {
        pollfd p { m_stream->fd(), POLLIN, 0 };
        if (::poll(&p, 1, left()) <= 0)
            break;
        char buf[4096];
        ERR_clear_error();
        const int n = SSL_read(m_stream->ssl(), buf, sizeof buf);
        if (n <= 0 && SSL_get_error(m_stream->ssl(), n) != SSL_ERROR_WANT_READ)
            break;
    }
    ERR_clear_error();
    m_closeTimer.stop();
    m_stream->closeNow(false);
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
