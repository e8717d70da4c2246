#include "portmapper.h"

#include "reach/natpmpbackend.h"
#include "reach/upnpbackend.h"

#include <QDeadlineTimer>
#include <QLoggingCategory>
#include <QThread>

Q_LOGGING_CATEGORY(lcPortMap, "punchline.reach.portmap")

namespace Punchline {

// Runs one backend's blocking calls on its own thread; answers go out as signals, tagged with
// the mapper's generation so an answer to an old request is recognised.
class BackendRunner : public QObject
{
    Q_OBJECT
public:
    explicit BackendRunner(std::unique_ptr<MappingBackend> backend)
        : m_backend(std::move(backend))
    {
    }

    void probe(int generation) { Q_EMIT probed(generation, m_backend->probe()); }
    void map(int generation, quint16 internalPort, quint16 externalPort, quint32 lease)
    {
        Q_EMIT mapped(generation, m_backend->map(internalPort, externalPort, lease));
    }
    void unmap(quint16 internalPort, quint16 externalPort)
    {
        m_backend->unmap(internalPort, externalPort);
    }
    void finish() { thread()->quit(); }

Q_SIGNALS:
    void probed(int generation, const Punchline::RouterAnswer &answer);
    void mapped(int generation, const Punchline::MappingAnswer &answer);

private:
    std::unique_ptr<MappingBackend> m_backend;
};

struct PortMapper::Slot
{
    MappingProtocol protocol = MappingProtocol::None;
    std::unique_ptr<QThread> thread;
    std::unique_ptr<BackendRunner> runner; // lives in thread; deleted once it has finished
    Probe probe = Probe::Idle;
    RouterAnswer router;
    QString failure; // why this backend gave no mapping (plain words)
    MappingError failureKind = MappingError::None;
};

std::vector<std::unique_ptr<MappingBackend>> PortMapper::systemBackends()
{
    std::vector<std::unique_ptr<MappingBackend>> backends;
    backends.push_back(std::make_unique<NatPmpBackend>());
    backends.push_back(std::make_unique<UpnpBackend>());
    return backends;
}

PortMapper::PortMapper(std::vector<std::unique_ptr<MappingBackend>> backends, QObject *parent)
    : PortMapper(std::move(backends), Options(), parent)
{
}

PortMapper::PortMapper(
    std::vector<std::unique_ptr<MappingBackend>> backends, Options options, QObject *parent)
    : QObject(parent)
    , m_options(options)
{
    m_renewTimer.setSingleShot(true);
    m_retryTimer.setSingleShot(true);
    connect(&m_renewTimer, &QTimer::timeout, this, [this] {
        if (m_active >= 0)
            requestMap(m_active, m_externalPort);
    });
    connect(&m_retryTimer, &QTimer::timeout, this, &PortMapper::search);
    for (auto &backend : backends) {
        const int index = int(m_slots.size());
        auto slot = std::make_unique<Slot>();
        slot->protocol = backend->protocol();
        slot->thread = std::make_unique<QThread>();
        slot->thread->setObjectName(QStringLiteral("punchline-")
            + mappingProtocolName(slot->protocol).toLower().remove(u'-'));
        slot->runner = std::make_unique<BackendRunner>(std::move(backend));
        slot->runner->moveToThread(slot->thread.get());
        connect(slot->runner.get(), &BackendRunner::probed, this,
            [this, index](int generation, const RouterAnswer &answer) {
                onProbed(index, generation, answer);
            });
        connect(slot->runner.get(), &BackendRunner::mapped, this,
            [this, index](int generation, const MappingAnswer &answer) {
                onMapped(index, generation, answer);
            });
        slot->thread->start();
        m_slots.push_back(std::move(slot));
    }
}

PortMapper::~PortMapper()
{
    stop();
}

void PortMapper::start(quint16 internalPort)
{
    if (m_stopped || internalPort == 0)
        return;
    m_port = internalPort;
    search();
}

void PortMapper::search()
{
    if (m_stopped || m_active >= 0)
        return;
    ++m_generation;
    m_retryTimer.stop();
    PortMapStatus status;
    status.state = PortMapStatus::State::Searching;
    status.text = QStringLiteral("asking your router to open port %1…").arg(m_port);
    setStatus(status);
    for (auto &slot : m_slots) {
        slot->probe = Probe::Running;
        slot->failure.clear();
        slot->failureKind = MappingError::None;
        QMetaObject::invokeMethod(
            slot->runner.get(),
            [runner = slot->runner.get(), generation = m_generation] { runner->probe(generation); },
            Qt::QueuedConnection);
    }
    if (m_slots.empty())
        advance();
}

void PortMapper::onProbed(int slot, int generation, const RouterAnswer &answer)
{
    if (generation != m_generation || m_stopped)
        return;
    Slot &s = *m_slots[size_t(slot)];
    s.router = answer;
    s.probe = answer.ok() ? Probe::Found : Probe::Failed;
    if (!answer.ok()) {
        s.failure = answer.message;
        s.failureKind = answer.error;
    }
    qCDebug(lcPortMap) << mappingProtocolName(s.protocol) << "probe:" << answer.ok()
                       << answer.message << answer.externalAddress;
    advance();
}

// The first backend in order of preference that found a router maps; one still probing
// ahead of it is waited for (NAT-PMP answers within two seconds at worst).
void PortMapper::advance()
{
    if (m_active >= 0 || m_stopped)
        return;
    for (int i = 0; i < int(m_slots.size()); ++i) {
        const Slot &s = *m_slots[size_t(i)];
        if (s.probe == Probe::Running)
            return;
        if (s.probe == Probe::Found) {
            requestMap(i, m_port);
            return;
        }
    }
    // Nothing mapped. A router that answered and said no is worth naming; silence is not.
    QString reason;
    for (const auto &s : m_slots) {
        if (s->failureKind == MappingError::Refused || s->failureKind == MappingError::Failed) {
            reason = QStringLiteral("your router did not open a port (%1: %2)")
                         .arg(mappingProtocolName(s->protocol), s->failure);
            break;
        }
    }
    giveUp(reason.isEmpty() ? QStringLiteral("your router does not offer port mapping") : reason);
}

void PortMapper::requestMap(int slot, quint16 externalPort)
{
    m_active = slot;
    m_holding = true; // from here on, stop() must ask the router to remove it
    if (!m_externalPort)
        m_externalPort = externalPort;
    QMetaObject::invokeMethod(
        m_slots[size_t(slot)]->runner.get(),
        [runner = m_slots[size_t(slot)]->runner.get(), generation = m_generation, port = m_port,
            externalPort,
            lease = m_options.leaseSeconds] { runner->map(generation, port, externalPort, lease); },
        Qt::QueuedConnection);
}

void PortMapper::onMapped(int slot, int generation, const MappingAnswer &answer)
{
    if (generation != m_generation || m_stopped || slot != m_active)
        return;
    Slot &s = *m_slots[size_t(slot)];
    const QString protocol = mappingProtocolName(s.protocol);
    const bool renewal = m_status.state == PortMapStatus::State::Mapped;
    if (!answer.ok()) {
        qCDebug(lcPortMap) << protocol << "map failed:" << answer.message;
        m_active = -1;
        m_holding = false;
        m_externalPort = 0;
        if (renewal) {
            giveUp(QStringLiteral("your router stopped keeping port %1 open (%2: %3)")
                       .arg(m_status.externalPort)
                       .arg(protocol, answer.message));
            return;
        }
        s.probe = Probe::Failed;
        s.failure = answer.message;
        s.failureKind = answer.error == MappingError::None ? MappingError::Failed : answer.error;
        advance(); // the next backend, if one found a router
        return;
    }
    m_externalPort = answer.externalPort;
    PortMapStatus status;
    status.protocol = s.protocol;
    status.externalPort = answer.externalPort;
    status.routerAddress = s.router.externalAddress;
    status.leaseSeconds = answer.leaseSeconds;
    const QHostAddress &wan = s.router.externalAddress;
    if (!wan.isNull() && !isInternetRoutableIPv4(wan)) {
        // Behind a second NAT (another router, or the provider's CGNAT): the port is open on a
        // network the Internet cannot reach. Offering it would only add a dead candidate, and
        // holding it would keep a hole in the router for nothing, so it is given back.
        qCInfo(lcPortMap) << protocol << "mapped, but the router's address" << wan
                          << "is not public; removing the mapping";
        const quint16 external = answer.externalPort;
        QMetaObject::invokeMethod(
            s.runner.get(),
            [runner = s.runner.get(), port = m_port, external] { runner->unmap(port, external); },
            Qt::QueuedConnection);
        m_active = -1;
        m_holding = false;
        m_externalPort = 0;
        giveUp(QStringLiteral("your router opened port %1 (%2), but its own Internet address %3 "
                              "is not public: it sits behind another router or your provider's "
                              "shared address (CGNAT), so friends cannot reach that port")
                   .arg(answer.externalPort)
                   .arg(protocol, wan.toString()));
        return;
    }
    status.state = PortMapStatus::State::Mapped;
    if (!wan.isNull())
        status.external = Endpoint { wan, answer.externalPort };
    status.text
        = QStringLiteral("your router opened port %1 (%2)").arg(answer.externalPort).arg(protocol);
    if (!renewal)
        qCInfo(lcPortMap).noquote() << status.text << "lease" << answer.leaseSeconds << "s";
    setStatus(status);
    const qint64 renewMs = answer.leaseSeconds > 0 ? qint64(answer.leaseSeconds) * 500
                                                   : qint64(m_options.permanentRenewMs);
    m_renewTimer.start(int(qBound<qint64>(500, renewMs, 24LL * 3600 * 1000)));
}

void PortMapper::giveUp(const QString &text)
{
    m_renewTimer.stop();
    PortMapStatus status;
    status.state = PortMapStatus::State::Unavailable;
    status.text = text;
    qCInfo(lcPortMap).noquote() << text;
    setStatus(status);
    if (m_options.retryMs > 0)
        m_retryTimer.start(m_options.retryMs);
}

void PortMapper::setStatus(PortMapStatus status)
{
    m_status = std::move(status);
    Q_EMIT statusChanged(m_status);
}

void PortMapper::stop()
{
    if (m_stopped)
        return;
    m_stopped = true;
    ++m_generation;
    m_renewTimer.stop();
    m_retryTimer.stop();
    const int removing = m_holding ? m_active : -1;
    if (removing >= 0) {
        // Queued behind a map request still running, so the mapping it makes is removed too.
        BackendRunner *runner = m_slots[size_t(m_active)]->runner.get();
        QMetaObject::invokeMethod(
            runner,
            [runner, port = m_port, external = m_externalPort] { runner->unmap(port, external); },
            Qt::QueuedConnection);
    }
    m_holding = false;
    m_active = -1;
    // The backend removing our mapping gets the whole wait; the others are only finishing a
    // search whose answer no longer matters, so they get a moment.
    const QDeadlineTimer deadline(m_options.stopWaitMs);
    const QDeadlineTimer moment(qMin(m_options.stopWaitMs, 100));
    for (auto &slot : m_slots)
        QMetaObject::invokeMethod(slot->runner.get(), &BackendRunner::finish, Qt::QueuedConnection);
    for (size_t i = 0; i < m_slots.size(); ++i) {
        Slot *slot = m_slots[i].get();
        if (slot->thread->wait(int(i) == removing ? deadline : moment)) {
            slot->runner.reset();
            slot->thread.reset();
            continue;
        }
        // Still inside a router call (UPnP discovery waits up to two seconds). Destroying a
        // running QThread aborts, so it is left to end by itself: its runner's last queued call
        // quits it; both objects are then leaked, once, at exit.
        qCInfo(lcPortMap) << slot->thread->objectName() << "still waiting for the router; not"
                          << "waiting longer";
        disconnect(slot->runner.get(), nullptr, this, nullptr);
        (void)slot->runner.release();
        (void)slot->thread.release();
    }
    // No signal: stop() runs at shutdown and from the destructor, when no one should be told.
    m_status = PortMapStatus();
    m_status.text = QStringLiteral("port mapping off");
}

} // namespace Punchline

#include "portmapper.moc"
