// PortMapper's state machine against scripted routers (no traffic at all: the real NAT-PMP and
// UPnP backends are tested in the lab, tests/lab/test_portmap*.sh, against miniupnpd).

#include "engine/commandline.h"
#include "engine/settings.h"
#include "reach/portmapper.h"

#include <QCommandLineParser>
#include <QElapsedTimer>
#include <QMutex>
#include <QSemaphore>
#include <QSignalSpy>
#include <QTest>
#include <QThread>

#include <cstdio>

using namespace Punchline;

namespace {

// What a scripted router answers, and what it was asked; shared with the test because the
// backend itself belongs to the mapper (and runs on the mapper's thread for it).
struct FakeRouter
{
    mutable QMutex mutex;
    RouterAnswer probeAnswer;
    QList<MappingAnswer> mapAnswers; // in order; the last one repeats
    int probeDelayMs = 0;
    QSemaphore *probeGate = nullptr; // probe() waits for it when set
    QList<quint16> mapAsked; // external ports asked for
    QList<quint16> unmapped; // external ports removed
    int probes = 0;

    QList<quint16> asked() const
    {
        QMutexLocker lock(&mutex);
        return mapAsked;
    }
    int probeCount() const
    {
        QMutexLocker lock(&mutex);
        return probes;
    }
    QList<quint16> removed() const
    {
        QMutexLocker lock(&mutex);
        return unmapped;
    }
};

class FakeBackend final : public MappingBackend
{
public:
    FakeBackend(MappingProtocol protocol, std::shared_ptr<FakeRouter> router)
        : m_protocol(protocol)
        , m_router(std::move(router))
    {
    }
    MappingProtocol protocol() const override { return m_protocol; }
    RouterAnswer probe() override
    {
        int delay = 0;
        QSemaphore *gate = nullptr;
        {
            QMutexLocker lock(&m_router->mutex);
            ++m_router->probes;
            delay = m_router->probeDelayMs;
            gate = m_router->probeGate;
        }
        if (gate)
            gate->acquire();
        QThread::msleep(ulong(delay));
        QMutexLocker lock(&m_router->mutex);
        return m_router->probeAnswer;
    }
    MappingAnswer map(quint16, quint16 externalPort, quint32) override
    {
        QMutexLocker lock(&m_router->mutex);
        m_router->mapAsked.append(externalPort);
        if (m_router->mapAnswers.isEmpty())
            return {};
        return m_router->mapAnswers.size() > 1 ? m_router->mapAnswers.takeFirst()
                                               : m_router->mapAnswers.first();
    }
    void unmap(quint16, quint16 externalPort) override
    {
        QMutexLocker lock(&m_router->mutex);
        m_router->unmapped.append(externalPort);
    }

private:
    MappingProtocol m_protocol;
    std::shared_ptr<FakeRouter> m_router;
};

RouterAnswer found(const QString &wan = QStringLiteral("203.0.113.2"))
{
    RouterAnswer answer;
    answer.externalAddress = QHostAddress(wan);
    return answer;
}

RouterAnswer noRouter(const QString &why)
{
    RouterAnswer answer;
    answer.error = MappingError::NoRouter;
    answer.message = why;
    return answer;
}

MappingAnswer granted(quint16 port, quint32 lease = 3600)
{
    MappingAnswer answer;
    answer.externalPort = port;
    answer.leaseSeconds = lease;
    return answer;
}

MappingAnswer refused(const QString &why)
{
    MappingAnswer answer;
    answer.error = MappingError::Refused;
    answer.message = why;
    return answer;
}

struct Rig
{
    std::shared_ptr<FakeRouter> natpmp = std::make_shared<FakeRouter>();
    std::shared_ptr<FakeRouter> upnp = std::make_shared<FakeRouter>();
    std::unique_ptr<PortMapper> mapper;

    void start(PortMapper::Options options = {}, quint16 port = 41000)
    {
        std::vector<std::unique_ptr<MappingBackend>> backends;
        backends.push_back(std::make_unique<FakeBackend>(MappingProtocol::NatPmp, natpmp));
        backends.push_back(std::make_unique<FakeBackend>(MappingProtocol::Upnp, upnp));
        mapper = std::make_unique<PortMapper>(std::move(backends), options);
        mapper->start(port);
    }
    PortMapStatus::State state() const { return mapper->status().state; }
};

constexpr int Wait = 5000;

} // namespace

