#include "tlshandshake.h"

#include "common/logging.h"

#include <QSslConfiguration>
#include <QSslSocket>

namespace Punchline {

namespace {

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

} // namespace

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
    if (m_socket)
        m_socket->disconnect(this);
}

QByteArray TlsHandshake::applicationProtocol()
{
    return QByteArrayLiteral("punchline/1");
}

QList<QSslError::SslError> TlsHandshake::expectedCertificateErrors()
{
    // Exactly what Qt 6.4 + OpenSSL 3 report for our certificates (checked by
    // tst_tlshandshake): the certificate signs itself (both sides), and it names no host (only
    // the client checks; it reaches the peer by IP address). Dates never fail: identities are
    // valid from 2000 to 9999.
    return { QSslError::SelfSignedCertificate, QSslError::HostNameMismatch };
}

void TlsHandshake::start()
{
    if (!m_socket || m_socket->state() != QAbstractSocket::ConnectedState) {
        QMetaObject::invokeMethod(
            this,
            [this] {
                fail({ ErrorCode::TlsError,
                    QStringLiteral("the connection closed before the secure handshake") });
            },
            Qt::QueuedConnection);
        return;
    }
    QSslConfiguration config = m_socket->sslConfiguration();
    config.setProtocol(QSsl::TlsV1_3OrLater);
    config.setLocalCertificate(m_identity.certificate());
    config.setPrivateKey(m_identity.privateKey());
    config.setPeerVerifyMode(
        QSslSocket::VerifyPeer); // the server asks for the client's certificate
    config.setCaCertificates({}); // no public CAs: the pin is the only trust
    config.setAllowedNextProtocols({ applicationProtocol() });
    m_socket->setSslConfiguration(config);

    connect(m_socket, &QSslSocket::sslErrors, this, &TlsHandshake::onSslErrors);
    connect(m_socket, &QSslSocket::encrypted, this, &TlsHandshake::onEncrypted);
    connect(m_socket, &QSslSocket::errorOccurred, this, &TlsHandshake::onSocketError);
    connect(m_socket, &QSslSocket::disconnected, this, [this] {
        fail({ ErrorCode::TlsError,
            QStringLiteral("the other side closed the connection during the secure handshake (it "
                           "may not be Punchline, or it did not accept this device's identity)") });
    });
    m_timer.start(m_timeoutMs);

    if (m_role == Role::Client) {
        QMetaObject::invokeMethod(this, &TlsHandshake::startTls, Qt::QueuedConnection);
    } else {
        // The server waits for the ClientHello; peeking at its first bytes (still plain) turns a
        // peer that talks something else into a quick, precise error instead of a timeout.
        connect(m_socket, &QSslSocket::readyRead, this, &TlsHandshake::checkFirstBytes);
        QMetaObject::invokeMethod(this, &TlsHandshake::checkFirstBytes, Qt::QueuedConnection);
    }
}

void TlsHandshake::checkFirstBytes()
{
    if (m_done || m_tlsStarted || !m_socket)
        return;
    const QByteArray head = m_socket->peek(3);
    if (head.isEmpty())
        return;
    // A TLS record: content type 22 (handshake), version 3.x.
    const bool ok = uchar(head.at(0)) == 0x16 && (head.size() < 2 || uchar(head.at(1)) == 0x03)
        && (head.size() < 3 || uchar(head.at(2)) <= 0x04);
    if (!ok) {
        fail(notPunchline(QStringLiteral("it sent \"%1\" instead of a TLS handshake")
                              .arg(printable(m_socket->peek(16)))));
        return;
    }
    if (head.size() < 3)
        return;
    disconnect(m_socket, &QSslSocket::readyRead, this, &TlsHandshake::checkFirstBytes);
    startTls();
}

void TlsHandshake::startTls()
{
    if (m_done || m_tlsStarted || !m_socket)
        return;
    m_tlsStarted = true;
    if (m_role == Role::Client)
        m_socket->startClientEncryption();
    else
        m_socket->startServerEncryption();
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

void TlsHandshake::onSslErrors(const QList<QSslError> &errors)
{
    if (m_done || !m_socket)
        return;
    QSslCertificate presented = m_socket->peerCertificate();
    if (presented.isNull()) {
        for (const QSslError &e : errors) {
            if (!e.certificate().isNull()) {
                presented = e.certificate();
                break;
            }
        }
    }
    Error why;
    if (!acceptablePeer(Identity::fingerprintOf(presented), &why)) {
        fail(why);
        return;
    }
    const QList<QSslError::SslError> expected = expectedCertificateErrors();
    for (const QSslError &e : errors) {
        if (!expected.contains(e.error())) {
            fail({ ErrorCode::TlsError,
                QStringLiteral("the other side's certificate is not acceptable: %1")
                    .arg(e.errorString()) });
            return;
        }
    }
    m_socket->ignoreSslErrors(errors);
}

void TlsHandshake::onEncrypted()
{
    if (m_done || !m_socket)
        return;
    const QByteArray fingerprint = Identity::fingerprintOf(m_socket->peerCertificate());
    Error why;
    if (!acceptablePeer(fingerprint, &why)) {
        fail(why);
        return;
    }
    if (m_socket->sessionProtocol() != QSsl::TlsV1_3) {
        fail({ ErrorCode::TlsError, QStringLiteral("the secure connection did not use TLS 1.3") });
        return;
    }
    if (m_socket->sslConfiguration().nextNegotiatedProtocol() != applicationProtocol()) {
        fail(notPunchline(QStringLiteral("it is a TLS service for something else")));
        return;
    }
    m_done = true;
    m_timer.stop();
    m_socket->disconnect(this);
    qCDebug(lcSession) << "TLS 1.3 up, peer" << Identity::formatFingerprint(fingerprint);
    Q_EMIT succeeded(fingerprint);
}

void TlsHandshake::onSocketError()
{
    if (m_done || !m_socket)
        return;
    const QString detail = m_socket->errorString();
    switch (m_socket->error()) {
    case QAbstractSocket::SslHandshakeFailedError:
        // An alert means a TLS peer refused us (version, certificate); anything else means the
        // bytes were not TLS at all.
        if (detail.contains(QLatin1String("alert"), Qt::CaseInsensitive))
            fail({ ErrorCode::TlsError,
                QStringLiteral("the other side refused the secure connection (%1)").arg(detail) });
        else
            fail(notPunchline(detail));
        break;
    case QAbstractSocket::RemoteHostClosedError:
        fail({ ErrorCode::TlsError,
            QStringLiteral("the other side closed the connection during the secure handshake (it "
                           "may not be Punchline, or it did not accept this device's identity)") });
        break;
    default:
        fail(
            { ErrorCode::TlsError, QStringLiteral("the secure handshake failed: %1").arg(detail) });
        break;
    }
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
    m_timer.stop();
    if (m_socket) {
        m_socket->disconnect(this);
        m_socket->abort(); // nothing more goes to a peer we do not trust
    }
    qCInfo(lcSession).noquote() << "secure handshake failed:" << error.message;
    // Always from the event loop, never from inside start() or a socket signal mid-flight.
    QMetaObject::invokeMethod(
        this, [this, error] { Q_EMIT failed(error); }, Qt::QueuedConnection);
}

} // namespace Punchline
