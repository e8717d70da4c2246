#include "tlshandshake.h"

#include "common/endpoint.h"
#include "common/logging.h"
#include "net/nativesocket.h"
#include "punch/preamble.h"

#include <QHash>
#include <QSslSocket>
#include <mutex>

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <sys/socket.h>
#include <unistd.h>

namespace Punchline {

namespace {

constexpr int MaxRecordBytes = 16384 + 256; // a TLS 1.3 record's ciphertext, at most

QString printable(const QByteArray &bytes)
{
    QString out;
    for (const char c : bytes.left(16)) {
        const uchar u = uchar(c);
        out += (u >= 0x20 && u < 0x7f) ? QString(QLatin1Char(c))
                                       : QStringLiteral("\\x%1").arg(u, 2, 16, QLatin1Char('0'));
    }
    return out;
}

Error notPunchline(const QString &detail)
{
    return {
        ErrorCode::NotPunchline,
        QStringLiteral("the other side does not speak Punchline's secure protocol (%1)").arg(detail)
    };
}

Error closedDuringHandshake()
{
    return { ErrorCode::TlsError,
        QStringLiteral("the other side closed the connection during the secure handshake (it "
                       "may not be Punchline, or it did not accept this device's identity)") };
}

QByteArray fingerprintOfX509(X509 *cert)
{
    if (!cert)
        return {};
    unsigned char *der = nullptr;
    const int len = i2d_X509(cert, &der);
    if (len <= 0)
        return {};
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdLen = 0;
    const bool ok = EVP_Digest(der, size_t(len), md, &mdLen, EVP_sha256(), nullptr) == 1;
    OPENSSL_free(der);
    return ok ? QByteArray(reinterpret_cast<const char *>(md), int(mdLen)) : QByteArray();
}

int selectAlpn(SSL *, const unsigned char **out, unsigned char *outlen, const unsigned char *in,
    unsigned int inlen, void *)
{
    const QByteArray ours = TlsHandshake::applicationProtocol();
    for (unsigned int i = 0; i < inlen;) {
        const unsigned int n = in[i];
        if (i + 1 + n > inlen)
            break;
        if (QByteArray::fromRawData(reinterpret_cast<const char *>(in + i + 1), int(n)) == ours) {
            *out = in + i + 1;
            *outlen = static_cast<unsigned char>(n);
            return SSL_TLSEXT_ERR_OK;
        }
        i += 1 + n;
    }
    return SSL_TLSEXT_ERR_NOACK; // checked after the handshake: "a TLS service for something else"
}

// One context per identity, made once (certificate and key parsed once; later, its session
// ticket keys are what resumption needs). Used from the network thread; tests run several.
struct ContextCache
{
    std::mutex lock;
    QHash<QByteArray, SSL_CTX *> contexts;
    ~ContextCache()
    {
        for (SSL_CTX *ctx : std::as_const(contexts))
            SSL_CTX_free(ctx);
    }
};

ContextCache &contextCache()
{
    // OpenSSL first: its exit handler then runs after the cache is gone.
    static const bool openSslReady = OPENSSL_init_ssl(0, nullptr) == 1;
    Q_UNUSED(openSslReady)
    static ContextCache cache;
    return cache;
}

SSL_CTX *contextFor(const Identity &identity, QString *why)
{
    ContextCache &cache = contextCache();
    const std::lock_guard<std::mutex> guard(cache.lock);
    QHash<QByteArray, SSL_CTX *> &contexts = cache.contexts;
    if (SSL_CTX *ctx = contexts.value(identity.fingerprint()))
        return ctx;
    SSL_CTX *ctx = SSL_CTX_new(TLS_method());
    if (!ctx) {
        *why = QStringLiteral("OpenSSL could not make a TLS context");
        return nullptr;
    }
    SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION);
    SSL_CTX_set_max_proto_version(ctx, TLS1_3_VERSION);
    SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    SSL_CTX_set_num_tickets(ctx, 0);
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
    const QByteArray der = identity.certificate().toDer();
    const auto *p = reinterpret_cast<const unsigned char *>(der.constData());
    X509 *cert = d2i_X509(nullptr, &p, der.size());
    const QByteArray pem = identity.privateKey().toPem();
    BIO *bio = BIO_new_mem_buf(pem.constData(), int(pem.size()));
    EVP_PKEY *key = bio ? PEM_read_bio_PrivateKey(bio, nullptr, nullptr, nullptr) : nullptr;
    BIO_free(bio);
    const bool ok = cert && key && SSL_CTX_use_certificate(ctx, cert) == 1
        && SSL_CTX_use_PrivateKey(ctx, key) == 1 && SSL_CTX_check_private_key(ctx) == 1;
    X509_free(cert);
    EVP_PKEY_free(key);
    if (!ok) {
        ERR_clear_error();
        SSL_CTX_free(ctx);
        *why = QStringLiteral("OpenSSL refused this device's certificate or key");
        return nullptr;
    }
    SSL_CTX_set_alpn_select_cb(ctx, selectAlpn, nullptr);
    contexts.insert(identity.fingerprint(), ctx);
    return ctx;
}

Endpoint endpointOf(int fd, bool peer)
{
    sockaddr_storage ss {};
    socklen_t len = sizeof ss;
    const int r = peer ? ::getpeername(fd, reinterpret_cast<sockaddr *>(&ss), &len)
                       : ::getsockname(fd, reinterpret_cast<sockaddr *>(&ss), &len);
    if (r != 0)
        return {};
    QHostAddress a(reinterpret_cast<const sockaddr *>(&ss));
    quint16 port = 0;
    if (ss.ss_family == AF_INET)
        port = ntohs(reinterpret_cast<const sockaddr_in *>(&ss)->sin_port);
    else if (ss.ss_family == AF_INET6)
        port = ntohs(reinterpret_cast<const sockaddr_in6 *>(&ss)->sin6_port);
    return Endpoint { normalizedAddress(a), port };
}

// The read side of every TLS connection: bytes Qt's socket object had already taken from the
// kernel (its plain socket reads ahead) come first, then the descriptor. Writes use OpenSSL's own
// socket BIO (which kernel TLS needs).
struct ReadSource
{
    QByteArray pre;
    int fd = -1;
    bool eof = false;
};

int sourceRead(BIO *b, char *out, size_t len, size_t *got)
{
    auto *src = static_cast<ReadSource *>(BIO_get_data(b));
    BIO_clear_retry_flags(b);
    *got = 0;
    if (!src->pre.isEmpty()) {
        const size_t n = qMin(len, size_t(src->pre.size()));
        std::memcpy(out, src->pre.constData(), n);
        src->pre.remove(0, qsizetype(n));
        *got = n;
        return 1;
    }
    const ssize_t n = ::recv(src->fd, out, len, 0);
    if (n > 0) {
        *got = size_t(n);
        return 1;
    }
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
        BIO_set_retry_read(b);
        return 0;
    }
    if (n == 0) {
        src->eof = true;
        errno = 0;
    }
    return 0;
}

