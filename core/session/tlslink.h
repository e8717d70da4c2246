#pragma once
// A Link over the punched TCP connection after the TLS handshake and certificate pinning
// succeeded (see TlsHandshake). Frames are written straight to the QSslSocket; pendingBytes() is
// what the socket still holds (plain + encrypted), and writable() follows the socket's progress.

#include "protocol/frame.h"
#include "session/link.h"

#include <QPointer>
#include <QTimer>

#include <QSslSocket>

namespace Punchline {

class TlsLink : public Link
{
    Q_OBJECT
public:
    static constexpr qint64 LowWaterMark = qint64(256) * 1024;

    // Takes ownership of an encrypted, connected socket (reparented to the link). Bytes the
    // socket already holds (the peer may have written right after the handshake) are read from
    // the event loop.
    explicit TlsLink(QSslSocket *socket, QObject *parent = nullptr);
    ~TlsLink() override;

    void sendFrame(quint16 type, const QByteArray &payload) override;
    qint64 pendingBytes() const override;
    int maxPayload() const override { return m_decoder.maxPayload(); }
    void setMaxPayload(int bytes) override { m_decoder.setMaxPayload(bytes); }
    // Graceful: queued frames are flushed, TLS close_notify is sent, then the TCP close (an abort
    // follows if that takes more than a few seconds). closed(why) follows from the event loop.
    void close(const Error &why = {}) override;
    bool isOpen() const override { return m_open; }
    QString describe() const override;
    void setUnsentLimit(qint64 bytes) override;

    // Immediate close with RST and no TIME_WAIT, so the same address pair can be punched again
    // at once. Anything still queued is lost. closed() follows (if not emitted yet).
    void abortNow(const Error &why = {});
    // For a program about to exit: push what is queued (e.g. the last Done and Bye) into the
    // kernel, waiting at most timeoutMs, then close. Blocks the calling (network) thread.
    // With resetOnceAcknowledged, once the peer acknowledged those bytes (within
    // AcknowledgeWaitMs), the close is a RST: no TIME_WAIT is left on this 4-tuple for a restart
    // to run into (see Net::setAbortiveCloseOnceAcknowledged). Otherwise, or when they were not
    // acknowledged in time, the close is graceful (close_notify, FIN).
    void flushAndClose(int timeoutMs, bool resetOnceAcknowledged = true);
    // The friend's delayed ACK (Linux: up to 200 ms) plus a round trip.
    static constexpr int AcknowledgeWaitMs = 400;
    QSslSocket *socket() const { return m_socket; }

private:
    void onReadyRead();
    void onBytesWritten();
    void onDisconnected();
    void onSocketError();
    void finish(const Error &why);

    QPointer<QSslSocket> m_socket;
    FrameDecoder m_decoder;
    QTimer m_closeTimer;
    QString m_description;
    bool m_open = true;
    bool m_closedEmitted = false;
};

} // namespace Punchline