class TestPortMapper : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void routable_data();
    void routable();
    void prefersNatPmp();
    void waitsForNatPmpBeforeUsingUpnp();
    void fallsBackToUpnp();
    void nextBackendWhenTheFirstRefuses();
    void noRouterSaysSo();
    void namesTheRoutersRefusal();
    void privateWanAddressIsNotOffered_data();
    void privateWanAddressIsNotOffered();
    void renewsAtHalfTheLease();
    void failedRenewalIsReportedAndRetried();
    void stopRemovesTheMapping();
    void stopIsBoundedWhenTheRouterHangs();
    void stopDoesNotWaitForASearchNoLongerNeeded();
    void portMappingOption_data();
    void portMappingOption();
    void labRouter();
};

void TestPortMapper::routable_data()
{
    QTest::addColumn<QString>("address");
    QTest::addColumn<bool>("routable");
    QTest::newRow("public") << QStringLiteral("81.2.69.160") << true;
    QTest::newRow("documentation (lab WAN)") << QStringLiteral("203.0.113.2") << true;
    QTest::newRow("10/8") << QStringLiteral("10.1.2.3") << false;
    QTest::newRow("172.16/12") << QStringLiteral("172.31.255.1") << false;
    QTest::newRow("172.32 is public") << QStringLiteral("172.32.0.1") << true;
    QTest::newRow("192.168/16") << QStringLiteral("192.168.1.1") << false;
    QTest::newRow("CGNAT 100.64/10") << QStringLiteral("100.64.0.1") << false;
    QTest::newRow("CGNAT upper end") << QStringLiteral("100.127.255.254") << false;
    QTest::newRow("100.128 is public") << QStringLiteral("100.128.0.1") << true;
    QTest::newRow("link-local") << QStringLiteral("169.254.3.4") << false;
    QTest::newRow("loopback") << QStringLiteral("127.0.0.1") << false;
    QTest::newRow("unspecified") << QStringLiteral("0.0.0.0") << false;
    QTest::newRow("IPv6") << QStringLiteral("2001:db8::1") << false;
}

void TestPortMapper::routable()
{
    QFETCH(QString, address);
    QFETCH(bool, routable);
    QCOMPARE(isInternetRoutableIPv4(QHostAddress(address)), routable);
}

void TestPortMapper::prefersNatPmp()
{
    Rig rig;
    rig.natpmp->probeAnswer = found();
    rig.natpmp->mapAnswers = { granted(41000, 7200) };
    rig.upnp->probeAnswer = found();
    rig.upnp->mapAnswers = { granted(41000) };
    rig.start();
    QTRY_COMPARE_WITH_TIMEOUT(rig.state(), PortMapStatus::State::Mapped, Wait);
    const PortMapStatus s = rig.mapper->status();
    QCOMPARE(s.protocol, MappingProtocol::NatPmp);
    QCOMPARE(s.leaseSeconds, 7200u);
    QVERIFY(s.external);
    QCOMPARE(*s.external, *Endpoint::parse(u"203.0.113.2:41000"));
    QCOMPARE(s.text, QStringLiteral("your router opened port 41000 (NAT-PMP)"));
    QCOMPARE(rig.natpmp->asked(), QList<quint16> { 41000 });
    QVERIFY(rig.upnp->asked().isEmpty()); // one mapping, not two
}

void TestPortMapper::waitsForNatPmpBeforeUsingUpnp()
{
    Rig rig;
    rig.natpmp->probeAnswer = found();
    rig.natpmp->probeDelayMs = 300; // UPnP answers first
    rig.natpmp->mapAnswers = { granted(41000) };
    rig.upnp->probeAnswer = found();
    rig.upnp->mapAnswers = { granted(41000) };
    rig.start();
    QTRY_COMPARE_WITH_TIMEOUT(rig.state(), PortMapStatus::State::Mapped, Wait);
    QCOMPARE(rig.mapper->status().protocol, MappingProtocol::NatPmp);
    QVERIFY(rig.upnp->asked().isEmpty());
}

