#pragma once
// Secures a connected TCP socket: TLS 1.3 only, both sides present their Punchline certificate,
// and the peer's certificate must match the fingerprint pinned from the friend's code (or, in
// trust-on-first-use mode, any Punchline certificate). Only then succeeded() is emitted; no
// application byte has been sent at that point. The caller then hands the socket to a TlsLink.

#include "common/types.h"
#include "identity/identity.h"

#include <QByteArray>
#include <QList>
#include <QObject>
#include <QPointer>
#include <QSslError>
#include <QTimer>

#include <QSslSocket>

namespace Punchline {

class TlsHandshake : public QObject
{
    Q_OBJECT
public:
    enum class Role { Client, Server };
    static constexpr int DefaultTimeoutMs = 10000;

    // socket: connected, in plain mode, not owned (the caller deletes it after failed()).
    // expectedFingerprint: SHA-256 of the peer's certificate; empty = trust on first use.
    TlsHandshake(QSslSocket *socket, const Identity &identity, Role role,
        const QByteArray &expectedFingerprint, int timeoutMs = DefaultTimeoutMs,
        QObject *parent = nullptr);
    // Same, with the role as a flag (the puncher's Nomination::tlsServer).
    TlsHandshake(QSslSocket *socket, const Identity &identity, bool asServer,
        const QByteArray &expectedFingerprint, int timeoutMs = DefaultTimeoutMs,
        QObject *parent = nullptr);
    ~TlsHandshake() override;

    // Starts at once; the result always comes later from the event loop.
    void start();
    QSslSocket *socket() const { return m_socket; }

    // ALPN protocol both sides offer; a TLS server that does not pick it is not Punchline.
    static QByteArray applicationProtocol();
    // The certificate errors a pinned self-signed certificate is expected to raise; only these
    // are ignored, and only when the presented certificate is the expected one.
    static QList<QSslError::SslError> expectedCertificateErrors();

Q_SIGNALS:
    void succeeded(const QByteArray &peerFingerprint);
    // NotPunchline, PeerIdentityMismatch, ConnectedToSelf, TlsError. The socket is aborted.
    void failed(const Punchline::Error &error);

private:
    void checkFirstBytes();
    void startTls();
    void onSslErrors(const QList<QSslError> &errors);
    void onEncrypted();
    void onSocketError();
    void onTimeout();
    // Checks a presented certificate's fingerprint against the pin and ourselves.
    bool acceptablePeer(const QByteArray &fingerprint, Error *why) const;
    void fail(const Error &error);

    QPointer<QSslSocket> m_socket;
    Identity m_identity;
    Role m_role;
    QByteArray m_expected;
    int m_timeoutMs;
    QTimer m_timer;
    bool m_tlsStarted = false;
    bool m_done = false;
};

} // namespace Punchline
