#include "discovery.h"

#include "common/logging.h"
#include "stun/stunclient.h"

#include <QDeadlineTimer>
#include <QNetworkAccessManager>
#include <QNetworkInterface>
#include <QNetworkReply>
#include <QNetworkRequest>
#include <QTimer>
#include <QUrl>
#include <utility>

namespace Punchline {

namespace {

// The longest IPv6 text form is 45 characters; anything much longer is not an address.
constexpr int maxEchoBody = 256;

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

// For quoting a stranger's bytes in a message: short, printable.
QString quoted(const QByteArray &bytes)
{
    QString text = QString::fromUtf8(bytes.left(40)).simplified();
    for (QChar &c : text) {
        if (!c.isPrint())
            c = QLatin1Char('?');
    }
    return QLatin1Char('"') + text
        + (bytes.size() > 40 ? QLatin1String("…\"") : QLatin1String("\""));
}

QString joinMessages(const QList<Error> &errors)
{
    QStringList parts;
    for (const Error &e : errors)
        parts.append(e.message);
    return parts.join(QLatin1String("; "));
}

// hopconn returned the literal "timeout" as an IP: accept exactly one address literal with
// surrounding whitespace, nothing else.
std::optional<QHostAddress> addressLiteral(const QByteArray &body)
{
    const QByteArray text = body.trimmed();
    if (text.isEmpty() || text.size() > 45)
        return std::nullopt;
    for (const char c : text) {
        const bool hex = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
        if (!hex && c != '.' && c != ':')
            return std::nullopt;
    }
    QHostAddress address;
    if (!address.setAddress(QString::fromLatin1(text)))
        return std::nullopt;
    // QHostAddress also takes inet_aton shorthands like "10.1" or "3405803783".
    if (address.protocol() == QAbstractSocket::IPv4Protocol && text.count('.') != 3)
        return std::nullopt;
    return normalizedAddress(address);
}

bool isUsableLocal(const QHostAddress &address, const QNetworkAddressEntry &entry)
{
    if (address.isNull() || address.isMulticast() || address.isLinkLocal() || address.isBroadcast())
        return false;
    if (address.protocol() == QAbstractSocket::IPv4Protocol)
        return address != QHostAddress(QHostAddress::AnyIPv4);
    if (address.protocol() == QAbstractSocket::IPv6Protocol)
        return address != QHostAddress(QHostAddress::AnyIPv6) && !address.isSiteLocal()
            && !(entry.isLifetimeKnown() && entry.preferredLifetime().hasExpired()); // deprecated
    return false;
}

} // namespace

Discovery::Discovery(quint16 localPort, const QStringList &stunServers, const QString &ipEchoUrl,
    int timeoutMs, const QStringList &localAddressFilter, QObject *parent)
    : QObject(parent)
    , m_localPort(localPort)
    , m_stunServers(stunServers)
    , m_ipEchoUrl(ipEchoUrl.trimmed())
    , m_timeoutMs(timeoutMs)
    , m_localAddressFilter(localAddressFilter)
{
    m_ipEchoTimer = new QTimer(this);
    m_ipEchoTimer->setSingleShot(true);
    connect(m_ipEchoTimer, &QTimer::timeout, this, [this] {
        if (!m_reply)
            return;
        m_ipEchoAbortReason = QStringLiteral("no answer within %1").arg(durationText(m_timeoutMs));
        m_reply->abort(); // finished() follows at once
    });
    m_publicCheck = new QTimer(this);
    connect(m_publicCheck, &QTimer::timeout, this, [this] {
        if (m_publicProbe < 0 || m_publicProbe >= m_probes.size())
            return;
        // A server that closed the connection is asked again by its re-probe (capped likewise).
        if (StunClient *client = m_probes.at(m_publicProbe).client; client && client->isConnected())
            client->checkNow();
    });
}

Discovery::~Discovery()
{
    stop();
}

void Discovery::start()
{
    stop();
    const int run = ++m_run;
    m_running = true;
    m_finished = false;
    m_result = DiscoveryResult();
    m_publicProbe = -1;
    m_ipEchoError.reset();
    m_localNotes.clear();

    m_result.local = localCandidates(m_localPort, m_localAddressFilter);
    for (const QString &text : m_localAddressFilter) {
        QHostAddress address;
        if (!address.setAddress(text.trimmed()))
            m_localNotes.append(QStringLiteral("\"%1\" is not an IP address.").arg(text.trimmed()));
        else if (!m_result.local.contains(Endpoint { normalizedAddress(address), m_localPort }))
            m_localNotes.append(QStringLiteral("The local address %1 you chose is not usable on "
                                               "this computer.")
                                    .arg(text.trimmed()));
    }

    QStringList asked; // each server once, however it is spelled ("Stun.X" = "stun.x:3478")
    for (const QString &raw : m_stunServers) {
        const QString server = raw.trimmed();
        const std::optional<HostPort> parsed = StunClient::parseServer(server);
        const QString key = parsed ? parsed->toString() : server;
        if (server.isEmpty() || asked.contains(key))
            continue;
        asked.append(key);
        Probe probe;
        probe.client = makeClient(server);
        probe.server = server;
        m_probes.append(probe);
    }
    m_stunPending = int(m_probes.size());
    qCDebug(lcStun) << "discovery from port" << m_localPort << "with" << m_stunPending
                    << "STUN servers, IP echo" << (m_ipEchoUrl.isEmpty() ? "off" : "on");
    if (m_probes.isEmpty()) {
        // Nothing asynchronous to wait for: still report later, never from inside start().
        QMetaObject::invokeMethod(
            this,
            [this, run] {
                if (run == m_run && m_running)
                    stunDone();
            },
            Qt::QueuedConnection);
        return;
    }
    for (const Probe &p : std::as_const(m_probes))
        p.client->start();
}

StunClient *Discovery::makeClient(const QString &server)
{
    StunClient::Options options;
    options.timeoutMs = m_timeoutMs;
    options.keepaliveIntervalMs = m_keepaliveIntervalMs;
    auto *client = new StunClient(m_localPort, server, options, this);
    connect(client, &StunClient::mapped, this,
        [this, client](const Endpoint &s, const Endpoint &m) { onStunMapped(client, s, m); });
    connect(client, &StunClient::failed, this,
        [this, client](const Error &e) { onStunFailed(client, e); });
    connect(client, &StunClient::mappingChanged, this,
        [this, client](const Endpoint &m) { onStunMappingChanged(client, m); });
    connect(
        client, &StunClient::lost, this, [this, client](const Error &e) { onStunLost(client, e); });
    return client;
}

void Discovery::stop()
{
    m_running = false;
    m_stunPending = 0;
    for (Probe &p : m_probes) {
        if (p.client) {
            p.client->disconnect(this);
            p.client->stop();
            p.client->deleteLater();
        }
    }
    m_probes.clear();
    m_publicCheck->stop();
    m_ipEchoTimer->stop();
    if (m_reply) {
        QNetworkReply *reply = std::exchange(m_reply, nullptr);
        reply->disconnect(this);
        reply->abort();
        reply->deleteLater();
    }
}

int Discovery::keepaliveConnections() const
{
    int open = 0;
    for (const Probe &p : m_probes)
        open += p.client && p.client->isConnected() ? 1 : 0;
    return open;
}

QList<Endpoint> Discovery::localCandidates(quint16 port, const QStringList &filter)
{
    QList<QHostAddress> wanted;
    for (const QString &text : filter) {
        QHostAddress address;
        if (address.setAddress(text.trimmed()))
            wanted.append(normalizedAddress(address));
    }
    const bool restricted = !filter.isEmpty();

    QList<Endpoint> result;
    const QList<QNetworkInterface> interfaces = QNetworkInterface::allInterfaces();
    for (const QNetworkInterface &interface : interfaces) {
        const QNetworkInterface::InterfaceFlags flags = interface.flags();
        if (!flags.testFlag(QNetworkInterface::IsUp)
            || !flags.testFlag(QNetworkInterface::IsRunning))
            continue;
        const bool loopbackInterface = flags.testFlag(QNetworkInterface::IsLoopBack);
        const QList<QNetworkAddressEntry> entries = interface.addressEntries();
        for (const QNetworkAddressEntry &entry : entries) {
            QHostAddress address = normalizedAddress(entry.ip());
            address.setScopeId(QString());
            if (!isUsableLocal(address, entry))
                continue;
            const bool named = wanted.contains(address);
            if (restricted && !named)
                continue;
            // Loopback only helps a "friend" on this very machine (tests, demos): on request.
            if ((loopbackInterface || address.isLoopback()) && !named)
                continue;
            const Endpoint endpoint { address, port };
            if (!result.contains(endpoint))
                result.append(endpoint);
        }
    }
    return result;
}

NatKind Discovery::classifyNat(const QList<StunAnswer> &answers)
{
    bool compared = false;
    for (qsizetype i = 0; i < answers.size(); ++i) {
        for (qsizetype j = i + 1; j < answers.size(); ++j) {
            const StunAnswer &a = answers.at(i);
            const StunAnswer &b = answers.at(j);
            // Two ports of one server address cannot tell an address-dependent NAT apart, and
            // an IPv4 and an IPv6 mapping are different paths, not different mappings.
            if (normalizedAddress(a.serverEndpoint.address)
                    == normalizedAddress(b.serverEndpoint.address)
                || normalizedAddress(a.mapped.address).protocol()
                    != normalizedAddress(b.mapped.address).protocol())
                continue;
            compared = true;
            if (a.mapped != b.mapped)
                return NatKind::EndpointDependent;
        }
    }
    return compared ? NatKind::EndpointIndependent : NatKind::Unknown;
}

std::optional<QHostAddress> Discovery::parseEchoedAddress(const QByteArray &body)
{
    const std::optional<QHostAddress> address = addressLiteral(body);
    if (!address || address->isLoopback() || address->isLinkLocal() || address->isMulticast()
        || address->isBroadcast() || *address == QHostAddress(QHostAddress::AnyIPv4)
        || *address == QHostAddress(QHostAddress::AnyIPv6))
        return std::nullopt;
    return address;
}

Discovery::Probe *Discovery::probeFor(StunClient *client)
{
    for (Probe &p : m_probes) {
        if (p.client == client)
            return &p;
    }
    return nullptr;
}

void Discovery::onStunMapped(StunClient *client, const Endpoint &server, const Endpoint &mapped)
{
    Probe *probe = probeFor(client);
    if (!probe)
        return;
    if (probe->reprobing) {
        // Asked again after a lost keepalive: the same server, perhaps a new mapping.
        probe->reprobing = false;
        probe->mappedSince.start();
        probe->answer->serverEndpoint = server;
        if (probe->answer->mapped != mapped)
            onStunMappingChanged(client, mapped);
        return;
    }
    probe->answer = StunAnswer { probe->server, server, mapped };
    probe->mappedSince.start();
    --m_stunPending;
    if (m_finished) {
        lateAnswer();
        return;
    }
    // Two servers at different addresses saw the same public endpoint: that is all a code needs
    // (endpoint-independent mapping, the endpoint to punch). Slower servers, and ones that never
    // answer (each would hold the code for the whole timeout), only add to the result later.
    if (m_stunPending == 0 || classifyNat(answers()) == NatKind::EndpointIndependent)
        stunDone();
}

void Discovery::lateAnswer()
{
    // After finished(): the answers, the NAT kind and the explanation follow, so result() is
    // whole; the public endpoint stays the one the code was made from (a server that
    // contradicts it makes the NAT endpoint-dependent, which the explanation then says).
    m_result.answers = answers();
    m_result.nat = classifyNat(m_result.answers);
    m_result.explanation = explain();
}

void Discovery::onStunFailed(StunClient *client, const Error &error)
{
    Probe *probe = probeFor(client);
    if (!probe)
        return;
    probe->client = nullptr;
    client->deleteLater();
    if (probe->reprobing) {
        // Still no answer: the earlier one stays our best knowledge; try again later.
        qCDebug(lcStun).noquote() << "asking again failed:" << error.message;
        probe->reprobeDelayMs
            = qBound(ReprobeDelayMs, probe->reprobeDelayMs * 2, ReprobeMaxDelayMs);
        scheduleReprobe(probe - m_probes.data());
        return;
    }
    probe->error = error;
    if (--m_stunPending == 0 && !m_finished)
        stunDone();
}

void Discovery::onStunMappingChanged(StunClient *client, const Endpoint &mapped)
{
    Probe *probe = probeFor(client);
    if (!probe || !probe->answer)
        return;
    probe->answer->mapped = mapped;
    if (!m_finished)
        return; // finish() will use the new mapping
    // Everything derived from the answers follows, so result() never mixes old and new.
    m_result.answers = answers();
    m_result.nat = classifyNat(m_result.answers);
    const bool isPublic = m_publicProbe >= 0 && probe == &m_probes[m_publicProbe];
    if (isPublic)
        m_result.publicEndpoint = mapped;
    m_result.explanation = explain();
    if (isPublic) {
        Q_EMIT publicMappingChanged(mapped);
    } else if (m_result.publicEndpoint
        && normalizedAddress(mapped.address).protocol()
            == normalizedAddress(m_result.publicEndpoint->address).protocol()
        && normalizedAddress(mapped.address)
            != normalizedAddress(m_result.publicEndpoint->address)) {
        // Another server sees us at a new IP address: our public endpoint has most likely moved
        // too, so its server is asked now rather than at its next check.
        checkPublic();
    }
}

int Discovery::publicCheckMs() const
{
    return qMax(1, qMin(m_keepaliveIntervalMs, m_publicCheckIntervalMs));
}

void Discovery::checkPublic()
{
    if (m_publicProbe < 0 || m_publicProbe >= m_probes.size())
        return;
    Probe &p = m_probes[m_publicProbe];
    if (p.client) {
        if (p.client->isConnected())
            p.client->checkNow();
        return; // else being asked already
    }
    if (!p.answer)
        return;
    p.reprobing = true;
    p.client = makeClient(p.server);
    p.client->start();
}

void Discovery::onStunLost(StunClient *client, const Error &error)
{
    Probe *probe = probeFor(client);
    if (!probe)
        return;
    // The answer stays valid: it is still our best knowledge of the mapping.
    probe->client = nullptr;
    client->deleteLater();
    if (m_finished) {
        const bool isPublic = m_publicProbe >= 0 && probe == &m_probes[m_publicProbe];
        const int interval = isPublic ? publicCheckMs() : m_keepaliveIntervalMs;
        const bool keptAlive
            = probe->mappedSince.isValid() && probe->mappedSince.elapsed() >= interval;
        probe->reprobeDelayMs = keptAlive
            ? ReprobeDelayMs
            : qBound(ReprobeDelayMs, probe->reprobeDelayMs * 2, qMax(ReprobeDelayMs, interval));
        scheduleReprobe(probe - m_probes.data());
        Q_EMIT keepaliveLost(error);
    }
}

void Discovery::scheduleReprobe(qsizetype index)
{
    const int run = m_run;
    QTimer::singleShot(m_probes.at(index).reprobeDelayMs, this, [this, run, index] {
        if (run != m_run || !m_running || index >= m_probes.size())
            return;
        Probe &p = m_probes[index];
        if (p.client || !p.answer)
            return;
        p.reprobing = true;
        p.client = makeClient(p.server);
        p.client->start();
    });
}

void Discovery::stunDone()
{
    bool answered = false;
    for (const Probe &p : std::as_const(m_probes))
        answered = answered || p.answer.has_value();
    // The IP echo is a last resort: it tells one more third party about us and cannot learn
    // the port, so it runs only when STUN gave nothing.
    if (!answered && !m_ipEchoUrl.isEmpty()) {
        startIpEcho();
        return;
    }
    finish();
}

void Discovery::startIpEcho()
{
    const QUrl url(m_ipEchoUrl, QUrl::StrictMode);
    const QString scheme = url.scheme();
    if (!url.isValid() || url.host().isEmpty()
        || (scheme != QLatin1String("http") && scheme != QLatin1String("https"))) {
        finishIpEcho(std::nullopt, QStringLiteral("not an http(s) address"));
        return;
    }
    if (!m_network)
        m_network = new QNetworkAccessManager(this);
    QNetworkRequest request(url);
    request.setHeader(
        QNetworkRequest::UserAgentHeader, QByteArrayLiteral("Punchline/" PUNCHLINE_VERSION));
    request.setRawHeader("Accept", "text/plain");
    request.setMaximumRedirectsAllowed(3);
    m_ipEchoAbortReason.clear();
    m_reply = m_network->get(request);
    connect(m_reply, &QNetworkReply::finished, this, &Discovery::onIpEchoFinished);
    connect(m_reply, &QNetworkReply::downloadProgress, this, [this](qint64 received, qint64) {
        if (m_reply && received > maxEchoBody && m_ipEchoAbortReason.isEmpty()) {
            m_ipEchoAbortReason = QStringLiteral("the answer is too long to be an IP address");
            m_reply->abort();
        }
    });
    m_ipEchoTimer->start(m_timeoutMs);
}

void Discovery::onIpEchoFinished()
{
    QNetworkReply *reply = std::exchange(m_reply, nullptr);
    if (!reply)
        return;
    reply->deleteLater();
    m_ipEchoTimer->stop();
    if (!m_ipEchoAbortReason.isEmpty()) {
        finishIpEcho(std::nullopt, m_ipEchoAbortReason);
        return;
    }
    const QVariant status = reply->attribute(QNetworkRequest::HttpStatusCodeAttribute);
    if (status.isValid() && status.toInt() != 200) {
        finishIpEcho(
            std::nullopt, QStringLiteral("the service answered HTTP %1").arg(status.toInt()));
        return;
    }
    if (reply->error() != QNetworkReply::NoError) {
        finishIpEcho(std::nullopt, lowerFirst(reply->errorString()));
        return;
    }
    const QByteArray body = reply->read(maxEchoBody + 1);
    const std::optional<QHostAddress> address = parseEchoedAddress(body);
    if (!address) {
        const bool isAddress = addressLiteral(body).has_value();
        finishIpEcho(std::nullopt,
            QStringLiteral("the answer %1 is not %2")
                .arg(quoted(body),
                    isAddress ? QLatin1String("a public IP address")
                              : QLatin1String("an IP address")));
        return;
    }
    finishIpEcho(address, {});
}

void Discovery::finishIpEcho(const std::optional<QHostAddress> &address, const QString &why)
{
    if (address) {
        m_result.publicEndpoint = Endpoint { *address, m_localPort };
        m_result.publicSource = PublicSource::IpEcho;
        m_result.portGuessed = true;
    } else {
        m_ipEchoError = Error { ErrorCode::IpEchoFailed, m_ipEchoUrl + QLatin1String(": ") + why };
    }
    finish();
}

QList<StunAnswer> Discovery::answers() const
{
    QList<StunAnswer> result;
    for (const Probe &p : m_probes) {
        if (p.answer)
            result.append(*p.answer);
    }
    return result;
}

void Discovery::finish()
{
    m_result.answers = answers();
    if (!m_result.answers.isEmpty()) {
        // Prefer an IPv4 mapping: that is where the NAT (and so the hole to punch) is.
        for (qsizetype i = 0; i < m_probes.size() && m_publicProbe < 0; ++i) {
            const auto &answer = m_probes.at(i).answer;
            if (answer
                && normalizedAddress(answer->mapped.address).protocol()
                    == QAbstractSocket::IPv4Protocol)
                m_publicProbe = int(i);
        }
        for (qsizetype i = 0; i < m_probes.size() && m_publicProbe < 0; ++i) {
            if (m_probes.at(i).answer)
                m_publicProbe = int(i);
        }
        m_result.publicEndpoint = m_probes.at(m_publicProbe).answer->mapped;
        m_result.publicSource = PublicSource::Stun;
        m_result.portGuessed = false;
    }
    m_result.nat = classifyNat(m_result.answers);
    m_result.errors.clear();
    for (const Probe &p : std::as_const(m_probes)) {
        if (p.error)
            m_result.errors.append(*p.error);
    }
    if (m_ipEchoError)
        m_result.errors.append(*m_ipEchoError);
    m_result.explanation = explain();
    m_finished = true;
    if (m_publicProbe >= 0 && publicCheckMs() < m_keepaliveIntervalMs)
        m_publicCheck->start(publicCheckMs());
    qCDebug(lcStun) << "discovery finished:" << m_result.explanation;
    Q_EMIT finished(m_result);
}

QString Discovery::explain() const
{
    const DiscoveryResult &r = m_result;
    const bool stunEnabled = !m_probes.isEmpty();
    QList<Error> stunErrors;
    for (const Probe &p : m_probes) {
        if (p.error)
            stunErrors.append(*p.error);
    }
    const QString localOnly = QStringLiteral(
        "only your local addresses are offered, which works for a friend on the same network.");

    QString text;
    if (r.publicSource == PublicSource::Stun) {
        if (r.nat == NatKind::EndpointDependent) {
            text = QStringLiteral("Your network changes ports per destination (symmetric NAT): a "
                                  "direct connection is likely to fail.");
        } else if (r.nat == NatKind::EndpointIndependent) {
            text = QStringLiteral("Your public address is %1. STUN servers at different addresses "
                                  "saw the same port, so your network keeps one port for every "
                                  "destination, which suits a direct connection.")
                       .arg(r.publicEndpoint->toString());
        } else {
            text
                = QStringLiteral("Your public address is %1, learned from %2. Whether your "
                                 "network keeps the same port for every destination is unknown: "
                                 "that takes answers from two STUN servers at different addresses.")
                      .arg(r.publicEndpoint->toString(), m_probes.at(m_publicProbe).server);
        }
        if (!stunErrors.isEmpty())
            text += QStringLiteral(" Not every STUN server answered (%1).")
                        .arg(joinMessages(stunErrors));
    } else {
        const QString stunPart = stunEnabled
            ? QStringLiteral("No STUN server answered (%1)").arg(joinMessages(stunErrors))
            : QStringLiteral("STUN is disabled");
        if (r.publicSource == PublicSource::IpEcho) {
            text = stunPart
                + QStringLiteral("; your public address was taken from an IP echo "
                                 "service, so its port is a guess.");
        } else if (m_ipEchoError) {
            text = stunPart
                + QStringLiteral(" and the IP echo service failed (%1): ")
                      .arg(m_ipEchoError->message)
                + localOnly;
        } else if (stunEnabled) {
            text = stunPart + QStringLiteral(" and IP echo is disabled: ") + localOnly;
        } else {
            text = QStringLiteral("Neither STUN nor IP echo is enabled: ") + localOnly;
        }
    }
    if (r.local.isEmpty())
        text += QStringLiteral(" No usable local network address was found.");
    for (const QString &note : m_localNotes)
        text += QLatin1Char(' ') + note;
    return text;
}

} // namespace Punchline