void TestPortMapper::fallsBackToUpnp()
{
    Rig rig;
    rig.natpmp->probeAnswer = noRouter(QStringLiteral("the router does not speak NAT-PMP"));
    rig.upnp->probeAnswer = found();
    rig.upnp->mapAnswers = { granted(41002, 0) };
    rig.start();
    QSignalSpy changes(rig.mapper.get(), &PortMapper::statusChanged);
    QTRY_COMPARE_WITH_TIMEOUT(rig.state(), PortMapStatus::State::Mapped, Wait);
    QCOMPARE(rig.mapper->status().protocol, MappingProtocol::Upnp);
    QCOMPARE(rig.mapper->status().text, QStringLiteral("your router opened port 41002 (UPnP)"));
    QCOMPARE(rig.mapper->status().leaseSeconds, 0u); // permanent: the router refused leases
    QVERIFY(!changes.isEmpty());
    QCOMPARE(changes.last().at(0).value<PortMapStatus>().state, PortMapStatus::State::Mapped);
}

void TestPortMapper::nextBackendWhenTheFirstRefuses()
{
    Rig rig;
    rig.natpmp->probeAnswer = found();
    rig.natpmp->mapAnswers
        = { refused(QStringLiteral("the router refused (NAT-PMP: not authorized)")) };
    rig.upnp->probeAnswer = found();
    rig.upnp->mapAnswers = { granted(41000) };
    rig.start();
    QTRY_COMPARE_WITH_TIMEOUT(rig.state(), PortMapStatus::State::Mapped, Wait);
    QCOMPARE(rig.mapper->status().protocol, MappingProtocol::Upnp);
}

void TestPortMapper::noRouterSaysSo()
{
    Rig rig;
    rig.natpmp->probeAnswer = noRouter(QStringLiteral("the router does not speak NAT-PMP"));
    rig.upnp->probeAnswer = noRouter(QStringLiteral("no UPnP router answered"));
    rig.start();
    QTRY_COMPARE_WITH_TIMEOUT(rig.state(), PortMapStatus::State::Unavailable, Wait);
    QCOMPARE(rig.mapper->status().text, QStringLiteral("your router does not offer port mapping"));
    QVERIFY(!rig.mapper->status().external);
}

void TestPortMapper::namesTheRoutersRefusal()
{
    Rig rig;
    rig.natpmp->probeAnswer = noRouter(QStringLiteral("the router does not speak NAT-PMP"));
    rig.upnp->probeAnswer = found();
    rig.upnp->mapAnswers = { refused(QStringLiteral("the router refused: UPnP error 606")) };
    rig.start();
    QTRY_COMPARE_WITH_TIMEOUT(rig.state(), PortMapStatus::State::Unavailable, Wait);
    QCOMPARE(rig.mapper->status().text,
        QStringLiteral(
            "your router did not open a port (UPnP: the router refused: UPnP error 606)"));
}

void TestPortMapper::privateWanAddressIsNotOffered_data()
{
    QTest::addColumn<QString>("wan");
    QTest::newRow("double NAT") << QStringLiteral("192.168.178.20");
    QTest::newRow("CGNAT") << QStringLiteral("100.72.1.9");
}

void TestPortMapper::privateWanAddressIsNotOffered()
{
    QFETCH(QString, wan);
    Rig rig;
    rig.natpmp->probeAnswer = noRouter(QStringLiteral("no"));
    rig.upnp->probeAnswer = found(wan);
    rig.upnp->mapAnswers = { granted(41000) };
    rig.start();
    QTRY_COMPARE_WITH_TIMEOUT(rig.state(), PortMapStatus::State::Unavailable, Wait);
    const PortMapStatus s = rig.mapper->status();
    QVERIFY(!s.external);
    QVERIFY2(s.text.contains(QStringLiteral("is not public")), qPrintable(s.text));
    QVERIFY2(s.text.contains(wan), qPrintable(s.text));
    // The hole in the router is given back.
    QTRY_COMPARE_WITH_TIMEOUT(rig.upnp->removed(), QList<quint16> { 41000 }, Wait);
}

