#pragma once
// A Link over the punched TCP connection after the TLS handshake and certificate pinning
// succeeded (see TlsHandshake). OpenSSL runs on the socket's descriptor, on this thread: frames
// are encrypted into the kernel as far as it takes them, the rest waits in our own queue;
// pendingBytes() is that queue, and writable() follows its progress.

#include "protocol/frame.h"
#include "session/link.h"

#include <QTimer>

namespace Punchline {

class TlsStream;

class TlsLink : public Link
{
    Q_OBJECT
public:
    static constexpr qint64 LowWaterMark = qint64(256) * 1024;

    // Takes ownership of a secured connection (reparented to the link). Bytes already there
    // (the peer's 0.5-RTT hello, or what it wrote right after the handshake) are read from the
    // event loop.
    explicit TlsLink(TlsStream *stream, QObject *parent = nullptr);
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
    TlsStream *stream() const { return m_stream; }
    int descriptor() const;

private:
    void onReadable();
    void flush();
    void startShutdown();
    void lost(const Error &why);
    void finish(const Error &why);

    TlsStream *m_stream = nullptr;
    FrameDecoder m_decoder;
    QByteArray m_out; // plaintext not yet taken by OpenSSL
    qsizetype m_outPos = 0;
    qsizetype m_lastWrite = 0; // length of the last SSL_write that wants a retry
    QTimer m_closeTimer;
    QString m_description;
    bool m_open = true;
    bool m_closing = false; // graceful close: flushing, then close_notify and FIN
    bool m_shutdownSent = false;
    bool m_closedEmitted = false;
    bool m_readQueued = false;
};

} // namespace Punchline
