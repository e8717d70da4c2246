#include "stunclient.h"

#include "common/logging.h"
#include "net/dialer.h"
#include "net/nativesocket.h"

#include <QHostInfo>
#include <QTcpSocket>
#include <QTimer>
#include <cerrno>
#include <cstring>

namespace Punchline {

namespace {

QString lowerFirst(QString text)
{
    if (!text.isEmpty())
        text[0] = text.at(0).toLower();
    return text;
}

QString durationText(int ms)
{
    return ms % 1000 == 0 ? QStringLiteral("%1 s").arg(ms / 1000) : QStringLiteral("%1 ms").arg(ms);
}

} // namespace

StunClient::StunClient(
    quint16 localPort, const QString &server, const Options &options, QObject *parent)
    : QObject(parent)
    , m_localPort(localPort)
    , m_server(server.trimmed())
    , m_options(options)
{
    m_timeout = new QTimer(this);
    m_timeout->setSingleShot(true);
    connect(m_timeout, &QTimer::timeout, this, &StunClient::onTimeout);
    m_keepalive = new QTimer(this);
    connect(m_keepalive, &QTimer::timeout, this, [this] {
        // A slow answer to the previous keepalive is still covered by m_timeout.
        if (!m_pending)
            sendRequest();
    });
}

StunClient::~StunClient()
{
    closeConnection();
}

std::optional<HostPort> StunClient::parseServer(QStringView text, QString *error)
{
    return parseHostPort(text, defaultPort, error);
}

void StunClient::start()
{
    if (m_phase != Phase::Idle)
        return;
    QString why;
    const std::optional<HostPort> address = parseServer(m_server, &why);
    if (!address) {
        m_phase = Phase::Resolving;
        // Report later: callers never get a signal from inside start().
        QMetaObject::invokeMethod(
            this,
            [this, why] {
                breakDown(
                    QStringLiteral("not a server address of the form host:port (%1)").arg(why));
            },
            Qt::QueuedConnection);
        return;
    }
    m_serverPort = address->port;
    m_timeout->start(m_options.timeoutMs);

    const QHostAddress literal(address->host);
    if (!literal.isNull()) {
        m_addresses = { literal };
        connectNext();
        return;
    }
    m_phase = Phase::Resolving;
    m_lookupId = QHostInfo::lookupHost(address->host, this, &StunClient::onResolved);
}

void StunClient::stop()
{
    closeConnection();
    m_phase = Phase::Finished;
}

bool StunClient::isConnected() const
{
    return m_socket && m_socket->state() == QAbstractSocket::ConnectedState;
}

void StunClient::onResolved(const QHostInfo &info)
{
    m_lookupId = -1;
    if (m_phase != Phase::Resolving)
        return;
    if (info.error() != QHostInfo::NoError || info.addresses().isEmpty()) {
        breakDown(
            QStringLiteral("the name cannot be resolved (%1)").arg(lowerFirst(info.errorString())));
        return;
    }
    for (const QHostAddress &a : info.addresses()) {
        if (a.protocol() == QAbstractSocket::IPv4Protocol
            || a.protocol() == QAbstractSocket::IPv6Protocol)
            m_addresses.append(a);
    }
    connectNext();
}

void StunClient::connectNext()
{
    // Resolvers put the preferred address first (RFC 6724); the others are fallbacks.
    if (m_addresses.isEmpty()) {
        breakDown(m_lastConnectError.isEmpty() ? QStringLiteral("no usable address")
                                               : m_lastConnectError);
        return;
    }
    m_phase = Phase::Connecting;
    m_serverEndpoint = Endpoint { normalizedAddress(m_addresses.takeFirst()), m_serverPort };
    Net::Dialer::Options dialOptions;
    dialOptions.timeoutMs = qMax(1, m_timeout->remainingTime());
    m_dialer = new Net::Dialer(m_localPort, m_serverEndpoint, dialOptions, this);
    connect(m_dialer, &Net::Dialer::connected, this, &StunClient::onDialed);
    connect(m_dialer, &Net::Dialer::failed, this,
        [this](int err, const QString &) { onDialFailed(err); });
    m_dialer->start();
}

void StunClient::onDialFailed(int err)
{
    m_dialer->deleteLater();
    m_dialer = nullptr;
    m_lastConnectError = err == ETIMEDOUT
        ? QStringLiteral("no answer within %1").arg(durationText(m_options.timeoutMs))
        : lowerFirst(QString::fromLocal8Bit(std::strerror(err)));
    // For a name, say which of its addresses this was about.
    if (m_serverEndpoint.toString() != m_server)
        m_lastConnectError += QLatin1String(" (") + m_serverEndpoint.toString() + QLatin1Char(')');
    qCDebug(lcStun) << m_server << "connect failed:" << m_lastConnectError;
    connectNext();
}

void StunClient::onDialed(qintptr fd)
{
    m_dialer->deleteLater();
    m_dialer = nullptr;
    m_socket = new QTcpSocket(this);
    if (!m_socket->setSocketDescriptor(fd)) {
        Net::closeFd(fd);
        breakDown(QStringLiteral("cannot use the connection (%1)").arg(m_socket->errorString()));
        return;
    }
    connect(m_socket, &QTcpSocket::readyRead, this, &StunClient::onReadyRead);
    connect(m_socket, &QTcpSocket::disconnected, this, &StunClient::onSocketGone);
    connect(m_socket, &QTcpSocket::errorOccurred, this, &StunClient::onSocketGone);
    m_phase = Phase::Querying;
    qCDebug(lcStun) << m_server << "connected from port" << m_localPort << "to"
                    << m_serverEndpoint.toString();
    sendRequest();
}

void StunClient::checkNow()
{
    if (m_phase != Phase::KeepingAlive || m_pending)
        return;
    sendRequest();
    if (m_options.keepaliveIntervalMs > 0)
        m_keepalive->start(m_options.keepaliveIntervalMs);
}

void StunClient::sendRequest()
{
    m_pending = StunMessage::bindingRequest();
    m_socket->write(m_pending->toBytes());
    if (m_phase == Phase::KeepingAlive)
        m_timeout->start(m_options.timeoutMs);
}

void StunClient::onReadyRead()
{
    m_buffer.append(m_socket->readAll());
    while (m_phase == Phase::Querying || m_phase == Phase::KeepingAlive) {
        const StunFrame frame = StunMessage::peekFrame(m_buffer);
        if (frame.status == StunFrame::Status::Incomplete)
            return;
        if (frame.status == StunFrame::Status::Invalid) {
            breakDown(QStringLiteral("the server does not speak STUN (%1)").arg(frame.reason));
            return;
        }
        const StunParseResult parsed
            = StunMessage::parse(QByteArrayView(m_buffer).first(frame.size));
        m_buffer.remove(0, frame.size);
        if (!parsed.ok()) {
            breakDown(
                QStringLiteral("the server sent a broken STUN message (%1)").arg(parsed.reason));
            return;
        }
        if (!handleMessage(*parsed.message))
            return;
    }
}

bool StunClient::handleMessage(const StunMessage &message)
{
    // Anything else on the stream (indications, answers to requests we gave up on) is not ours
    // to act on: the transaction id is what proves an answer belongs to our request.
    if (!m_pending || !message.isResponseTo(*m_pending)) {
        qCDebug(lcStun) << m_server << "ignored a STUN message that answers no pending request";
        return true;
    }
    m_pending.reset();
    m_timeout->stop();
    ++m_answerCount;

    if (message.messageClass() == StunMessage::Class::ErrorResponse) {
        const auto error = message.errorAttribute();
        breakDown(error ? QStringLiteral("the server refused the request (%1 %2)")
                              .arg(error->code)
                              .arg(error->reason)
                        : QStringLiteral("the server refused the request"));
        return false;
    }
    if (!message.unknownRequiredAttributes().isEmpty()) {
        QStringList types;
        for (const quint16 type : message.unknownRequiredAttributes())
            types.append(QStringLiteral("0x%1").arg(type, 4, 16, QLatin1Char('0')));
        breakDown(QStringLiteral("the answer has attributes we would have to understand (%1)")
                      .arg(types.join(QLatin1String(", "))));
        return false;
    }
    const std::optional<Endpoint> reflexive = message.reflexiveAddress();
    if (!reflexive) {
        breakDown(QStringLiteral("the answer has no mapped address"));
        return false;
    }

    if (m_phase == Phase::Querying) {
        m_mapped = reflexive;
        m_phase = Phase::KeepingAlive;
        if (m_options.keepaliveIntervalMs > 0)
            m_keepalive->start(m_options.keepaliveIntervalMs);
        qCDebug(lcStun) << m_server << "maps port" << m_localPort << "to" << reflexive->toString();
        Q_EMIT mapped(m_serverEndpoint, *reflexive);
        return m_phase == Phase::KeepingAlive; // the receiver may have stopped us
    }
    if (*reflexive != *m_mapped) {
        qCInfo(lcStun) << m_server << "mapping changed from" << m_mapped->toString() << "to"
                       << reflexive->toString();
        m_mapped = reflexive;
        Q_EMIT mappingChanged(*reflexive);
        return m_phase == Phase::KeepingAlive;
    }
    return true;
}

void StunClient::onTimeout()
{
    const QString limit = durationText(m_options.timeoutMs);
    switch (m_phase) {
    case Phase::Resolving:
        breakDown(QStringLiteral("the name was not resolved within %1").arg(limit));
        return;
    case Phase::Connecting:
        breakDown(QStringLiteral("no answer within %1").arg(limit));
        return;
    case Phase::Querying:
        breakDown(QStringLiteral("connected, but no STUN answer within %1").arg(limit));
        return;
    case Phase::KeepingAlive:
        breakDown(QStringLiteral("no answer to a keepalive request within %1").arg(limit));
        return;
    case Phase::Idle:
    case Phase::Finished:
        return;
    }
}

void StunClient::onSocketGone()
{
    if (m_phase != Phase::Querying && m_phase != Phase::KeepingAlive)
        return;
    if (m_socket->error() == QAbstractSocket::RemoteHostClosedError
        || m_socket->error() == QAbstractSocket::UnknownSocketError)
        breakDown(QStringLiteral("the server closed the connection"));
    else
        breakDown(
            QStringLiteral("the connection broke (%1)").arg(lowerFirst(m_socket->errorString())));
}

void StunClient::breakDown(const QString &why)
{
    if (m_phase == Phase::Finished)
        return;
    const bool wasMapped = m_phase == Phase::KeepingAlive;
    closeConnection();
    m_phase = Phase::Finished;
    const Error error { ErrorCode::StunFailed, m_server + QLatin1String(": ") + why };
    qCDebug(lcStun) << (wasMapped ? "lost:" : "failed:") << error.message;
    if (wasMapped)
        Q_EMIT lost(error);
    else
        Q_EMIT failed(error);
}

void StunClient::closeConnection()
{
    m_timeout->stop();
    m_keepalive->stop();
    m_pending.reset();
    m_buffer.clear();
    if (m_lookupId >= 0) {
        QHostInfo::abortHostLookup(m_lookupId);
        m_lookupId = -1;
    }
    if (m_dialer) {
        m_dialer->disconnect(this);
        m_dialer->abort();
        m_dialer->deleteLater();
        m_dialer = nullptr;
    }
    if (m_socket) {
        // We may be inside one of the socket's own signals: detach now, delete later.
        m_socket->disconnect(this);
        // Reset rather than close: our FIN would hold this 4-tuple in TIME_WAIT for a minute,
        // and asking the same server again from the shared port would fail meanwhile.
        Net::setAbortiveClose(m_socket->socketDescriptor());
        m_socket->abort();
        m_socket->deleteLater();
        m_socket = nullptr;
    }
}

} // namespace Punchline
