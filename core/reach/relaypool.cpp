#include "relaypool.h"

#include "common/logging.h"

#include <QTimer>

namespace Punchline {

struct RelayPool::Slot
{
    TurnServer server;
    TurnClient *client = nullptr;
    QTimer retry;
    int retryMs = 0;
    bool answered = false; // allocated or failed at least once
    QString status;
    QString lastError; // reported already
};

RelayPool::RelayPool(const QStringList &servers, QObject *parent)
    : RelayPool(servers, Options {}, parent)
{
}

RelayPool::RelayPool(const QStringList &servers, const Options &options, QObject *parent)
    : QObject(parent)
    , m_options(options)
    , m_texts(servers)
{
}

RelayPool::~RelayPool()
{
    stop();
    qDeleteAll(m_slots);
}

void RelayPool::start()
{
    if (m_started)
        return;
    m_started = true;
    for (const QString &text : m_texts) {
        Error error;
        const std::optional<TurnServer> server = parseTurnServer(text, &error);
        if (!server) {
            m_unreadable << error.message;
            QMetaObject::invokeMethod(
                this, [this, error] { Q_EMIT errorOccurred(error); }, Qt::QueuedConnection);
            continue;
        }
        auto *slot = new Slot;
        slot->server = *server;
        slot->retry.setSingleShot(true);
        connect(&slot->retry, &QTimer::timeout, this, [this, slot] { startSlot(slot); });
        slot->status = QStringLiteral("asking TURN server %1 for a relayed address")
                           .arg(server->displayName());
        m_slots.append(slot);
    }
    for (Slot *slot : std::as_const(m_slots))
        startSlot(slot);
}

void RelayPool::stop()
{
    m_started = false;
    for (Slot *slot : std::as_const(m_slots)) {
        slot->retry.stop();
        if (slot->client) {
            slot->client->disconnect(this);
            slot->client->stop();
            slot->client->deleteLater();
            slot->client = nullptr;
        }
    }
}

void RelayPool::startSlot(Slot *slot)
{
    if (!m_started)
        return;
    if (slot->client) {
        slot->client->disconnect(this);
        slot->client->stop();
        slot->client->deleteLater();
    }
    auto *client = new TurnClient(slot->server, m_options.client, this);
    slot->client = client;
    connect(client, &TurnClient::allocated, this, [this, slot, client](const Endpoint &relayed) {
        slot->answered = true;
        slot->retryMs = 0;
        slot->lastError.clear();
        slot->status = QStringLiteral("TURN server %1 relays for you at %2")
                           .arg(slot->server.displayName(), relayed.toString());
        if (!m_serverEndpoints.contains(client->serverEndpoint()))
            m_serverEndpoints.append(client->serverEndpoint());
        Q_EMIT logLine(slot->status);
        Q_EMIT changed();
    });
    connect(
        client, &TurnClient::failed, this, [this, slot](const Error &e) { onSlotDown(slot, e); });
    connect(client, &TurnClient::lost, this, [this, slot](const Error &e) { onSlotDown(slot, e); });
    connect(client, &TurnClient::dataConnection, this, &RelayPool::dataConnection);
    connect(client, &TurnClient::logLine, this, &RelayPool::logLine);
    client->setPermissions(m_permissions);
    client->start();
}

void RelayPool::onSlotDown(Slot *slot, const Error &error)
{
    if (slot->client) {
        slot->client->disconnect(this);
        slot->client->deleteLater();
        slot->client = nullptr;
    }
    slot->answered = true;
    slot->retryMs
        = slot->retryMs == 0 ? m_options.retryMinMs : qMin(m_options.retryMaxMs, slot->retryMs * 2);
    // Wrong credentials do not fix themselves: ask again only now and then.
    if (error.message.contains(QLatin1String("user name or password")))
        slot->retryMs = m_options.retryMaxMs;
    slot->status = QStringLiteral("%1 (trying again in %2 s)")
                       .arg(error.message)
                       .arg(qMax(1, slot->retryMs / 1000));
    slot->retry.start(slot->retryMs);
    if (slot->lastError != error.message) {
        slot->lastError = error.message;
        Q_EMIT errorOccurred(error);
    }
    Q_EMIT logLine(slot->status);
    Q_EMIT changed();
}

void RelayPool::setPermissions(const QList<QHostAddress> &peers)
{
    m_permissions = peers;
    for (Slot *slot : std::as_const(m_slots)) {
        if (slot->client)
            slot->client->setPermissions(peers);
    }
}

QList<Endpoint> RelayPool::relayedEndpoints() const
{
    QList<Endpoint> out;
    for (const Slot *slot : m_slots) {
        if (slot->client && slot->client->isAllocated() && slot->client->relayedEndpoint())
            out.append(*slot->client->relayedEndpoint());
    }
    return out;
}

QString RelayPool::status() const
{
    QStringList lines = m_unreadable;
    for (const Slot *slot : m_slots)
        lines << slot->status;
    return lines.join(QLatin1Char('\n'));
}

bool RelayPool::settled() const
{
    for (const Slot *slot : m_slots) {
        if (!slot->answered)
            return false;
    }
    return true;
}

} // namespace Punchline
