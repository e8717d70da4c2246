#pragma once
// Secures a connected TCP socket with OpenSSL driven directly on its descriptor (non-blocking,
// QSocketNotifier, everything on the calling thread): TLS 1.3 only, both sides present their
// Punchline certificate, and the peer's certificate must hash (SHA-256 of its DER) to the
// fingerprint pinned from the friend's code (or, in trust-on-first-use mode, to any certificate
// but our own). Only then succeeded() is emitted, and takeStream() hands the secured connection
// to a TlsLink.
//
// The connection set-up may be folded into the handshake (see preamble.h and ARCHITECTURE.md,
// "Preamble and nomination"): the set-up bytes the puncher left corked (our preamble and
// nomination byte) leave in one segment with our first TLS flight, the peer's preamble may be
// read here rather than by the puncher, and a TLS server may send application bytes (our Hello)
// right after its flight, as 0.5-RTT data, which the client reads as soon as it has verified the
// server.

#include "common/types.h"
#include "identity/identity.h"

#include <QByteArray>
#include <QObject>
#include <QPointer>
#include <QSocketNotifier>
#include <QTimer>
#include <memory>

class QSslSocket;
struct ssl_st;
struct ssl_ctx_st;
struct bio_st;

namespace Punchline {

// A secured (or being secured) TCP connection: owns the descriptor and the OpenSSL object.
class TlsStream : public QObject
{
    Q_OBJECT
public:
    TlsStream(int fd, ssl_st *ssl, QObject *parent = nullptr);
    ~TlsStream() override; // closes the descriptor (plain close: the kernel sends what it holds)

    int fd() const { return m_fd; }
    ssl_st *ssl() const { return m_ssl; }
    void replaceSsl(ssl_st *ssl); // the controlled side turning from client into server
    QSocketNotifier *readNotifier() { return &m_read; }
    QSocketNotifier *writeNotifier() { return &m_write; }
    Endpoint localEndpoint() const { return m_local; }
    Endpoint peerEndpoint() const { return m_peer; }
    // "TLSv1.3" etc. and the ALPN protocol both sides agreed on.
    QString protocolVersion() const;
    QByteArray applicationProtocol() const;
    // True when OpenSSL switched the send side to kernel TLS (SSL_OP_ENABLE_KTLS).
    bool kernelTlsSend() const;
    // Closes the descriptor now; abortive: RST and no TIME_WAIT.
    void closeNow(bool abortive);
    bool isClosed() const { return m_fd < 0; }

private:
    int m_fd = -1;
    ssl_st *m_ssl = nullptr;
    QSocketNotifier m_read;
    QSocketNotifier m_write;
    Endpoint m_local;
    Endpoint m_peer;
};

class TlsHandshake : public QObject
{
    Q_OBJECT
public:
    enum class Role { Client, Server };
    static constexpr int DefaultTimeoutMs = 10000;

    // What is folded into the handshake (all off by default: a bare TLS handshake).
    struct Fold
    {
        bool readPeerPreamble = false; // the peer's preamble comes first (and is checked here)
        // Client that offered ('C') while the peer controls: the peer's answer follows its
        // preamble, 'n' (we stay client) or 'N' + its ClientHello (we turn server).
        bool awaitAnswer = false;
        // Client that nominated with 'N': the peer may have offered ('C' + one TLS record)
        // before it read our 'N'; that record is skipped.
        bool skipPeerOffer = false;
    };

    // socket: connected, in plain mode, unbuffered; start() takes its descriptor over (the
    // socket object is left closed and stays the caller's to delete).
    // expectedFingerprint: SHA-256 of the peer's certificate; empty = trust on first use.
    TlsHandshake(QSslSocket *socket, const Identity &identity, Role role,
        const QByteArray &expectedFingerprint, int timeoutMs = DefaultTimeoutMs,
        QObject *parent = nullptr);
    // Same, with the role as a flag (the puncher's Nomination::tlsServer).
    TlsHandshake(QSslSocket *socket, const Identity &identity, bool asServer,
        const QByteArray &expectedFingerprint, int timeoutMs = DefaultTimeoutMs,
        QObject *parent = nullptr);
    ~TlsHandshake() override;

    void setFold(const Fold &fold) { m_fold = fold; }
    // Server only: bytes (our Hello frame) sent right after the server's flight, before the
    // client is authenticated (0.5-RTT data). Nothing secret: see ARCHITECTURE.md.
    void setHalfRttData(const QByteArray &bytes) { m_halfRtt = bytes; }
    // Whether the 0.5-RTT bytes went out (they do only if we ended up as the server).
    bool halfRttSent() const { return m_halfRttSent; }
    Role role() const { return m_role; }

    // Starts at once (a client's first flight is written from inside start()); the result
    // always comes later from the event loop.
    void start();
    // After succeeded(): the secured connection; the caller owns it.
    TlsStream *takeStream();
    // Before succeeded() (tests): the connection being secured.
    TlsStream *stream() const { return m_stream; }

    // ALPN protocol both sides offer; a TLS server that does not pick it is not Punchline.
    static QByteArray applicationProtocol();

Q_SIGNALS:
    void succeeded(const QByteArray &peerFingerprint);
    // NotPunchline, PeerIdentityMismatch, ConnectedToSelf, TlsError, ProtocolError. The
    // connection is closed.
    void failed(const Punchline::Error &error);

private:
    enum class Stage { PeerPreamble, Answer, SkipOffer, Tls, Done };
    void step();
    bool readSetup(); // false: wait for more bytes (or failed)
    qint64 peek(char *buf, qint64 size) const;
    bool newSsl(Role role);
    void runTls();
    void runSsl();
    void onTimeout();
    void fail(const Error &error);
    bool acceptablePeer(const QByteArray &fingerprint, Error *why) const;
    static int verifyCallback(int preverifyOk, void *storeCtx);

    QPointer<QSslSocket> m_socket;
    TlsStream *m_stream = nullptr;
    bio_st *m_rbio = nullptr; // what we read: Qt's read-ahead, then the descriptor
    Identity m_identity;
    Role m_role;
    QByteArray m_expected;
    int m_timeoutMs;
    QTimer m_timer;
    Fold m_fold;
    QByteArray m_halfRtt;
    bool m_halfRttSent = false;
    Stage m_stage = Stage::Tls;
    QByteArray m_setup; // bytes of the set-up read so far (preamble, skipped record header)
    qint64 m_skipLeft = -1; // bytes of the peer's offered ClientHello still to skip
    bool m_serverEarlyDone = false; // server: SSL_read_early_data finished
    Error m_verifyError; // set by the verify callback
    QByteArray m_peerFingerprint;
    bool m_done = false;
};

} // namespace Punchline
