#include "turnclient.h"

#include "common/logging.h"
#include "net/dialer.h"
#include "net/nativesocket.h"

#include <QSocketNotifier>
#include <QSslConfiguration>
#include <QSslSocket>
#include <QTimer>
#include <QUrl>
#include <QtEndian>

#include <fcntl.h>
#include <sys/socket.h>

namespace Punchline {

namespace {

constexpr quint8 protocolTcp = 6; // REQUESTED-TRANSPORT (RFC 6062 §6.2)
constexpr int maxAuthRetries = 2; // one 401 to learn realm + nonce, one 438 for a stale nonce
constexpr int tickMs = 250;

QByteArray u32(quint32 value)
{
    QByteArray out(4, '\0');
    qToBigEndian(value, out.data());
    return out;
}

Error badServer(const QString &why)
{
    return { ErrorCode::BadUsage,
        QStringLiteral("That is not a TURN server: %1 (write turn:USER:PASSWORD@HOST:PORT).")
            .arg(why) };
}

bool hasControlCharacters(const QString &text)
{
    for (const QChar c : text) {
        if (c.unicode() < 0x20 || c.unicode() == 0x7f)
            return true;
    }
    return false;
}

// Requests are kept without an id: send() gives every (re)send a fresh one.
QByteArray placeholderId()
{
    return QByteArray(StunMessage::transactionIdSize, '\0');
}

QString secondsText(int ms)
{
    return QStringLiteral("%1 s").arg(qMax(1, ms / 1000));
}

// A turns: data connection after its ConnectionBind: pumps the peer's byte stream between the
// TLS connection to the server and our end of a local socketpair (the engine has the other).
// Each direction holds at most BufferLimit bytes of its own: beyond that it stops reading the
// other side, so a slow reader slows the writer down through TCP instead of filling memory.
// When either side ends, what is buffered towards the other is delivered (within
// LingerMs), then both are closed. Deletes itself when done.
class TlsBridge : public QObject
{
public:
    static constexpr qint64 BufferLimit = 256 * 1024;
    static constexpr int LingerMs = 10000;

    TlsBridge(QSslSocket *tls, qintptr fd, const QByteArray &firstBytes, QObject *parent)
        : QObject(parent)
        , m_tls(tls)
        , m_fd(fd)
        , m_toLocal(firstBytes)
    {
        m_tls->setParent(this);
        // What the engine sets on its sockets belongs here (its end is a local socket).
        m_tls->setSocketOption(QAbstractSocket::LowDelayOption, 1);
        Net::enableKeepAlive(m_tls->socketDescriptor(), 30, 10, 3);
        // Qt stops reading the server's bytes beyond this; readyRead resumes it.
        m_tls->setReadBufferSize(BufferLimit);
        m_read = new QSocketNotifier(fd, QSocketNotifier::Read, this);
        m_write = new QSocketNotifier(fd, QSocketNotifier::Write, this);
        m_write->setEnabled(false);
        connect(m_read, &QSocketNotifier::activated, this, &TlsBridge::fromLocal);
        connect(m_write, &QSocketNotifier::activated, this, &TlsBridge::toLocal);
        connect(m_tls, &QSslSocket::readyRead, this, &TlsBridge::toLocal);
        connect(m_tls, &QSslSocket::encryptedBytesWritten, this, &TlsBridge::tlsDrained);
        connect(m_tls, &QSslSocket::disconnected, this, &TlsBridge::tlsEnded);
        connect(m_tls, &QSslSocket::errorOccurred, this,
            [this](QAbstractSocket::SocketError) { tlsEnded(); });
        m_linger.setSingleShot(true);
        connect(&m_linger, &QTimer::timeout, this, &TlsBridge::finish);
        QMetaObject::invokeMethod(this, &TlsBridge::toLocal, Qt::QueuedConnection);
    }
    ~TlsBridge() override { closeLocal(); }

    // Both sides at once, nothing more delivered (the client stops).
    void abort()
    {
        m_tls->disconnect(this);
        m_tls->abort();
        finish();
    }

private:
    qint64 tlsQueued() const { return m_tls->bytesToWrite() + m_tls->encryptedBytesToWrite(); }

    // Server → engine.
    void toLocal()
    {
        if (m_fd < 0)
            return;
        for (;;) {
            if (m_toLocal.size() < BufferLimit && m_tls->bytesAvailable() > 0)
                m_toLocal.append(m_tls->read(BufferLimit - m_toLocal.size()));
            if (m_toLocal.isEmpty())
                break;
            const qint64 n = Net::sendSome(m_fd, m_toLocal.constData(), m_toLocal.size());
            if (n < 0) {
                localEnded();
                return;
            }
            if (n == 0)
                break;
            m_toLocal.remove(0, n);
        }
        m_write->setEnabled(!m_toLocal.isEmpty());
        if (m_toLocal.isEmpty() && m_tlsEnded)
            finish();
    }