void TestPortMapper::renewsAtHalfTheLease()
{
    Rig rig;
    rig.natpmp->probeAnswer = found();
    rig.natpmp->mapAnswers = { granted(41005, 2) }; // the router picked another port
    QElapsedTimer clock;
    clock.start();
    rig.start();
    QTRY_COMPARE_WITH_TIMEOUT(rig.state(), PortMapStatus::State::Mapped, Wait);
    QTRY_VERIFY_WITH_TIMEOUT(rig.natpmp->asked().size() >= 2, Wait);
    // Renewed after about one second (half of 2 s), asking for the port the router gave.
    QVERIFY2(clock.elapsed() >= 900, qPrintable(QString::number(clock.elapsed())));
    QCOMPARE(rig.natpmp->asked().at(0), quint16(41000));
    QCOMPARE(rig.natpmp->asked().at(1), quint16(41005));
    QCOMPARE(rig.state(), PortMapStatus::State::Mapped);
}

void TestPortMapper::failedRenewalIsReportedAndRetried()
{
    Rig rig;
    rig.natpmp->probeAnswer = found();
    rig.natpmp->mapAnswers
        = { granted(41000, 1), refused(QStringLiteral("gone")), granted(41000, 3600) };
    PortMapper::Options options;
    options.retryMs = 300;
    rig.start(options);
    QSignalSpy changes(rig.mapper.get(), &PortMapper::statusChanged);
    QTRY_VERIFY_WITH_TIMEOUT(
        std::any_of(changes.cbegin(), changes.cend(),
            [](const QList<QVariant> &args) {
                return args.at(0).value<PortMapStatus>().text.startsWith(
                    QStringLiteral("your router stopped keeping port 41000 open"));
            }),
        Wait);
    // ... and it asks again after retryMs.
    QTRY_VERIFY_WITH_TIMEOUT(rig.natpmp->asked().size() >= 3, Wait);
    QTRY_COMPARE_WITH_TIMEOUT(rig.state(), PortMapStatus::State::Mapped, Wait);
    QCOMPARE(rig.mapper->status().leaseSeconds, 3600u);
}

void TestPortMapper::stopRemovesTheMapping()
{
    Rig rig;
    rig.natpmp->probeAnswer = noRouter(QStringLiteral("no"));
    rig.upnp->probeAnswer = found();
    rig.upnp->mapAnswers = { granted(41007) };
    rig.start();
    QTRY_COMPARE_WITH_TIMEOUT(rig.state(), PortMapStatus::State::Mapped, Wait);
    rig.mapper->stop();
    // stop() has waited for the router: the removal already happened.
    QCOMPARE(rig.upnp->removed(), QList<quint16> { 41007 });
    QVERIFY(rig.natpmp->removed().isEmpty());
    QCOMPARE(rig.state(), PortMapStatus::State::Off);
}

void TestPortMapper::stopIsBoundedWhenTheRouterHangs()
{
    QSemaphore gate;
    Rig rig;
    rig.natpmp->probeAnswer = found();
    rig.natpmp->probeGate = &gate; // NAT-PMP never answers until the gate opens
    rig.upnp->probeAnswer = noRouter(QStringLiteral("no"));
    PortMapper::Options options;
    options.stopWaitMs = 300;
    rig.start(options);
    QTRY_COMPARE_WITH_TIMEOUT(rig.natpmp->probeCount(), 1, Wait);
    QElapsedTimer clock;
    clock.start();
    rig.mapper.reset(); // the destructor stops
    QVERIFY2(clock.elapsed() < 1000, qPrintable(QString::number(clock.elapsed())));
    gate.release(); // the abandoned thread ends by itself; its answer goes nowhere
    QTest::qWait(100);
}

void TestPortMapper::stopDoesNotWaitForASearchNoLongerNeeded()
{
    QSemaphore gate;
    Rig rig;
    rig.natpmp->probeAnswer = found();
    rig.natpmp->mapAnswers = { granted(41000) };
    rig.upnp->probeAnswer = noRouter(QStringLiteral("no"));
    rig.upnp->probeGate = &gate; // UPnP discovery still waiting for answers
    PortMapper::Options options;
    options.stopWaitMs = 1000;
    rig.start(options);
    QTRY_COMPARE_WITH_TIMEOUT(rig.state(), PortMapStatus::State::Mapped, Wait);
    QElapsedTimer clock;
    clock.start();
    rig.mapper->stop();
    QVERIFY2(clock.elapsed() < 500, qPrintable(QString::number(clock.elapsed())));
    QCOMPARE(rig.natpmp->removed(), QList<quint16> { 41000 }); // the mapping was still removed
    gate.release();
    QTest::qWait(100);
}