int sourceWrite(BIO *, const char *, size_t, size_t *)
{
    return 0; // read only
}

long sourceCtrl(BIO *b, int cmd, long, void *)
{
    auto *src = static_cast<ReadSource *>(BIO_get_data(b));
    switch (cmd) {
    case BIO_CTRL_FLUSH:
        return 1;
    case BIO_CTRL_PENDING:
        return src ? long(src->pre.size()) : 0;
    case BIO_CTRL_EOF:
        return src && src->eof ? 1 : 0;
    case BIO_C_GET_FD:
        return src ? src->fd : -1;
    default:
        return 0;
    }
}

int sourceCreate(BIO *b)
{
    BIO_set_init(b, 1);
    return 1;
}

int sourceDestroy(BIO *b)
{
    delete static_cast<ReadSource *>(BIO_get_data(b));
    BIO_set_data(b, nullptr);
    return 1;
}

BIO *newReadSource(int fd, const QByteArray &pre)
{
    static BIO_METHOD *method = [] {
        BIO_METHOD *m
            = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "punchline read source");
        BIO_meth_set_read_ex(m, sourceRead);
        BIO_meth_set_write_ex(m, sourceWrite);
        BIO_meth_set_ctrl(m, sourceCtrl);
        BIO_meth_set_create(m, sourceCreate);
        BIO_meth_set_destroy(m, sourceDestroy);
        return m;
    }();
    BIO *b = BIO_new(method);
    if (b)
        BIO_set_data(b, new ReadSource { pre, fd, false });
    return b;
}

} // namespace

