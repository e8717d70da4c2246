#include "dhtclient.h"

#include "common/hostport.h"
#include "common/logging.h"

#include <QDateTime>
#include <QElapsedTimer>
#include <QMetaObject>
#include <QThread>
#include <QTimer>

#include <opendht/dhtrunner.h>
#include <opendht/log.h>

#include <atomic>
#include <future>
#include <map>
#include <mutex>

namespace Punchline {

namespace {

// Where OpenDHT's thread posts to: the client, until it is gone.
struct Mailbox
{
    std::mutex mutex;
    DhtClient *target = nullptr;
};

dht::InfoHash toHash(const QByteArray &key)
{
    return dht::InfoHash(reinterpret_cast<const uint8_t *>(key.constData()), size_t(key.size()));
}

} // namespace

struct DhtClient::Impl
{
    std::unique_ptr<dht::DhtRunner> runner;
    // Puts OpenDHT has not finished announcing (the last "going offline" ones at exit).
    std::shared_ptr<std::atomic<int>> pendingPuts = std::make_shared<std::atomic<int>>(0);
    std::shared_ptr<Mailbox> mailbox = std::make_shared<Mailbox>();
    std::map<QByteArray, std::shared_future<size_t>> listens;
    Options options;
};

DhtClient::DhtClient(QObject *parent)
    : QObject(parent)
    , m_impl(std::make_unique<Impl>())
{
    m_statusTimer = new QTimer(this);
    m_statusTimer->setInterval(1000);
    connect(m_statusTimer, &QTimer::timeout, this, &DhtClient::pollStatus);
}

DhtClient::~DhtClient()
{
    stop();
}

bool DhtClient::isRunning() const
{
    return m_impl->runner != nullptr;
}

quint16 DhtClient::boundPort() const
{
    return m_impl->runner ? m_impl->runner->getBoundPort(AF_INET) : 0;
}

void DhtClient::start(const Options &options)
{
    stop();
    {
        std::lock_guard lock(m_impl->mailbox->mutex);
        m_impl->mailbox->target = this;
    }
    m_impl->options = options;
    m_localOnly = options.bootstrap.isEmpty();
    auto runner = std::make_unique<dht::DhtRunner>();
    dht::DhtRunner::Config config;
    config.threaded = true;
    config.peer_discovery = options.localDiscovery;
    config.peer_publish = options.localDiscovery;
    // Network 0 is the public OpenDHT network (the one Jami uses).
    config.dht_config.node_config.network = 0;
    config.dht_config.node_config.maintain_storage = false;
    try {
        runner->run(options.port, config);
    } catch (const std::exception &e) {
        qCWarning(lcEngine) << "dht: cannot start:" << e.what();
        Q_EMIT onlineChanged(false,
            QStringLiteral("the friend finder could not start (%1): paste both codes to connect")
                .arg(QString::fromUtf8(e.what())));
        return;
    }
    for (const QString &text : options.bootstrap) {
        QString why;
        const auto hp = parseHostPort(text, 4222, &why);
        if (!hp) {
            qCWarning(lcEngine).noquote() << "dht: bad bootstrap" << text << why;
            continue;
        }
        runner->bootstrap(hp->host.toStdString(), std::to_string(hp->port));
    }
    m_impl->runner = std::move(runner);
    m_online = false;
    m_everOnline = false;
    m_offlineSinceMs = QDateTime::currentMSecsSinceEpoch();
    m_statusTimer->start();
    qCInfo(lcEngine).noquote() << "dht: running on UDP port" << boundPort() << "bootstrap"
                               << options.bootstrap.join(QLatin1Char(','))
                               << (options.localDiscovery ? "+ local discovery" : "");
}

void DhtClient::stop()
{
    m_statusTimer->stop();
    {
        std::lock_guard lock(m_impl->mailbox->mutex);
        m_impl->mailbox->target = nullptr;
    }
    if (!m_impl->runner)
        return;
    auto runner = std::move(m_impl->runner);
    m_impl->listens.clear();
    // The last puts (friends are told "going offline") get a moment to be announced; then
    // shutdown() and join() end OpenDHT's threads. Bounded: leaving never hangs on the network.
    QElapsedTimer waited;
    waited.start();
    while (*m_impl->pendingPuts > 0 && waited.elapsed() < FlushMs)
        QThread::msleep(20);
    auto done = std::make_shared<std::promise<void>>();
    runner->shutdown([done] { done->set_value(); }, false);
    done->get_future().wait_for(std::chrono::milliseconds(FlushMs));
    runner->join();
    *m_impl->pendingPuts = 0;
    m_online = false;
}

void DhtClient::put(const QByteArray &key, const QByteArray &value, quint64 id)
{
    if (!m_impl->runner || key.size() != KeyBytes || value.size() > MaxValueBytes)
        return;
    auto v = std::make_shared<dht::Value>(
        reinterpret_cast<const uint8_t *>(value.constData()), size_t(value.size()));
    v->id = id;
    auto pending = m_impl->pendingPuts;
    ++*pending;
    m_impl->runner->put(
        toHash(key), v, [pending](bool) { --*pending; }, dht::time_point::max(), true);
}

void DhtClient::cancelPut(const QByteArray &key, quint64 id)
{
    if (m_impl->runner && key.size() == KeyBytes)
        m_impl->runner->cancelPut(toHash(key), id);
}

bool DhtClient::listen(const QByteArray &key)
{
    if (!m_impl->runner || key.size() != KeyBytes)
        return false;
    if (m_impl->listens.count(key))
        return true;
    if (int(m_impl->listens.size()) >= MaxListens)
        return false;
    std::weak_ptr<Mailbox> box = m_impl->mailbox;
    auto token = m_impl->runner->listen(toHash(key),
        [box, key](const std::vector<std::shared_ptr<dht::Value>> &values, bool expired) {
            // OpenDHT's thread: copy out at most a batch of small values, post them.
            QList<QByteArray> out;
            int dropped = 0;
            for (const auto &v : values) {
                if (!v || v->data.size() > size_t(MaxValueBytes)
                    || out.size() >= MaxValuesPerBatch) {
                    ++dropped;
                    continue;
                }
                out.append(QByteArray(
                    reinterpret_cast<const char *>(v->data.data()), qsizetype(v->data.size())));
            }
            const auto mailbox = box.lock();
            if (!mailbox)
                return false;
            std::lock_guard lock(mailbox->mutex);
            if (!mailbox->target)
                return false;
            DhtClient *client = mailbox->target;
            QMetaObject::invokeMethod(
                client,
                [client, key, out, expired, dropped] {
                    client->deliver(key, out, expired, dropped);
                },
                Qt::QueuedConnection);
            return true;
        });
    m_impl->listens.emplace(key, token.share());
    return true;
}

void DhtClient::cancelListen(const QByteArray &key)
{
    const auto it = m_impl->listens.find(key);
    if (it == m_impl->listens.end())
        return;
    if (m_impl->runner)
        m_impl->runner->cancelListen(toHash(key), it->second);
    m_impl->listens.erase(it);
}

bool DhtClient::isListening(const QByteArray &key) const
{
    return m_impl->listens.count(key) > 0;
}

void DhtClient::deliver(
    const QByteArray &key, const QList<QByteArray> &values, bool expired, int dropped)
{
    m_valuesSeen += values.size();
    m_valuesDropped += dropped;
    if (!m_impl->listens.count(key))
        return; // no longer wanted
    if (!values.isEmpty())
        Q_EMIT valuesReceived(key, values, expired);
}

void DhtClient::pollStatus()
{
    if (!m_impl->runner)
        return;
    const auto v4 = m_impl->runner->getNodesStats(AF_INET);
    const auto v6 = m_impl->runner->getNodesStats(AF_INET6);
    const unsigned good = v4.good_nodes + v6.good_nodes;
    const qint64 now = QDateTime::currentMSecsSinceEpoch();
    if (good > 0) {
        if (!m_online) {
            m_online = true;
            m_everOnline = true;
            Q_EMIT onlineChanged(true,
                m_localOnly ? QStringLiteral("friend finder on: on this local network only")
                            : QStringLiteral("friend finder online"));
        }
        return;
    }
    if (m_online) {
        m_online = false;
        m_offlineSinceMs = now;
    }
    // Say it once the bootstrap had its chance (and again if it comes back and goes).
    if (now - m_offlineSinceMs >= OfflineAfterMs && m_offlineSinceMs != 0) {
        m_offlineSinceMs = 0; // reported
        Q_EMIT onlineChanged(false,
            m_localOnly
                ? QStringLiteral("friend finder: no other node on this network yet — paste both "
                                 "codes to connect")
                : QStringLiteral("friend finder offline (no DHT node answers at %1) — paste both "
                                 "codes to connect")
                      .arg(m_impl->options.bootstrap.join(QStringLiteral(", "))));
    }
}

} // namespace Punchline