    // Engine → server.
    void fromLocal()
    {
        if (m_fd < 0)
            return;
        char buf[64 * 1024];
        while (tlsQueued() < BufferLimit) {
            const qint64 n = Net::receiveSome(m_fd, buf, sizeof buf);
            if (n < 0) {
                localEnded();
                return;
            }
            if (n == 0)
                break;
            m_tls->write(buf, n);
        }
        m_read->setEnabled(tlsQueued() < BufferLimit);
    }

    void tlsDrained()
    {
        if (m_fd >= 0 && !m_read->isEnabled() && tlsQueued() < BufferLimit) {
            m_read->setEnabled(true);
            fromLocal();
        }
    }

    void tlsEnded()
    {
        if (m_tlsEnded)
            return;
        m_tlsEnded = true;
        m_linger.start(LingerMs);
        toLocal(); // what was read before the end still goes to the engine, then finish()
    }

    void localEnded()
    {
        closeLocal();
        if (m_tlsEnded) {
            finish();
            return;
        }
        // What the engine wrote before closing still goes to the server.
        connect(m_tls, &QSslSocket::disconnected, this, &TlsBridge::finish);
        m_linger.start(LingerMs);
        m_tls->disconnectFromHost();
    }

    void closeLocal()
    {
        if (m_fd < 0)
            return;
        m_read->setEnabled(false);
        m_write->setEnabled(false);
        Net::closeFd(m_fd);
        m_fd = -1;
    }

    void finish()
    {
        if (m_finished)
            return;
        m_finished = true;
        m_linger.stop();
        closeLocal();
        m_tls->disconnect(this);
        m_tls->abort();
        deleteLater();
    }