// --- TlsStream ---

TlsStream::TlsStream(int fd, ssl_st *ssl, QObject *parent)
    : QObject(parent)
    , m_fd(fd)
    , m_ssl(ssl)
    , m_read(fd, QSocketNotifier::Read)
    , m_write(fd, QSocketNotifier::Write)
    , m_local(endpointOf(fd, false))
    , m_peer(endpointOf(fd, true))
{
    m_read.setParent(this);
    m_write.setParent(this);
    m_read.setEnabled(false);
    m_write.setEnabled(false);
}

TlsStream::~TlsStream()
{
    closeNow(false);
    SSL_free(m_ssl);
}

void TlsStream::replaceSsl(ssl_st *ssl)
{
    SSL_free(m_ssl);
    m_ssl = ssl;
}

QString TlsStream::protocolVersion() const
{
    return m_ssl ? QString::fromLatin1(SSL_get_version(m_ssl)) : QString();
}

QByteArray TlsStream::applicationProtocol() const
{
    const unsigned char *data = nullptr;
    unsigned int len = 0;
    if (m_ssl)
        SSL_get0_alpn_selected(m_ssl, &data, &len);
    return data ? QByteArray(reinterpret_cast<const char *>(data), int(len)) : QByteArray();
}

bool TlsStream::kernelTlsSend() const
{
    return m_ssl && BIO_get_ktls_send(SSL_get_wbio(m_ssl)) != 0;
}

void TlsStream::closeNow(bool abortive)
{
    if (m_fd < 0)
        return;
    m_read.setEnabled(false);
    m_write.setEnabled(false);
    if (abortive)
        Net::setAbortiveClose(m_fd);
    ::close(m_fd);
    m_fd = -1;
}

// --- TlsHandshake ---

TlsHandshake::TlsHandshake(QSslSocket *socket, const Identity &identity, Role role,
    const QByteArray &expectedFingerprint, int timeoutMs, QObject *parent)
    : QObject(parent)
    , m_socket(socket)
    , m_identity(identity)
    , m_role(role)
    , m_expected(expectedFingerprint)
    , m_timeoutMs(timeoutMs > 0 ? timeoutMs : DefaultTimeoutMs)
{
    m_timer.setSingleShot(true);
    connect(&m_timer, &QTimer::timeout, this, &TlsHandshake::onTimeout);
}

TlsHandshake::TlsHandshake(QSslSocket *socket, const Identity &identity, bool asServer,
    const QByteArray &expectedFingerprint, int timeoutMs, QObject *parent)
    : TlsHandshake(socket, identity, asServer ? Role::Server : Role::Client, expectedFingerprint,
        timeoutMs, parent)
{
}

TlsHandshake::~TlsHandshake()
{
    delete m_stream; // not taken: never secured
    BIO_free(m_rbio);
}

QByteArray TlsHandshake::applicationProtocol()
{
    return QByteArrayLiteral("punchline/1");
}

TlsStream *TlsHandshake::takeStream()
{
    if (!m_done || !m_stream || m_peerFingerprint.isEmpty())
        return nullptr;
    TlsStream *s = m_stream;
    m_stream = nullptr;
    s->disconnect(this);
    s->readNotifier()->disconnect(this);
    s->writeNotifier()->disconnect(this);
    s->setParent(nullptr);
    return s;
}