void TestPortMapper::portMappingOption_data()
{
    QTest::addColumn<QStringList>("args");
    QTest::addColumn<int>("expected"); // -1: not set, 0: off, 1: on, 2: error
    QTest::newRow("not given") << QStringList {} << -1;
    QTest::newRow("on") << QStringList { QStringLiteral("--port-mapping"), QStringLiteral("on") }
                        << 1;
    QTest::newRow("off") << QStringList { QStringLiteral("--port-mapping=OFF") } << 0;
    QTest::newRow("last wins") << QStringList { QStringLiteral("--port-mapping=off"),
        QStringLiteral("--port-mapping=on") }
                               << 1;
    QTest::newRow("junk") << QStringList { QStringLiteral("--port-mapping=maybe") } << 2;
}

void TestPortMapper::portMappingOption()
{
    QFETCH(QStringList, args);
    QFETCH(int, expected);
    const SharedOptions shared;
    QCommandLineParser parser;
    parser.addOptions(shared.options());
    QVERIFY(parser.parse(QStringList { QStringLiteral("punchline-cli") } + args));
    NetworkOptions out;
    Error error;
    const bool ok = shared.read(parser, &out, &error);
    QCOMPARE(ok, expected != 2);
    if (expected == 2) {
        QVERIFY(error.message.contains(QStringLiteral("--port-mapping")));
        return;
    }
    QCOMPARE(out.portMapping.has_value(), expected >= 0);
    if (expected >= 0)
        QCOMPARE(*out.portMapping, expected == 1);
    QVERIFY(!Settings().portMapping); // the core's default: off (tests never ask a router)
}

// The real NAT-PMP and UPnP backends against miniupnpd on the lab router. Skipped unless
// tests/lab/test_portmap_backends.sh runs it inside a lab namespace with
// PUNCHLINE_LAB_PORTMAP = the protocol that must map ("NAT-PMP", "UPnP") or "none"; it prints one
// "portmap:" line when the router answered, then holds the mapping for
// PUNCHLINE_LAB_PORTMAP_HOLD_MS so the script can look at the router, then stops.
void TestPortMapper::labRouter()
{
    const QString expected = qEnvironmentVariable("PUNCHLINE_LAB_PORTMAP");
    if (expected.isEmpty())
        QSKIP("lab only (tests/lab/test_portmap_backends.sh): it talks to the default gateway");
    const quint16 port = quint16(qEnvironmentVariableIntValue("PUNCHLINE_LAB_PORTMAP_PORT"));
    QVERIFY(port != 0);
    QElapsedTimer clock;
    clock.start();
    PortMapper mapper(PortMapper::systemBackends());
    mapper.start(port);
    QTRY_VERIFY_WITH_TIMEOUT(mapper.status().state == PortMapStatus::State::Mapped
            || mapper.status().state == PortMapStatus::State::Unavailable,
        20000);
    const PortMapStatus s = mapper.status();
    const qint64 answeredMs = clock.elapsed();
    std::printf("portmap: state=%s protocol=%s external=%s lease=%u elapsed_ms=%lld text=%s\n",
        s.state == PortMapStatus::State::Mapped ? "mapped" : "unavailable",
        qPrintable(mappingProtocolName(s.protocol)),
        s.external ? qPrintable(s.external->toString()) : "-", s.leaseSeconds, answeredMs,
        qPrintable(s.text));
    std::fflush(stdout);
    if (expected == QLatin1String("none")) {
        QCOMPARE(s.state, PortMapStatus::State::Unavailable);
        QCOMPARE(s.text, QStringLiteral("your router does not offer port mapping"));
        return;
    }
    QCOMPARE(s.state, PortMapStatus::State::Mapped);
    QCOMPARE(mappingProtocolName(s.protocol), expected);
    QVERIFY(s.external);
    QCOMPARE(s.external->port, s.externalPort);
    QTest::qWait(qEnvironmentVariableIntValue("PUNCHLINE_LAB_PORTMAP_HOLD_MS"));
    clock.restart();
    mapper.stop();
    std::printf("portmap: stopped in %lld ms\n", clock.elapsed());
    std::fflush(stdout);
    QVERIFY(clock.elapsed() < 1500);
}

QTEST_GUILESS_MAIN(TestPortMapper)
#include "tst_portmapper.moc"