    QSslSocket *m_tls;
    qintptr m_fd;
    QByteArray m_toLocal;
    QSocketNotifier *m_read = nullptr;
    QSocketNotifier *m_write = nullptr;
    QTimer m_linger;
    bool m_tlsEnded = false;
    bool m_finished = false;
};

} // namespace

// --- TurnServer ----------------------------------------------------------------------------

QString TurnServer::displayName() const
{
    return tls ? QStringLiteral("turns:") + server.toString() : server.toString();
}

QString TurnServer::toString() const
{
    return (tls ? QStringLiteral("turns:") : QStringLiteral("turn:"))
        + QString::fromLatin1(QUrl::toPercentEncoding(username)) + QLatin1Char(':')
        + QString::fromLatin1(QUrl::toPercentEncoding(password)) + QLatin1Char('@')
        + server.toString();
}

std::optional<TurnServer> parseTurnServer(QStringView text, Error *error)
{
    auto fail = [error](const QString &why) -> std::optional<TurnServer> {
        if (error)
            *error = badServer(why);
        return std::nullopt;
    };
    QStringView rest = text.trimmed();
    TurnServer result;
    if (rest.startsWith(QLatin1String("turns:"), Qt::CaseInsensitive)) {
        result.tls = true;
        rest = rest.sliced(6);
    } else if (rest.startsWith(QLatin1String("turn:"), Qt::CaseInsensitive)) {
        rest = rest.sliced(5);
    } else {
        return fail(QStringLiteral("it must start with turn: or turns:"));
    }
    if (rest.startsWith(QLatin1String("//")))
        rest = rest.sliced(2);
    const qsizetype at = rest.lastIndexOf(QLatin1Char('@'));
    if (at < 0)
        return fail(QStringLiteral("the user name and password are missing"));
    const QStringView credentials = rest.first(at);
    QStringView host = rest.sliced(at + 1);
    const qsizetype colon = credentials.indexOf(QLatin1Char(':'));
    if (colon < 0)
        return fail(QStringLiteral("the password is missing"));
    result.username = QUrl::fromPercentEncoding(credentials.first(colon).toUtf8());
    result.password = QUrl::fromPercentEncoding(credentials.sliced(colon + 1).toUtf8());
    if (result.username.isEmpty())
        return fail(QStringLiteral("the user name is empty"));
    if (result.password.isEmpty())
        return fail(QStringLiteral("the password is empty"));
    if (hasControlCharacters(result.username) || hasControlCharacters(result.password))
        return fail(QStringLiteral("the user name or password contains control characters"));

    const qsizetype query = host.indexOf(QLatin1Char('?'));
    if (query >= 0) {
        const QStringView option = host.sliced(query + 1);
        host = host.first(query);
        if (option.compare(QLatin1String("transport=tcp"), Qt::CaseInsensitive) != 0) {
            return fail(option.startsWith(QLatin1String("transport="), Qt::CaseInsensitive)
                    ? QStringLiteral("only TCP relaying is supported (transport=tcp)")
                    : QStringLiteral("unknown option \"%1\"").arg(option.left(32)));
        }
    }
    QString why;
    const std::optional<HostPort> hostPort = parseHostPort(
        host, result.tls ? TurnClient::defaultTlsPort : TurnClient::defaultPort, &why);
    if (!hostPort)
        return fail(QStringLiteral("the server address \"%1\" is not usable (%2)")
                        .arg(host.left(260).toString(), why));
    result.server = *hostPort;
    return result;
}

// --- TurnClient ----------------------------------------------------------------------------

struct TurnClient::DataConnection
{
    Net::Dialer *dialer = nullptr;
    QSslSocket *tls = nullptr; // turns: instead of dialer and fd
    qintptr fd = -1; // once connected, until handed over or closed
    QSocketNotifier *readable = nullptr;
    QByteArray connectionId;
    Endpoint peer;
    bool outgoing = false; // from connectTo()
    QByteArray transactionId; // of the ConnectionBind
    QByteArray answer; // the ConnectionBind response as it arrives (read exactly)
    QDeadlineTimer deadline;
};

TurnClient::TurnClient(const TurnServer &server, QObject *parent)
    : TurnClient(server, Options {}, parent)
{
}

TurnClient::TurnClient(const TurnServer &server, const Options &options, QObject *parent)
    : QObject(parent)
    , m_server(server)
    , m_options(options)
{
    m_tick = new QTimer(this);
    m_tick->setInterval(tickMs);
    connect(m_tick, &QTimer::timeout, this, &TurnClient::onTick);
    m_refresh = new QTimer(this);
    m_refresh->setSingleShot(true);
    connect(m_refresh, &QTimer::timeout, this, [this] { sendRefresh(m_options.lifetimeSeconds); });
    m_permissionTimer = new QTimer(this);
    connect(m_permissionTimer, &QTimer::timeout, this, &TurnClient::sendPermissions);
}

TurnClient::~TurnClient()
{
    closeAll();
}

void TurnClient::start()
{
    if (m_phase != Phase::Idle)
        return;
    m_phase = Phase::Connecting;
    m_control = m_server.tls ? newTlsSocket() : new QSslSocket(this);
    if (m_server.tls) {
        connect(m_control, &QSslSocket::connected, this, [this] {
            m_serverEndpoint
                = { normalizedAddress(m_control->peerAddress()), m_control->peerPort() };
        });
        connect(m_control, &QSslSocket::encrypted, this, &TurnClient::onControlConnected);
        connect(m_control, &QSslSocket::sslErrors, this, &TurnClient::onControlSslErrors);
    } else {
        connect(m_control, &QSslSocket::connected, this, &TurnClient::onControlConnected);
    }
    connect(m_control, &QSslSocket::readyRead, this, &TurnClient::onControlReadyRead);
    connect(m_control, &QSslSocket::disconnected, this, &TurnClient::onControlGone);
    connect(m_control, &QSslSocket::errorOccurred, this,
        [this](QAbstractSocket::SocketError) { onControlGone(); });
    m_connectDeadline.setRemainingTime(m_options.timeoutMs);
    m_tick->start();
    // Qt looks the name up without blocking.
    if (m_server.tls)
        m_control->connectToHostEncrypted(m_server.server.host, m_server.server.port);
    else
        m_control->connectToHost(m_server.server.host, m_server.server.port);
}

void TurnClient::stop()
{
    m_phase = Phase::Finished;
    closeAll();
}

void TurnClient::closeAll()
{
    m_tick->stop();
    m_refresh->stop();
    m_permissionTimer->stop();
    m_transactions.clear();
    if (m_control) {
        m_control->disconnect(this);
        m_control->abort();
        m_control->deleteLater();
        m_control = nullptr;
    }
    const auto data = m_data;
    m_data.clear();
    for (DataConnection *d : data)
        releaseData(d);
    const auto bridges = m_bridges;
    m_bridges.clear();
    for (const QPointer<QObject> &bridge : bridges) {
        if (bridge)
            static_cast<TlsBridge *>(bridge.data())->abort();
    }
}

QSslSocket *TurnClient::newTlsSocket()
{
    auto *socket = new QSslSocket(this);
    QSslConfiguration config = QSslConfiguration::defaultConfiguration(); // the system's CAs
    if (!m_options.extraCaCertificates.isEmpty())
        config.addCaCertificates(m_options.extraCaCertificates);
    config.setPeerVerifyMode(QSslSocket::VerifyPeer);
    config.setProtocol(QSsl::TlsV1_2OrLater);
    socket->setSslConfiguration(config);
    return socket;
}

void TurnClient::onControlSslErrors(const QList<QSslError> &errors)
{
    QStringList texts;
    for (const QSslError &e : errors)
        texts.append(e.errorString());
    texts.removeDuplicates();
    breakDown(QStringLiteral("TURN server %1 is not who it claims to be: its certificate is not "
                             "trusted (%2)")
                  .arg(m_server.displayName(), texts.join(QLatin1String("; "))));
}

void TurnClient::breakDown(const QString &why)
{
    if (m_phase == Phase::Finished)
        return;
    const bool wasAllocated = m_phase == Phase::Allocated;
    m_phase = Phase::Finished;
    closeAll();
    const Error error { ErrorCode::RelayFailed, why };
    qCInfo(lcRelay).noquote() << why;
    if (wasAllocated)
        Q_EMIT lost(error);
    else
        Q_EMIT failed(error);
}

void TurnClient::onControlConnected()
{
    m_serverEndpoint = { normalizedAddress(m_control->peerAddress()), m_control->peerPort() };
    if (m_server.tls)
        Q_EMIT logLine(
            QStringLiteral("TURN server %1: TLS (%2) with a trusted certificate")
                .arg(m_server.displayName(),
                    m_control->sessionProtocol() == QSsl::TlsV1_3 ? QStringLiteral("1.3")
                                                                  : QStringLiteral("1.2")));
    m_control->setSocketOption(QAbstractSocket::LowDelayOption, 1);
    m_control->setSocketOption(QAbstractSocket::KeepAliveOption, 1);
    m_phase = Phase::Allocating;
    StunMessage allocate(StunMessage::Class::Request, TurnMethod::Allocate, placeholderId());
    allocate.addAttribute(StunAttribute::RequestedTransport, u32(quint32(protocolTcp) << 24));
    allocate.addAttribute(StunAttribute::Lifetime, u32(quint32(m_options.lifetimeSeconds)));
    Transaction t;
    t.request = allocate;
    send(t);
}

void TurnClient::onControlGone()
{
    if (!m_control || m_phase == Phase::Finished)
        return;
    const QString reason = m_control->errorString();
    if (m_phase == Phase::Connecting)
        breakDown(QStringLiteral("TURN server %1 could not be reached: %2")
                      .arg(m_server.displayName(), reason));
    else
        breakDown(QStringLiteral("the connection to TURN server %1 was lost: %2")
                      .arg(m_server.displayName(), reason));
}

void TurnClient::onControlReadyRead()
{
    m_buffer.append(m_control->readAll());
    while (m_phase != Phase::Finished && !m_buffer.isEmpty()) {
        const StunFrame frame = StunMessage::peekFrame(m_buffer);
        if (frame.status == StunFrame::Status::Incomplete)
            return;
        if (frame.status == StunFrame::Status::Invalid) {
            breakDown(QStringLiteral("TURN server %1 sent something that is not TURN: %2")
                          .arg(m_server.displayName(), frame.reason));
            return;
        }
        const QByteArray wire = m_buffer.left(frame.size);
        m_buffer.remove(0, frame.size);
        const StunParseResult parsed = StunMessage::parse(wire);
        if (!parsed.ok()) {
            breakDown(QStringLiteral("TURN server %1 sent a broken message: %2")
                          .arg(m_server.displayName(), parsed.reason));
            return;
        }
        handleMessage(*parsed.message, wire);
    }
}

void TurnClient::handleMessage(const StunMessage &message, QByteArrayView wire)
{
    if (message.messageClass() == StunMessage::Class::Indication) {
        if (message.method() == TurnMethod::ConnectionAttempt)
            handleConnectionAttempt(message);
        return;
    }
    if (message.messageClass() == StunMessage::Class::Request)
        return; // servers do not ask us anything
    const auto it = m_transactions.find(message.transactionId());
    if (it == m_transactions.end() || !message.isResponseTo(it->request))
        return; // late answer to something we gave up on, or not ours
    // An answer to an authenticated request must carry our key's integrity: otherwise someone
    // on the path is answering for the server. (Error answers before we know the realm cannot.)
    if (!m_key.isEmpty() && message.messageClass() == StunMessage::Class::SuccessResponse
        && !StunMessage::checkIntegrity(wire, m_key)) {
        qCInfo(lcRelay) << "ignored an answer without valid MESSAGE-INTEGRITY";
        return;
    }
    const Transaction t = it.value();
    m_transactions.erase(it);
    if (message.messageClass() == StunMessage::Class::ErrorResponse
        && retryWithCredentials(t, message))
        return;
    switch (t.request.method()) {
    case TurnMethod::Allocate:
        handleAllocate(t, message);
        break;
    case TurnMethod::Refresh:
        handleRefresh(t, message);
        break;
    case TurnMethod::CreatePermission:
        if (message.messageClass() == StunMessage::Class::ErrorResponse)
            Q_EMIT logLine(QStringLiteral("TURN server %1 refused a permission: %2")
                               .arg(m_server.displayName(), errorText(message)));
        break;
    case TurnMethod::Connect:
        handleConnect(t, message);
        break;
    default:
        break;
    }
}

QString TurnClient::errorText(const StunMessage &response) const
{
    const auto error = response.errorAttribute();
    if (!error)
        return QStringLiteral("an error without a code");
    return error->reason.isEmpty() ? QString::number(error->code)
                                   : QStringLiteral("%1 %2").arg(error->code).arg(error->reason);
}

bool TurnClient::retryWithCredentials(Transaction t, const StunMessage &response)
{
    const auto error = response.errorAttribute();
    if (!error || (error->code != 401 && error->code != 438))
        return false;
    const auto realm = response.attribute(StunAttribute::Realm);
    const auto nonce = response.attribute(StunAttribute::Nonce);
    if (error->code == 401 && !m_key.isEmpty() && t.authRetries > 0) {
        // Our key was already in this request: the name or password is wrong.
        m_credentialsRefused = true;
        return false;
    }
    if (!nonce || t.authRetries >= maxAuthRetries)
        return false;
    if (realm) {
        const QString newRealm = QString::fromUtf8(*realm);
        if (newRealm != m_realm || m_key.isEmpty()) {
            m_realm = newRealm;
            m_key = StunMessage::longTermKey(m_server.username, m_realm, m_server.password);
        }
    }
    if (m_key.isEmpty())
        return false;
    m_nonce = *nonce;
    ++t.authRetries;
    send(t);
    return true;
}

void TurnClient::addCredentials(StunMessage *message) const
{
    if (m_key.isEmpty())
        return;
    message->addAttribute(StunAttribute::Username, m_server.username.toUtf8());
    message->addAttribute(StunAttribute::Realm, m_realm.toUtf8());
    message->addAttribute(StunAttribute::Nonce, m_nonce);
}

void TurnClient::send(Transaction t)
{
    if (!m_control)
        return;
    // A fresh transaction id per send (a retry is a new transaction, RFC 8489 §9.2.4).
    StunMessage request(StunMessage::Class::Request, t.request.method(),
        StunMessage::bindingRequest().transactionId());
    for (const StunMessage::Attribute &a : t.request.attributes())
        request.addAttribute(a.type, a.value);
    addCredentials(&request);
    t.request = request;
    t.deadline.setRemainingTime(m_options.timeoutMs);
    m_transactions.insert(request.transactionId(), t);
    m_control->write(request.toBytes(false, m_key));
}

void TurnClient::handleAllocate(const Transaction &t, const StunMessage &response)
{
    Q_UNUSED(t);
    if (response.messageClass() == StunMessage::Class::ErrorResponse) {
        const auto error = response.errorAttribute();
        const int code = error ? error->code : 0;
        if (code == 401 || m_credentialsRefused)
            breakDown(QStringLiteral("TURN server %1 refused the user name or password")
                          .arg(m_server.displayName()));
        else if (code == 442)
            breakDown(QStringLiteral("TURN server %1 does not relay TCP (RFC 6062); it answered %2")
                          .arg(m_server.displayName(), errorText(response)));
        else if (code == 486)
            breakDown(QStringLiteral("TURN server %1 allows no more allocations for this user (%2)")
                          .arg(m_server.displayName(), errorText(response)));
        else
            breakDown(QStringLiteral("TURN server %1 refused to relay: %2")
                          .arg(m_server.displayName(), errorText(response)));
        return;
    }
    const std::optional<Endpoint> relayed = response.xorAddress(StunAttribute::XorRelayedAddress);
    if (!relayed) {
        breakDown(
            QStringLiteral("TURN server %1 gave no relayed address").arg(m_server.displayName()));
        return;
    }
    m_relayed = relayed;
    m_phase = Phase::Allocated;
    int lifetime = m_options.lifetimeSeconds;
    if (const auto value = response.attribute(StunAttribute::Lifetime); value && value->size() == 4)
        lifetime = int(qMin<quint32>(qFromBigEndian<quint32>(value->constData()), 3600));
    scheduleRefresh(lifetime);
    Q_EMIT logLine(QStringLiteral("TURN server %1 relays for us at %2 (for %3 s)")
                       .arg(m_server.displayName(), relayed->toString())
                       .arg(lifetime));
    sendPermissions();
    m_permissionTimer->start(m_options.permissionRefreshMs);
    Q_EMIT allocated(*relayed);
}

void TurnClient::scheduleRefresh(int lifetimeSeconds)
{
    // A minute early, or half way for short lifetimes, so one slow answer cannot lose it.
    const int seconds = lifetimeSeconds > 120 ? lifetimeSeconds - 60 : qMax(1, lifetimeSeconds / 2);
    m_refresh->start(seconds * 1000);
}

void TurnClient::sendRefresh(int lifetimeSeconds)
{
    if (m_phase != Phase::Allocated)
        return;
    StunMessage refresh(StunMessage::Class::Request, TurnMethod::Refresh, placeholderId());
    refresh.addAttribute(StunAttribute::Lifetime, u32(quint32(lifetimeSeconds)));
    Transaction t;
    t.request = refresh;
    send(t);
}

void TurnClient::handleRefresh(const Transaction &t, const StunMessage &response)
{
    Q_UNUSED(t);
    if (response.messageClass() == StunMessage::Class::ErrorResponse) {
        breakDown(QStringLiteral("TURN server %1 would not keep our relayed address: %2")
                      .arg(m_server.displayName(), errorText(response)));
        return;
    }
    int lifetime = m_options.lifetimeSeconds;
    if (const auto value = response.attribute(StunAttribute::Lifetime); value && value->size() == 4)
        lifetime = int(qMin<quint32>(qFromBigEndian<quint32>(value->constData()), 3600));
    scheduleRefresh(lifetime);
}

void TurnClient::setPermissions(const QList<QHostAddress> &peers)
{
    QList<QHostAddress> unique;
    for (const QHostAddress &a : peers) {
        const QHostAddress n = normalizedAddress(a);
        if (!n.isNull() && !unique.contains(n))
            unique.append(n);
    }
    const bool changed = unique != m_permissions;
    m_permissions = unique;
    if (changed && m_phase == Phase::Allocated)
        sendPermissions();
}

void TurnClient::sendPermissions()
{
    if (m_phase != Phase::Allocated)
        return;
    // One request per address: a server refuses a whole request when one of its addresses is
    // forbidden (coturn's denied-peer-ip, typically the friend's private LAN address), and that
    // must not cost the friend's public address its permission.
    for (const QHostAddress &address : std::as_const(m_permissions)) {
        StunMessage request(
            StunMessage::Class::Request, TurnMethod::CreatePermission, placeholderId());
        request.addXorAddress(StunAttribute::XorPeerAddress, { address, 1 });
        Transaction t;
        t.request = request;
        send(t);
    }
}

void TurnClient::connectTo(const Endpoint &peer)
{
    if (m_phase != Phase::Allocated) {
        const Error error { ErrorCode::RelayFailed,
            QStringLiteral("TURN server %1 has no allocation for us yet")
                .arg(m_server.displayName()) };
        QMetaObject::invokeMethod(
            this, [this, peer, error] { Q_EMIT connectFailed(peer, error); }, Qt::QueuedConnection);
        return;
    }
    StunMessage request(StunMessage::Class::Request, TurnMethod::Connect, placeholderId());
    request.addXorAddress(StunAttribute::XorPeerAddress, peer);
    Transaction t;
    t.request = request;
    t.peer = peer;
    send(t);
}

void TurnClient::handleConnect(const Transaction &t, const StunMessage &response)
{
    const auto id = response.attribute(StunAttribute::ConnectionId);
    if (response.messageClass() == StunMessage::Class::ErrorResponse || !id) {
        Q_EMIT connectFailed(t.peer,
            { ErrorCode::RelayFailed,
                QStringLiteral("TURN server %1 could not connect to %2: %3")
                    .arg(m_server.displayName(), t.peer.toString(), errorText(response)) });
        return;
    }
    openDataConnection(*id, t.peer, true);
}

void TurnClient::handleConnectionAttempt(const StunMessage &indication)
{
    const auto id = indication.attribute(StunAttribute::ConnectionId);
    const auto peer = indication.xorAddress(StunAttribute::XorPeerAddress);
    if (!id || !peer || m_phase != Phase::Allocated)
        return;
    if (m_data.size() >= m_options.maxPendingData) {
        qCInfo(lcRelay).noquote() << "ignored a relayed connection from" << peer->toString() << "("
                                  << m_data.size() << "being set up)";
        return;
    }
    openDataConnection(*id, *peer, false);
}

void TurnClient::openDataConnection(
    const QByteArray &connectionId, const Endpoint &peer, bool outgoing)
{
    auto *d = new DataConnection;
    d->connectionId = connectionId;
    d->peer = peer;
    d->outgoing = outgoing;
    d->deadline.setRemainingTime(m_options.timeoutMs);
    m_data.append(d);
    if (m_server.tls) {
        // The same transport as the control connection: TLS to the same server address, with
        // the certificate checked against the name the user wrote.
        d->tls = newTlsSocket();
        connect(d->tls, &QSslSocket::encrypted, this, [this, d] { onTlsDataEncrypted(d); });
        connect(d->tls, &QSslSocket::readyRead, this, [this, d] { onTlsDataReadable(d); });
        connect(d->tls, &QSslSocket::sslErrors, this, [this, d](const QList<QSslError> &errors) {
            dropData(d,
                QStringLiteral("the server's certificate is not trusted (%1)")
                    .arg(errors.isEmpty() ? QString() : errors.first().errorString()));
        });
        connect(d->tls, &QSslSocket::errorOccurred, this,
            [this, d](QAbstractSocket::SocketError) { dropData(d, d->tls->errorString()); });
        d->tls->connectToHostEncrypted(
            m_serverEndpoint.address.toString(), m_serverEndpoint.port, m_server.server.host);
        return;
    }
    // A native connect (any local port), so the socket can be opened unbuffered like an
    // accepted one: the ConnectionBind answer is read exactly and the peer's first bytes stay
    // in the kernel for whoever runs TLS.
    Net::Dialer::Options o;
    o.timeoutMs = m_options.timeoutMs;
    d->dialer = new Net::Dialer(0, m_serverEndpoint, o, this);
    connect(d->dialer, &Net::Dialer::connected, this,
        [this, d](qintptr fd) { onDataConnected(d, fd); });
    connect(d->dialer, &Net::Dialer::failed, this,
        [this, d](int, const QString &message) { dropData(d, message); });
    d->dialer->start();
}

void TurnClient::onDataConnected(DataConnection *d, qintptr fd)
{
    d->dialer->deleteLater();
    d->dialer = nullptr;
    d->fd = fd;
    StunMessage bind(StunMessage::Class::Request, TurnMethod::ConnectionBind,
        StunMessage::bindingRequest().transactionId());
    bind.addAttribute(StunAttribute::ConnectionId, d->connectionId);
    addCredentials(&bind);
    d->transactionId = bind.transactionId();
    const QByteArray bytes = bind.toBytes(false, m_key);
    // A new connection's send buffer takes these hundred bytes whole.
    if (Net::sendSome(fd, bytes.constData(), bytes.size()) != bytes.size()) {
        dropData(d, QStringLiteral("the ConnectionBind request could not be sent"));
        return;
    }
    d->readable = new QSocketNotifier(fd, QSocketNotifier::Read, this);
    connect(d->readable, &QSocketNotifier::activated, this, [this, d] { onDataReadable(d); });
}

void TurnClient::onDataReadable(DataConnection *d)
{
    if (!m_data.contains(d))
        return;
    // Exactly the header, then exactly the announced rest: the bytes after the answer are the
    // peer's and stay in the kernel for whoever runs TLS.
    for (;;) {
        const qsizetype want = d->answer.size() < StunMessage::headerSize
            ? StunMessage::headerSize - d->answer.size()
            : StunMessage::headerSize + qFromBigEndian<quint16>(d->answer.constData() + 2)
                - d->answer.size();
        if (want <= 0)
            break;
        char buf[StunMessage::maxSize];
        const qint64 n = Net::receiveSome(d->fd, buf, qMin<qint64>(want, sizeof buf));
        if (n < 0) {
            dropData(d, QStringLiteral("the server closed the data connection"));
            return;
        }
        if (n == 0)
            return; // the rest comes later
        d->answer.append(buf, n);
        const StunFrame frame = StunMessage::peekFrame(d->answer);
        if (frame.status == StunFrame::Status::Invalid) {
            dropData(d, QStringLiteral("the server's answer is not TURN: %1").arg(frame.reason));
            return;
        }
        if (frame.status == StunFrame::Status::Complete)
            break;
    }
    if (!acceptBindAnswer(d, d->answer))
        return;
    const qintptr fd = d->fd;
    const Endpoint peer = d->peer;
    d->fd = -1; // handed over
    m_data.removeOne(d);
    releaseData(d);
    Q_EMIT logLine(QStringLiteral("%1 reached us through TURN server %2")
                       .arg(peer.toString(), m_server.displayName()));
    Q_EMIT dataConnection(fd, peer, m_serverEndpoint);
}

bool TurnClient::acceptBindAnswer(DataConnection *d, const QByteArray &answer)
{
    const StunParseResult parsed = StunMessage::parse(answer);
    if (!parsed.ok() || parsed.message->transactionId() != d->transactionId
        || parsed.message->method() != TurnMethod::ConnectionBind) {
        dropData(d, QStringLiteral("the server's answer to ConnectionBind is not one"));
        return false;
    }
    if (parsed.message->messageClass() != StunMessage::Class::SuccessResponse) {
        dropData(d,
            QStringLiteral("the server refused ConnectionBind: %1")
                .arg(errorText(*parsed.message)));
        return false;
    }
    return true;
}

void TurnClient::onTlsDataEncrypted(DataConnection *d)
{
    if (!m_data.contains(d))
        return;
    StunMessage bind(StunMessage::Class::Request, TurnMethod::ConnectionBind,
        StunMessage::bindingRequest().transactionId());
    bind.addAttribute(StunAttribute::ConnectionId, d->connectionId);
    addCredentials(&bind);
    d->transactionId = bind.transactionId();
    d->tls->write(bind.toBytes(false, m_key));
}

void TurnClient::onTlsDataReadable(DataConnection *d)
{
    if (!m_data.contains(d) || !d->tls->isEncrypted())
        return;
    // Buffered reading is fine here: whatever follows the answer is handed to the bridge.
    d->answer.append(d->tls->readAll());
    const StunFrame frame = StunMessage::peekFrame(d->answer);
    if (frame.status == StunFrame::Status::Incomplete)
        return;
    if (frame.status == StunFrame::Status::Invalid) {
        dropData(d, QStringLiteral("the server's answer is not TURN: %1").arg(frame.reason));
        return;
    }
    const QByteArray surplus = d->answer.mid(frame.size);
    if (!acceptBindAnswer(d, d->answer.left(frame.size)))
        return;
    bridgeTlsData(d, surplus);
}

void TurnClient::bridgeTlsData(DataConnection *d, const QByteArray &surplus)
{
    int fds[2] = { -1, -1 };
#ifdef SOCK_NONBLOCK
    const int type = SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC;
#else
    const int type = SOCK_STREAM;
#endif
    if (::socketpair(AF_UNIX, type, 0, fds) != 0) {
        dropData(d, QStringLiteral("no local socket pair for it (%1)").arg(qt_error_string(errno)));
        return;
    }
#ifndef SOCK_NONBLOCK
    for (const int fd : fds) {
        ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
        ::fcntl(fd, F_SETFD, FD_CLOEXEC);
    }
#endif
    QSslSocket *tls = d->tls;
    d->tls = nullptr; // the bridge's now
    tls->disconnect(this);
    const Endpoint peer = d->peer;
    m_data.removeOne(d);
    releaseData(d);
    m_bridges.removeAll(nullptr);
    m_bridges.append(new TlsBridge(tls, fds[1], surplus, this));
    Q_EMIT logLine(QStringLiteral("%1 reached us through TURN server %2")
                       .arg(peer.toString(), m_server.displayName()));
    Q_EMIT dataConnection(fds[0], peer, m_serverEndpoint);
}

void TurnClient::releaseData(DataConnection *d)
{
    if (d->dialer) {
        d->dialer->disconnect(this);
        d->dialer->abort();
        d->dialer->deleteLater();
    }
    if (d->tls) {
        d->tls->disconnect(this);
        d->tls->abort();
        d->tls->deleteLater();
    }
    if (d->readable) {
        d->readable->setEnabled(false);
        d->readable->disconnect(this);
        d->readable->deleteLater();
    }
    if (d->fd >= 0) {
        Net::setAbortiveClose(d->fd);
        Net::closeFd(d->fd);
    }
    delete d;
}

void TurnClient::dropData(DataConnection *d, const QString &why)
{
    if (!m_data.contains(d))
        return;
    m_data.removeOne(d);
    qCInfo(lcRelay).noquote() << "relayed connection from" << d->peer.toString()
                              << "not set up:" << why;
    const bool outgoing = d->outgoing;
    const Endpoint peer = d->peer;
    releaseData(d);
    if (outgoing)
        Q_EMIT connectFailed(peer,
            { ErrorCode::RelayFailed,
                QStringLiteral("the relayed connection to %1 through %2 failed: %3")
                    .arg(peer.toString(), m_server.displayName(), why) });
}

void TurnClient::onTick()
{
    if (m_phase == Phase::Connecting && m_connectDeadline.hasExpired()) {
        breakDown(QStringLiteral("TURN server %1 did not accept a connection within %2")
                      .arg(m_server.displayName(), secondsText(m_options.timeoutMs)));
        return;
    }
    for (auto it = m_transactions.cbegin(); it != m_transactions.cend(); ++it) {
        if (it->deadline.hasExpired()) {
            breakDown(QStringLiteral("TURN server %1 did not answer within %2")
                          .arg(m_server.displayName(), secondsText(m_options.timeoutMs)));
            return;
        }
    }
    const auto data = m_data;
    for (DataConnection *d : data) {
        if (d->deadline.hasExpired())
            dropData(
                d, QStringLiteral("no answer within %1").arg(secondsText(m_options.timeoutMs)));
    }
}

} // namespace Punchline