bool TlsHandshake::newSsl(Role role)
{
    QString why;
    SSL_CTX *ctx = contextFor(m_identity, &why);
    SSL *ssl = ctx ? SSL_new(ctx) : nullptr;
    if (!ssl) {
        fail({ ErrorCode::TlsError, why.isEmpty() ? QStringLiteral("OpenSSL failed") : why });
        return false;
    }
    SSL_set_app_data(ssl, this);
    SSL_set_verify(ssl, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT,
        reinterpret_cast<SSL_verify_cb>(&TlsHandshake::verifyCallback));
    if (role == Role::Client) {
        const QByteArray proto = applicationProtocol();
        QByteArray wire(1, char(proto.size()));
        wire += proto;
        SSL_set_alpn_protos(
            ssl, reinterpret_cast<const unsigned char *>(wire.constData()), unsigned(wire.size()));
        SSL_set_connect_state(ssl);
    } else {
        SSL_set_accept_state(ssl);
    }
    BIO_up_ref(m_rbio);
    SSL_set0_rbio(ssl, m_rbio);
    SSL_set_wfd(ssl, m_stream->fd());
    m_role = role;
    m_stream->replaceSsl(ssl);
    return true;
}

void TlsHandshake::start()
{
    const int qtFd = m_socket && m_socket->state() == QAbstractSocket::ConnectedState
        ? int(m_socket->socketDescriptor())
        : -1;
    const int fd = qtFd >= 0 ? ::fcntl(qtFd, F_DUPFD_CLOEXEC, 0) : -1;
    if (fd < 0) {
        QMetaObject::invokeMethod(
            this,
            [this] {
                fail({ ErrorCode::TlsError,
                    QStringLiteral("the connection closed before the secure handshake") });
            },
            Qt::QueuedConnection);
        return;
    }
    // The descriptor is ours now; Qt's socket object closes its copy (no shutdown: the
    // connection lives on in ours). What the caller wrote through it goes out first.
    m_socket->flush();
    // Qt's socket may have read ahead (the peer's ClientHello behind a nomination byte): those
    // bytes come first.
    const QByteArray readAhead = m_socket->read(m_socket->bytesAvailable());
    m_socket->disconnect(this);
    m_socket->abort();
    ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
    const int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    m_stream = new TlsStream(fd, nullptr, this);
    m_rbio = newReadSource(fd, readAhead);
    connect(m_stream->readNotifier(), &QSocketNotifier::activated, this, &TlsHandshake::step);
    connect(m_stream->writeNotifier(), &QSocketNotifier::activated, this, [this] {
        m_stream->writeNotifier()->setEnabled(false);
        step();
    });
    if (!newSsl(m_role))
        return;
    m_timer.start(m_timeoutMs);
    m_stage = m_fold.readPeerPreamble
        ? Stage::PeerPreamble
        : (m_fold.awaitAnswer ? Stage::Answer
                              : (m_fold.skipPeerOffer ? Stage::SkipOffer : Stage::Tls));
    if (m_role == Role::Client) {
        // Our ClientHello now, in one segment with the set-up bytes the puncher left corked
        // (preamble, nomination byte): the peer gets all it needs to answer in one packet.
        // Nothing is read here: set-up bytes (the peer's preamble, its offer) may already wait
        // in our read source, and they are not for OpenSSL.
        SSL *ssl = m_stream->ssl();
        BIO *nothing = BIO_new(BIO_s_mem());
        BIO_set_mem_eof_return(nothing, -1); // empty: "try again later"
        SSL_set0_rbio(ssl, nothing);
        SSL_do_handshake(ssl); // writes the ClientHello
        BIO_up_ref(m_rbio);
        SSL_set0_rbio(ssl, m_rbio);
        ERR_clear_error();
        Net::setCork(fd, false);
    }
    m_stream->readNotifier()->setEnabled(true);
    QMetaObject::invokeMethod(this, &TlsHandshake::step, Qt::QueuedConnection);
}

qint64 TlsHandshake::peek(char *buf, qint64 size) const
{
    const auto *src = static_cast<const ReadSource *>(BIO_get_data(m_rbio));
    const qint64 pre = qMin<qint64>(size, src->pre.size());
    std::memcpy(buf, src->pre.constData(), size_t(pre));
    if (pre == size)
        return pre;
    const qint64 n = ::recv(m_stream->fd(), buf + pre, size_t(size - pre), MSG_PEEK);
    if (n > 0)
        return pre + n;
    return pre > 0 ? pre : n; // 0: end of stream; < 0: nothing yet
}

bool TlsHandshake::readSetup()
{
    auto receive = [&](char *buf, qint64 want) -> qint64 {
        size_t got = 0;
        qint64 n = BIO_read_ex(m_rbio, buf, size_t(want), &got) == 1 ? qint64(got) : -1;
        if (n < 0 && BIO_should_retry(m_rbio))
            n = 0;
        if (n < 0)
            fail({ ErrorCode::TlsError,
                QStringLiteral("the connection closed during set-up (it may not be Punchline)") });
        return n;
    };
    while (!m_done && m_stage != Stage::Tls) {
        if (m_stage == Stage::PeerPreamble) {
            char buf[Preamble::Size];
            const qint64 n = receive(buf, Preamble::Size - m_setup.size());
            if (n <= 0)
                return false;
            m_setup.append(buf, int(n));
            Error e;
            if (m_setup.size() < Preamble::Size) {
                if (!Preamble::checkStart(m_setup, &e))
                    fail(e);
                return false;
            }
            QByteArray fp;
            if (!Preamble::decode(m_setup, &fp, &e)) {
                fail(e);
                return false;
            }
            m_setup.clear();
            if (fp == m_identity.fingerprint()) {
                fail({ ErrorCode::ConnectedToSelf,
                    QStringLiteral("one of the addresses leads back to this program itself") });
                return false;
            }
            if (!m_expected.isEmpty() && fp != m_expected) {
                fail({ ErrorCode::PeerIdentityMismatch,
                    QStringLiteral("someone else answered at %1: it is not the friend whose "
                                   "code you pasted")
                        .arg(m_stream->peerEndpoint().toString()) });
                return false;
            }
            m_stage = m_fold.awaitAnswer ? Stage::Answer
                                         : (m_fold.skipPeerOffer ? Stage::SkipOffer : Stage::Tls);
        } else if (m_stage == Stage::Answer) {
            char c = 0;
            const qint64 n = receive(&c, 1);
            if (n <= 0)
                return false;
            if (c == Preamble::NominateEarly) {
                m_stage = Stage::Tls; // the controller serves our ClientHello
            } else if (c == Preamble::Nominate) {
                // The controller opened TLS itself: its ClientHello wins, ours is dropped.
                if (!newSsl(Role::Server))
                    return false;
                m_stage = Stage::Tls;
            } else {
                fail({ ErrorCode::ProtocolError,
                    QStringLiteral("unexpected byte during connection set-up") });
                return false;
            }
        } else if (m_stage == Stage::SkipOffer) {
            if (m_skipLeft < 0 && m_setup.isEmpty()) {
                char c = 0;
                const qint64 n = peek(&c, 1);
                if (n == 0) {
                    fail(closedDuringHandshake());
                    return false;
                }
                if (n < 0)
                    return false;
                if (c != Preamble::Offer) {
                    m_stage = Stage::Tls; // no offer: TLS from the first byte
                    break;
                }
                receive(&c, 1);
                m_setup = QByteArray(1, c);
            }
            if (m_skipLeft < 0) {
                char head[5];
                const qint64 n = receive(head, 6 - m_setup.size());
                if (n <= 0)
                    return false;
                m_setup.append(head, int(n));
                if (m_setup.size() < 6)
                    return false;
                const qint64 len = (qint64(uchar(m_setup.at(4))) << 8) | uchar(m_setup.at(5));
                if (uchar(m_setup.at(1)) != 0x16 || uchar(m_setup.at(2)) != 0x03
                    || len > MaxRecordBytes) {
                    fail({ ErrorCode::ProtocolError,
                        QStringLiteral("unexpected bytes during connection set-up") });
                    return false;
                }
                m_skipLeft = len;
            }
            while (m_skipLeft > 0) {
                char buf[4096];
                const qint64 n = receive(buf, qMin<qint64>(sizeof buf, m_skipLeft));
                if (n <= 0)
                    return false;
                m_skipLeft -= n;
            }
            m_setup.clear();
            m_stage = Stage::Tls;
        }
    }
    return !m_done;
}

void TlsHandshake::step()
{
    if (m_done || !m_stream)
        return;
    if (m_stage != Stage::Tls && !readSetup())
        return;
    if (m_stage == Stage::Tls)
        runTls();
}

void TlsHandshake::runTls()
{
    const int fd = m_stream->fd();
    // The server's nomination byte ('n', corked by the puncher), its flight and its 0.5-RTT
    // hello leave in one segment.
    const bool cork = m_role == Role::Server && !m_serverEarlyDone;
    if (cork)
        Net::setCork(fd, true);
    runSsl();
    if (cork && !m_stream->isClosed())
        Net::setCork(fd, false);
}

void TlsHandshake::runSsl()
{
    SSL *ssl = m_stream->ssl();
    if (m_role == Role::Server && SSL_in_before(ssl)) {
        // Peek at the first bytes (still plain): a peer that talks something else gets a quick,
        // precise error instead of OpenSSL's or a timeout.
        char head[16];
        const qint64 n = peek(head, sizeof head);
        if (n == 0) {
            fail(closedDuringHandshake());
            return;
        }
        if (n < 0)
            return; // nothing yet
        const bool ok = uchar(head[0]) == 0x16 && (n < 2 || uchar(head[1]) == 0x03)
            && (n < 3 || uchar(head[2]) <= 0x04);
        if (!ok) {
            fail(notPunchline(QStringLiteral("it sent \"%1\" instead of a TLS handshake")
                                  .arg(printable(QByteArray(head, int(n))))));
            return;
        }
    }
    int r = 0;
    if (m_role == Role::Server && !m_halfRtt.isEmpty() && !m_serverEarlyDone) {
        // Reading "early data" (we accept none) runs the server up to its Finished; then our
        // Hello goes out as 0.5-RTT data, in the same segment as the flight.
        char buf[512];
        size_t got = 0;
        for (;;) {
            r = SSL_read_early_data(ssl, buf, sizeof buf, &got);
            if (r != SSL_READ_EARLY_DATA_SUCCESS)
                break;
        }
        if (r == SSL_READ_EARLY_DATA_FINISH) {
            m_serverEarlyDone = true;
            size_t written = 0;
            m_halfRttSent = SSL_write_early_data(
                                ssl, m_halfRtt.constData(), size_t(m_halfRtt.size()), &written)
                    == 1
                && written == size_t(m_halfRtt.size());
            ERR_clear_error();
        }
        if (r == SSL_READ_EARLY_DATA_ERROR) {
            r = -1;
        } else {
            r = SSL_do_handshake(ssl);
        }
    } else {
        r = SSL_do_handshake(ssl);
    }
    if (r == 1) {
        m_stream->readNotifier()->setEnabled(false);
        m_stream->writeNotifier()->setEnabled(false);
        X509 *peer = SSL_get0_peer_certificate(ssl);
        const QByteArray fp = fingerprintOfX509(peer);
        Error why;
        if (!acceptablePeer(fp, &why)) {
            fail(why);
            return;
        }
        if (SSL_version(ssl) != TLS1_3_VERSION) {
            fail({ ErrorCode::TlsError,
                QStringLiteral("the secure connection did not use TLS 1.3") });
            return;
        }
        if (m_stream->applicationProtocol() != applicationProtocol()) {
            fail(notPunchline(QStringLiteral("it is a TLS service for something else")));
            return;
        }
        m_done = true;
        m_stage = Stage::Done;
        m_timer.stop();
        m_peerFingerprint = fp;
        qCDebug(lcSession) << "TLS 1.3 up, peer" << Identity::formatFingerprint(fp)
                           << (m_role == Role::Client ? "(client)" : "(server)")
                           << (m_halfRttSent ? "hello sent as 0.5-RTT data" : "")
                           << (m_stream->kernelTlsSend() ? "kernel TLS" : "");
        QMetaObject::invokeMethod(
            this, [this, fp] { Q_EMIT succeeded(fp); }, Qt::QueuedConnection);
        return;
    }
    const int err = SSL_get_error(ssl, r);
    if (err == SSL_ERROR_WANT_READ) {
        ERR_clear_error();
        return; // the read notifier stays on
    }
    if (err == SSL_ERROR_WANT_WRITE) {
        ERR_clear_error();
        m_stream->writeNotifier()->setEnabled(true);
        return;
    }
    if (m_verifyError.isError()) {
        ERR_clear_error();
        fail(m_verifyError);
        return;
    }
    const unsigned long e = ERR_peek_last_error();
    const int reason = ERR_GET_REASON(e);
    char text[256] = {};
    ERR_error_string_n(e, text, sizeof text);
    const char *reasonText = ERR_reason_error_string(e);
    const QString detail = QString::fromLatin1(reasonText ? reasonText : text);
    ERR_clear_error();
    if (err == SSL_ERROR_SYSCALL || err == SSL_ERROR_ZERO_RETURN || e == 0
        || reason == SSL_R_UNEXPECTED_EOF_WHILE_READING) {
        fail(closedDuringHandshake());
    } else if (reason == SSL_R_PEER_DID_NOT_RETURN_A_CERTIFICATE) {
        fail({ ErrorCode::TlsError, QStringLiteral("the other side presented no certificate") });
    } else if (reason >= SSL_AD_REASON_OFFSET && reason < SSL_AD_REASON_OFFSET + 256) {
        // An alert: a TLS peer refused us (version, certificate, protocol).
        fail({ ErrorCode::TlsError,
            QStringLiteral("the other side refused the secure connection (%1)").arg(detail) });
    } else {
        fail(notPunchline(detail)); // the bytes were not TLS as we speak it
    }
}

int TlsHandshake::verifyCallback(int preverifyOk, void *storeCtx)
{
    auto *ctx = static_cast<X509_STORE_CTX *>(storeCtx);
    auto *ssl
        = static_cast<SSL *>(X509_STORE_CTX_get_ex_data(ctx, SSL_get_ex_data_X509_STORE_CTX_idx()));
    auto *self = ssl ? static_cast<TlsHandshake *>(SSL_get_app_data(ssl)) : nullptr;
    if (!self)
        return 0;
    // The pin is on the certificate the peer presented (its key signs the handshake).
    Error why;
    if (!self->acceptablePeer(fingerprintOfX509(X509_STORE_CTX_get0_cert(ctx)), &why)) {
        self->m_verifyError = why;
        return 0;
    }
    if (preverifyOk)
        return 1;
    // Only what a pinned self-signed certificate is expected to raise is ignored; anything
    // else (dates, a broken signature) fails as it did with Qt's checks.
    switch (X509_STORE_CTX_get_error(ctx)) {
    case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
    case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
    case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
    case X509_V_ERR_CERT_UNTRUSTED:
        return 1;
    default:
        self->m_verifyError = { ErrorCode::TlsError,
            QStringLiteral("the other side's certificate is not acceptable: %1")
                .arg(QString::fromLatin1(
                    X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx)))) };
        return 0;
    }
}

bool TlsHandshake::acceptablePeer(const QByteArray &fingerprint, Error *why) const
{
    if (fingerprint.isEmpty()) {
        *why = { ErrorCode::TlsError, QStringLiteral("the other side presented no certificate") };
        return false;
    }
    if (fingerprint == m_identity.fingerprint()) {
        *why = { ErrorCode::ConnectedToSelf,
            QStringLiteral("this connection reached this device itself, not your friend") };
        return false;
    }
    if (!m_expected.isEmpty() && fingerprint != m_expected) {
        *why = { ErrorCode::PeerIdentityMismatch,
            QStringLiteral("someone else answered at your friend's address: the certificate "
                           "does not match the code") };
        return false;
    }
    return true;
}

void TlsHandshake::onTimeout()
{
    fail({ ErrorCode::NotPunchline,
        QStringLiteral("no secure handshake from the other side within %1 s: it does not seem to "
                       "be Punchline, or the connection stalled")
            .arg(m_timeoutMs / 1000.0) });
}

void TlsHandshake::fail(const Error &error)
{
    if (m_done)
        return;
    m_done = true;
    m_stage = Stage::Done;
    m_timer.stop();
    if (m_stream)
        m_stream->closeNow(false); // nothing more goes to a peer we do not trust
    if (m_socket) {
        m_socket->disconnect(this);
        m_socket->abort();
    }
    qCInfo(lcSession).noquote() << "secure handshake failed:" << error.message;
    // Always from the event loop, never from inside start() or a notifier mid-flight.
    QMetaObject::invokeMethod(
        this, [this, error] { Q_EMIT failed(error); }, Qt::QueuedConnection);
}

} // namespace Punchline
