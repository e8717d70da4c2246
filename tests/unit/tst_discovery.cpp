// Discovery with real components on loopback: coturn on 127.0.0.1 and 127.0.0.2, scripted STUN
// servers for NAT behaviour loopback cannot show, and a tiny HTTP responder as the IP echo.
// Nothing here leaves the loopback interface.

#include "discovery/discovery.h"
#include "stuntestservers.h"

#include <QElapsedTimer>
#include <QNetworkInterface>
#include <QNetworkProxy>
#include <QSignalSpy>
#include <QTest>
#include <QTimer>
#include <memory>

using namespace Punchline;
using namespace Punchline::TestSupport;

Q_DECLARE_METATYPE(Punchline::NatKind)

namespace {

const QString localOnly = QStringLiteral(
    "only your local addresses are offered, which works for a friend on the same network.");

// An IP echo service: answers every GET with status and body (status 0: never answers).
class EchoServer
{
public:
    EchoServer(int status, const QByteArray &body)
        : m_status(status)
        , m_body(body)
    {
        QObject::connect(&m_server, &QTcpServer::newConnection, &m_server, [this] { accept(); });
    }
    bool listen() { return m_server.listen(QHostAddress::LocalHost, 0); }
    QString url() const
    {
        return QStringLiteral("http://127.0.0.1:%1/ip").arg(m_server.serverPort());
    }
    int requests() const { return m_requests; }

private:
    void accept()
    {
        while (QTcpSocket *socket = m_server.nextPendingConnection()) {
            auto request = std::make_shared<QByteArray>();
            QObject::connect(socket, &QTcpSocket::readyRead, socket, [this, socket, request] {
                request->append(socket->readAll());
                if (!request->contains("\r\n\r\n"))
                    return;
                ++m_requests;
                if (m_status == 0)
                    return;
                socket->write(QByteArrayLiteral("HTTP/1.1 ") + QByteArray::number(m_status)
                    + QByteArrayLiteral(" Whatever\r\nContent-Type: text/plain\r\n"
                                        "Connection: close\r\nContent-Length: ")
                    + QByteArray::number(m_body.size()) + QByteArrayLiteral("\r\n\r\n") + m_body);
                socket->disconnectFromHost();
            });
        }
    }

    int m_status;
    QByteArray m_body;
    QTcpServer m_server;
    int m_requests = 0;
};

DiscoveryResult runToEnd(Discovery &discovery, int timeoutMs = 8000)
{
    QSignalSpy finished(&discovery, &Discovery::finished);
    discovery.start();
    if (!finished.isEmpty())
        qFatal("finished() was emitted from inside start()");
    if (!finished.wait(timeoutMs))
        return {};
    return finished.at(0).at(0).value<DiscoveryResult>();
}

StunAnswer answer(const char *server, const char *mapped)
{
    const Endpoint s = *Endpoint::parse(QString::fromLatin1(server));
    return { s.toString(), s, *Endpoint::parse(QString::fromLatin1(mapped)) };
}

} // namespace

class TestDiscovery : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void initTestCase();
    void cleanupTestCase();
    void twoCoturnServersEndpointIndependent();
    void symmetricNat();
    void aSilentServerDoesNotHoldTheResult();
    void oneServerAddressIsUnknown();
    void sameServerSpelledTwice();
    void stunUnreachableFallsBackToIpEcho();
    void ipEchoRejected_data();
    void ipEchoRejected();
    void ipEchoNeverAnswers();
    void ipEchoWithoutStun();
    void stunUnreachableWithoutIpEcho();
    void nothingEnabled();
    void localCandidates();
    void localFilterMatchingNothing();
    void publicMappingChanged();
    void keepaliveLostReprobes();
    void reprobeBacksOff();
    void newAddressSeenElsewhereAsksPublicServerAtOnce();
    void publicServerAskedMoreOften();
    void mappingChangeReclassifiesNat();
    void keepaliveLost();
    void restart();
    void classifyNat_data();
    void classifyNat();
    void parseEchoedAddress_data();
    void parseEchoedAddress();

private:
    Coturn m_coturn;
};

void TestDiscovery::initTestCase()
{
    qRegisterMetaType<DiscoveryResult>();
    qRegisterMetaType<Endpoint>();
    qRegisterMetaType<Error>();
    // The IP echo must reach our loopback responder directly, whatever the environment says.
    QNetworkProxy::setApplicationProxy(QNetworkProxy::NoProxy);
    QString why;
    QVERIFY2(m_coturn.start({ QStringLiteral("127.0.0.1"), QStringLiteral("127.0.0.2") }, &why),
        qPrintable(why));
}

void TestDiscovery::cleanupTestCase()
{
    m_coturn.stop();
}

void TestDiscovery::twoCoturnServersEndpointIndependent()
{
    SharedPort local;
    EchoServer echo(200, "203.0.113.7"); // configured, but must not be asked: STUN answers
    QVERIFY(echo.listen());
    Discovery discovery(local.port(), { m_coturn.server(0), m_coturn.server(1) }, echo.url(), 3000,
        { QStringLiteral("127.0.0.1") });
    discovery.setKeepaliveInterval(200);
    QSignalSpy finished(&discovery, &Discovery::finished);
    const DiscoveryResult r = runToEnd(discovery);

    const Endpoint expected { QHostAddress::LocalHost, local.port() };
    QCOMPARE(r.local, QList<Endpoint> { expected });
    QCOMPARE(r.publicEndpoint, std::optional(expected));
    QCOMPARE(r.publicSource, PublicSource::Stun);
    QVERIFY(!r.portGuessed);
    QCOMPARE(r.nat, NatKind::EndpointIndependent);
    QCOMPARE(r.answers.size(), 2);
    QCOMPARE(r.answers.at(0).serverEndpoint.toString(), m_coturn.server(0));
    QCOMPARE(r.answers.at(1).serverEndpoint.toString(), m_coturn.server(1));
    QCOMPARE(r.answers.at(0).mapped, expected);
    QCOMPARE(r.answers.at(1).mapped, expected);
    QVERIFY(r.errors.isEmpty());
    QCOMPARE(r.explanation,
        QStringLiteral("Your public address is %1. STUN servers at different addresses saw "
                       "the same port, so your network keeps one port for every destination, "
                       "which suits a direct connection.")
            .arg(expected.toString()));
    QCOMPARE(echo.requests(), 0);

    // After finished() the STUN connections stay open and keep answering keepalives.
    QCOMPARE(discovery.keepaliveConnections(), 2);
    QTest::qWait(800);
    QCOMPARE(discovery.keepaliveConnections(), 2);
    QCOMPARE(finished.count(), 1);

    discovery.stop();
    QCOMPARE(discovery.keepaliveConnections(), 0);
}

void TestDiscovery::aSilentServerDoesNotHoldTheResult()
{
    // Issue 15 target 6: two servers at different addresses saw the same endpoint; a third that
    // never answers must not hold the code for its whole timeout (3 s here).
    ScriptedStunServer first([](const StunMessage &request, int) {
        return ScriptedStunServer::answer(request, *Endpoint::parse(u"198.51.100.4:40001"));
    });
    ScriptedStunServer second([](const StunMessage &request, int) {
        return ScriptedStunServer::answer(request, *Endpoint::parse(u"198.51.100.4:40001"));
    });
    ScriptedStunServer silent([](const StunMessage &, int) { return QByteArray(); });
    QVERIFY(first.listen(QHostAddress(QStringLiteral("127.0.0.1"))));
    QVERIFY(second.listen(QHostAddress(QStringLiteral("127.0.0.2"))));
    QVERIFY(silent.listen(QHostAddress(QStringLiteral("127.0.0.1"))));
    SharedPort local;
    Discovery discovery(
        local.port(), { silent.server(), first.server(), second.server() }, {}, 3000, {});
    QElapsedTimer timer;
    timer.start();
    const DiscoveryResult r = runToEnd(discovery);
    QVERIFY2(timer.elapsed() < 1500, qPrintable(QString::number(timer.elapsed())));
    QCOMPARE(r.nat, NatKind::EndpointIndependent);
    QCOMPARE(r.answers.size(), 2);
    QCOMPARE(r.publicEndpoint->toString(), QStringLiteral("198.51.100.4:40001"));
    // The silent one's timeout later changes nothing that was reported, and finished() is not
    // emitted again.
    QSignalSpy finished(&discovery, &Discovery::finished);
    QTest::qWait(3500);
    QCOMPARE(finished.count(), 0);
    QCOMPARE(discovery.result().publicEndpoint->toString(), QStringLiteral("198.51.100.4:40001"));
}

void TestDiscovery::symmetricNat()
{
    // Two servers at different addresses see different ports, as behind a symmetric NAT.
    ScriptedStunServer first([](const StunMessage &request, int) {
        return ScriptedStunServer::answer(request, *Endpoint::parse(u"198.51.100.4:40001"));
    });
    ScriptedStunServer second([](const StunMessage &request, int) {
        return ScriptedStunServer::answer(request, *Endpoint::parse(u"198.51.100.4:40002"));
    });
    QVERIFY(first.listen(QHostAddress(QStringLiteral("127.0.0.1"))));
    QVERIFY(second.listen(QHostAddress(QStringLiteral("127.0.0.2"))));
    SharedPort local;
    Discovery discovery(local.port(), { first.server(), second.server() }, {}, 3000, {});
    const DiscoveryResult r = runToEnd(discovery);
    QCOMPARE(r.nat, NatKind::EndpointDependent);
    QCOMPARE(r.publicSource, PublicSource::Stun);
    QCOMPARE(r.publicEndpoint->toString(), QStringLiteral("198.51.100.4:40001"));
    QCOMPARE(r.explanation,
        QStringLiteral("Your network changes ports per destination (symmetric NAT): a direct "
                       "connection is likely to fail."));
}

void TestDiscovery::sameServerSpelledTwice()
{
    // Two spellings of one server are one server: a second connection from the shared port to
    // the same address would fail (the 4-tuple is taken) and show up as a bogus error.
    ScriptedStunServer server([](const StunMessage &request, int) {
        return ScriptedStunServer::answer(request, *Endpoint::parse(u"198.51.100.4:40001"));
    });
    QVERIFY(server.listen());
    const QString other = QStringLiteral("[::ffff:127.0.0.1]:%1 ").arg(server.endpoint().port);
    SharedPort local;
    Discovery discovery(local.port(), { server.server(), other, server.server() }, {}, 3000, {});
    const DiscoveryResult r = runToEnd(discovery);
    QVERIFY2(r.errors.isEmpty(), qPrintable(r.errors.value(0).message));
    QCOMPARE(r.answers.size(), 1);
    QCOMPARE(r.answers.at(0).server, server.server());
    QCOMPARE(server.connectionCount(), 1);
}

void TestDiscovery::oneServerAddressIsUnknown()
{
    // A second server on the same IP (another port) cannot classify the NAT; a failing third
    // one is mentioned.
    ScriptedStunServer sameAddress([](const StunMessage &request, int) {
        return ScriptedStunServer::answer(request, *Endpoint::parse(u"198.51.100.4:40002"));
    });
    QVERIFY(sameAddress.listen(QHostAddress(QStringLiteral("127.0.0.1"))));
    const QString closed
        = QStringLiteral("127.0.0.2:%1").arg(freePort(QHostAddress(QStringLiteral("127.0.0.2"))));
    SharedPort local;
    Discovery discovery(
        local.port(), { m_coturn.server(0), sameAddress.server(), closed }, {}, 3000, {});
    const DiscoveryResult r = runToEnd(discovery);
    QCOMPARE(r.nat, NatKind::Unknown);
    QCOMPARE(r.answers.size(), 2);
    QCOMPARE(r.publicEndpoint, std::optional(Endpoint { QHostAddress::LocalHost, local.port() }));
    QCOMPARE(r.errors.size(), 1);
    QCOMPARE(r.errors.at(0).code, ErrorCode::StunFailed);
    QVERIFY(r.explanation.contains(QLatin1String("is unknown")));
    QVERIFY(r.explanation.endsWith(
        QStringLiteral("Not every STUN server answered (%1: connection refused).").arg(closed)));
}

void TestDiscovery::stunUnreachableFallsBackToIpEcho()
{
    EchoServer echo(200, "203.0.113.7\n");
    QVERIFY(echo.listen());
    const QString closed = QStringLiteral("127.0.0.1:%1").arg(freePort());
    SharedPort local;
    Discovery discovery(local.port(), { closed }, echo.url(), 2000, {});
    QElapsedTimer elapsed;
    elapsed.start();
    const DiscoveryResult r = runToEnd(discovery);
    QVERIFY(elapsed.elapsed() < 2000 * 2);
    QCOMPARE(echo.requests(), 1);
    QCOMPARE(r.publicEndpoint,
        std::optional(Endpoint { QHostAddress(QStringLiteral("203.0.113.7")), local.port() }));
    QCOMPARE(r.publicSource, PublicSource::IpEcho);
    QVERIFY(r.portGuessed);
    QCOMPARE(r.nat, NatKind::Unknown);
    QCOMPARE(r.errors.size(), 1);
    QCOMPARE(r.errors.at(0).code, ErrorCode::StunFailed);
    QCOMPARE(r.explanation,
        QStringLiteral("No STUN server answered (%1: connection refused); your public address "
                       "was taken from an IP echo service, so its port is a guess.")
            .arg(closed));
    QCOMPARE(discovery.keepaliveConnections(), 0);
}

void TestDiscovery::ipEchoRejected_data()
{
    QTest::addColumn<int>("status");
    QTest::addColumn<QByteArray>("body");
    QTest::addColumn<QString>("why");

    QTest::newRow("timeout") << 200 << QByteArray("timeout")
                             << QStringLiteral("the answer \"timeout\" is not an IP address");
    QTest::newRow("empty") << 200 << QByteArray()
                           << QStringLiteral("the answer \"\" is not an IP address");
    QTest::newRow("shorthand") << 200 << QByteArray("10.1")
                               << QStringLiteral("the answer \"10.1\" is not an IP address");
    QTest::newRow("html") << 200 << QByteArray("<html>203.0.113.7</html>")
                          << QStringLiteral(
                                 "the answer \"<html>203.0.113.7</html>\" is not an IP address");
    QTest::newRow("two addresses")
        << 200 << QByteArray("203.0.113.7 203.0.113.8")
        << QStringLiteral("the answer \"203.0.113.7 203.0.113.8\" is not an IP address");
    QTest::newRow("loopback") << 200 << QByteArray("127.0.0.1")
                              << QStringLiteral(
                                     "the answer \"127.0.0.1\" is not a public IP address");
    QTest::newRow("unspecified") << 200 << QByteArray("0.0.0.0")
                                 << QStringLiteral(
                                        "the answer \"0.0.0.0\" is not a public IP address");
    QTest::newRow("too long") << 200 << QByteArray(5000, '1')
                              << QStringLiteral("the answer is too long to be an IP address");
    QTest::newRow("http error") << 503 << QByteArray("203.0.113.7")
                                << QStringLiteral("the service answered HTTP 503");
}

void TestDiscovery::ipEchoRejected()
{
    QFETCH(int, status);
    QFETCH(QByteArray, body);
    QFETCH(QString, why);
    EchoServer echo(status, body);
    QVERIFY(echo.listen());
    SharedPort local;
    Discovery discovery(local.port(), {}, echo.url(), 2000, {});
    const DiscoveryResult r = runToEnd(discovery);
    QVERIFY(!r.publicEndpoint);
    QCOMPARE(r.publicSource, PublicSource::None);
    QVERIFY(!r.portGuessed);
    QCOMPARE(r.errors.size(), 1);
    QCOMPARE(r.errors.at(0).code, ErrorCode::IpEchoFailed);
    QCOMPARE(r.errors.at(0).message, echo.url() + QStringLiteral(": ") + why);
    QVERIFY(r.explanation.startsWith(
        QStringLiteral("STUN is disabled and the IP echo service failed (")));
    QVERIFY(r.explanation.contains(localOnly));
}

void TestDiscovery::ipEchoNeverAnswers()
{
    EchoServer echo(0, {});
    QVERIFY(echo.listen());
    SharedPort local;
    Discovery discovery(local.port(), {}, echo.url(), 500, {});
    QElapsedTimer elapsed;
    elapsed.start();
    const DiscoveryResult r = runToEnd(discovery);
    QVERIFY(elapsed.elapsed() >= 450);
    QVERIFY(elapsed.elapsed() < 3000);
    QCOMPARE(echo.requests(), 1);
    QVERIFY(!r.publicEndpoint);
    QCOMPARE(r.errors.size(), 1);
    QCOMPARE(r.errors.at(0).message, echo.url() + QStringLiteral(": no answer within 500 ms"));
}

void TestDiscovery::ipEchoWithoutStun()
{
    EchoServer echo(200, "  2001:db8::7\r\n");
    QVERIFY(echo.listen());
    SharedPort local;
    Discovery discovery(local.port(), {}, echo.url(), 2000, {});
    const DiscoveryResult r = runToEnd(discovery);
    QCOMPARE(r.publicEndpoint->toString(), QStringLiteral("[2001:db8::7]:%1").arg(local.port()));
    QCOMPARE(r.publicSource, PublicSource::IpEcho);
    QVERIFY(r.portGuessed);
    QVERIFY(r.errors.isEmpty());
    QCOMPARE(r.explanation,
        QStringLiteral("STUN is disabled; your public address was taken from an IP echo "
                       "service, so its port is a guess."));
}

void TestDiscovery::stunUnreachableWithoutIpEcho()
{
    const QString closed = QStringLiteral("127.0.0.1:%1").arg(freePort());
    SharedPort local;
    Discovery discovery(local.port(), { closed, QStringLiteral("not a server") }, {}, 2000, {});
    const DiscoveryResult r = runToEnd(discovery);
    QVERIFY(!r.publicEndpoint);
    QCOMPARE(r.errors.size(), 2);
    QCOMPARE(r.explanation,
        QStringLiteral("No STUN server answered (%1: connection refused; not a server: not a "
                       "server address of the form host:port (the host name contains a space)) "
                       "and IP echo is disabled: ")
                .arg(closed)
            + localOnly);
}

void TestDiscovery::nothingEnabled()
{
    SharedPort local;
    Discovery discovery(local.port(), {}, {}, 2000, { QStringLiteral("127.0.0.1") });
    const DiscoveryResult r = runToEnd(discovery, 1000);
    QCOMPARE(r.local, (QList<Endpoint> { { QHostAddress::LocalHost, local.port() } }));
    QVERIFY(!r.publicEndpoint);
    QCOMPARE(r.publicSource, PublicSource::None);
    QVERIFY(r.errors.isEmpty());
    QCOMPARE(r.explanation, QStringLiteral("Neither STUN nor IP echo is enabled: ") + localOnly);
}

void TestDiscovery::localCandidates()
{
    const quint16 port = 4321;
    const QList<Endpoint> all = Discovery::localCandidates(port, {});
    const QList<QHostAddress> machine = QNetworkInterface::allAddresses();
    for (const Endpoint &e : all) {
        QCOMPARE(e.port, port);
        QVERIFY2(!e.address.isLoopback(), qPrintable(e.toString()));
        QVERIFY2(!e.address.isLinkLocal(), qPrintable(e.toString()));
        bool onThisMachine = false;
        for (const QHostAddress &a : machine)
            onThisMachine = onThisMachine || a.isEqual(e.address, QHostAddress::TolerantConversion);
        QVERIFY2(onThisMachine, qPrintable(e.toString()));
    }
    QCOMPARE(all.size(),
        QSet<QString>([&] {
            QSet<QString> texts;
            for (const Endpoint &e : all)
                texts.insert(e.toString());
            return texts;
        }())
            .size()); // no duplicates

    // The filter selects (and is the only way to get loopback).
    QCOMPARE(Discovery::localCandidates(port, { QStringLiteral("127.0.0.1") }),
        (QList<Endpoint> { { QHostAddress::LocalHost, port } }));
    if (!all.isEmpty()) {
        const QString first = all.first().address.toString();
        QCOMPARE(Discovery::localCandidates(port, { first }), QList<Endpoint> { all.first() });
    }
}

void TestDiscovery::localFilterMatchingNothing()
{
    SharedPort local;
    Discovery discovery(
        local.port(), {}, {}, 2000, { QStringLiteral("192.0.2.254"), QStringLiteral("bogus") });
    const DiscoveryResult r = runToEnd(discovery, 1000);
    QVERIFY(r.local.isEmpty());
    QCOMPARE(r.explanation,
        QStringLiteral("Neither STUN nor IP echo is enabled: ") + localOnly
            + QStringLiteral(" No usable local network address was found. The local "
                             "address 192.0.2.254 you chose is not usable on this "
                             "computer. \"bogus\" is not an IP address."));
}

void TestDiscovery::publicMappingChanged()
{
    ScriptedStunServer server([](const StunMessage &request, int index) {
        return ScriptedStunServer::answer(
            request, *Endpoint::parse(index < 2 ? u"198.51.100.4:40001" : u"198.51.100.4:40077"));
    });
    QVERIFY(server.listen());
    SharedPort local;
    Discovery discovery(local.port(), { server.server() }, {}, 2000, {});
    discovery.setKeepaliveInterval(100);
    QSignalSpy changed(&discovery, &Discovery::publicMappingChanged);
    const DiscoveryResult r = runToEnd(discovery);
    QCOMPARE(r.publicEndpoint->toString(), QStringLiteral("198.51.100.4:40001"));
    QTRY_COMPARE_WITH_TIMEOUT(changed.count(), 1, 3000);
    QCOMPARE(
        changed.at(0).at(0).value<Endpoint>().toString(), QStringLiteral("198.51.100.4:40077"));
    QCOMPARE(discovery.result().publicEndpoint->toString(), QStringLiteral("198.51.100.4:40077"));
    // What the window shows follows too, not only the endpoint.
    QCOMPARE(
        discovery.result().answers.at(0).mapped.toString(), QStringLiteral("198.51.100.4:40077"));
    QVERIFY2(discovery.result().explanation.contains(QStringLiteral("198.51.100.4:40077")),
        qPrintable(discovery.result().explanation));
    // The same mapping again is no change.
    QTest::qWait(400);
    QCOMPARE(changed.count(), 1);
}

void TestDiscovery::keepaliveLostReprobes()
{
    // The home's public IP changes: the NAT forgets our flows, so the server resets the
    // keepalive connection (it sees packets from an address it never talked to). Discovery must
    // ask the server again and report the new mapping, or our code and the friend finder's
    // records keep pointing at the old address for ever.
    auto mapping = std::make_shared<QString>(QStringLiteral("198.51.100.4:40001"));
    ScriptedStunServer server([mapping](const StunMessage &request, int) {
        return ScriptedStunServer::answer(request, *Endpoint::parse(*mapping));
    });
    QVERIFY(server.listen());
    SharedPort local;
    Discovery discovery(local.port(), { server.server() }, {}, 2000, {});
    QSignalSpy lost(&discovery, &Discovery::keepaliveLost);
    QSignalSpy changed(&discovery, &Discovery::publicMappingChanged);
    const DiscoveryResult r = runToEnd(discovery);
    QCOMPARE(r.publicEndpoint->toString(), QStringLiteral("198.51.100.4:40001"));
    *mapping = QStringLiteral("203.0.113.3:40001");
    server.closeConnections();
    QTRY_COMPARE_WITH_TIMEOUT(lost.count(), 1, 3000);
    QTRY_COMPARE_WITH_TIMEOUT(changed.count(), 1, 2 * Discovery::ReprobeDelayMs + 3000);
    QCOMPARE(changed.at(0).at(0).value<Endpoint>().toString(), QStringLiteral("203.0.113.3:40001"));
    QCOMPARE(discovery.result().publicEndpoint->toString(), QStringLiteral("203.0.113.3:40001"));
    QVERIFY2(discovery.result().explanation.contains(QStringLiteral("203.0.113.3:40001")),
        qPrintable(discovery.result().explanation));
    // Kept alive again, and the same answer after a second loss is no change.
    QTRY_COMPARE_WITH_TIMEOUT(discovery.keepaliveConnections(), 1, 3000);
    server.closeConnections();
    QTRY_COMPARE_WITH_TIMEOUT(lost.count(), 2, 3000);
    QTRY_COMPARE_WITH_TIMEOUT(
        discovery.keepaliveConnections(), 1, Discovery::ReprobeDelayMs + 3000);
    QCOMPARE(changed.count(), 1);
}

void TestDiscovery::reprobeBacksOff()
{
    // A server that closes every connection soon after its answer (coturn closes idle STUN
    // connections after 3 s) must not be dialled again and again: the delays double up to the
    // keepalive interval.
    ScriptedStunServer server([](const StunMessage &request, int) {
        return ScriptedStunServer::answer(request, *Endpoint::parse(u"198.51.100.4:40001"));
    });
    QVERIFY(server.listen());
    SharedPort local;
    Discovery discovery(local.port(), { server.server() }, {}, 2000, {});
    discovery.setKeepaliveInterval(30000);
    QSignalSpy lost(&discovery, &Discovery::keepaliveLost);
    QSignalSpy changed(&discovery, &Discovery::publicMappingChanged);
    runToEnd(discovery);
    QTimer closer;
    QObject::connect(&closer, &QTimer::timeout, this, [&server] { server.closeConnections(); });
    closer.start(100);
    QTest::qWait(8000);
    // Lost at once, asked again after 2 s and 4 s (a fixed delay would dial 6 or 7 times).
    QVERIFY2(server.connectionCount() <= 4, qPrintable(QString::number(server.connectionCount())));
    QVERIFY(server.connectionCount() >= 2); // but asked again
    QCOMPARE(changed.count(), 0);
}

void TestDiscovery::newAddressSeenElsewhereAsksPublicServerAtOnce()
{
    // The home's IP changes. The second server's connection breaks first and its re-probe sees
    // the new address; the first server (where our public endpoint came from) keeps its
    // connection open and would only be asked at its next keepalive, 30 s away. It must be asked
    // at once: the friends' records and healing wait for publicMappingChanged().
    auto mapping = std::make_shared<QString>(QStringLiteral("198.51.100.4:40001"));
    const auto script = [mapping](const StunMessage &request, int) {
        return ScriptedStunServer::answer(request, *Endpoint::parse(*mapping));
    };
    ScriptedStunServer first(script), second(script);
    QVERIFY(first.listen(QHostAddress(QStringLiteral("127.0.0.1"))));
    QVERIFY(second.listen(QHostAddress(QStringLiteral("127.0.0.2"))));
    SharedPort local;
    Discovery discovery(local.port(), { first.server(), second.server() }, {}, 2000, {});
    discovery.setKeepaliveInterval(30000);
    QSignalSpy changed(&discovery, &Discovery::publicMappingChanged);
    const DiscoveryResult r = runToEnd(discovery);
    QCOMPARE(r.publicEndpoint->toString(), QStringLiteral("198.51.100.4:40001"));
    QCOMPARE(r.answers.at(0).server, first.server());
    *mapping = QStringLiteral("203.0.113.3:40001");
    QElapsedTimer t;
    t.start();
    second.closeConnections();
    QTRY_COMPARE_WITH_TIMEOUT(changed.count(), 1, Discovery::ReprobeDelayMs + 3000);
    QVERIFY2(
        t.elapsed() < Discovery::ReprobeDelayMs + 2000, qPrintable(QString::number(t.elapsed())));
    QCOMPARE(changed.at(0).at(0).value<Endpoint>().toString(), QStringLiteral("203.0.113.3:40001"));
    QCOMPARE(discovery.result().nat, NatKind::EndpointIndependent); // both agree again
    QCOMPARE(first.connectionCount(), 1); // asked on its open connection
}

void TestDiscovery::publicServerAskedMoreOften()
{
    // Only the server our public endpoint came from is asked more often than the keepalive
    // interval: a new public address is learned sooner, and the other servers cost no more.
    auto asked = std::make_shared<QList<int>>(QList<int> { 0, 0 });
    auto mapping = std::make_shared<QString>(QStringLiteral("198.51.100.4:40001"));
    ScriptedStunServer first([mapping, asked](const StunMessage &request, int) {
        ++(*asked)[0];
        return ScriptedStunServer::answer(request, *Endpoint::parse(*mapping));
    });
    ScriptedStunServer second([mapping, asked](const StunMessage &request, int) {
        ++(*asked)[1];
        return ScriptedStunServer::answer(request, *Endpoint::parse(*mapping));
    });
    QVERIFY(first.listen(QHostAddress(QStringLiteral("127.0.0.1"))));
    QVERIFY(second.listen(QHostAddress(QStringLiteral("127.0.0.2"))));
    SharedPort local;
    Discovery discovery(local.port(), { first.server(), second.server() }, {}, 2000, {});
    discovery.setKeepaliveInterval(30000);
    discovery.setPublicCheckInterval(300);
    QSignalSpy changed(&discovery, &Discovery::publicMappingChanged);
    runToEnd(discovery);
    *mapping = QStringLiteral("203.0.113.3:40001");
    QTRY_COMPARE_WITH_TIMEOUT(changed.count(), 1, 2000);
    QCOMPARE(changed.at(0).at(0).value<Endpoint>().toString(), QStringLiteral("203.0.113.3:40001"));
    QTest::qWait(1000);
    QVERIFY2(asked->at(0) >= 4, qPrintable(QString::number(asked->at(0))));
    QCOMPARE(asked->at(1), 1); // the second server: its first question only
    QCOMPARE(first.connectionCount(), 1);
}

void TestDiscovery::mappingChangeReclassifiesNat()
{
    // Two servers at different addresses agree at first; then one of them sees another port
    // (the NAT rebooted into per-destination mapping): the classification must follow.
    ScriptedStunServer first([](const StunMessage &request, int) {
        return ScriptedStunServer::answer(request, *Endpoint::parse(u"198.51.100.4:40001"));
    });
    ScriptedStunServer second([](const StunMessage &request, int index) {
        return ScriptedStunServer::answer(
            request, *Endpoint::parse(index < 1 ? u"198.51.100.4:40001" : u"198.51.100.4:40999"));
    });
    QVERIFY(first.listen(QHostAddress(QStringLiteral("127.0.0.1"))));
    QVERIFY(second.listen(QHostAddress(QStringLiteral("127.0.0.2"))));
    SharedPort local;
    Discovery discovery(local.port(), { first.server(), second.server() }, {}, 3000, {});
    discovery.setKeepaliveInterval(100);
    QSignalSpy changed(&discovery, &Discovery::publicMappingChanged);
    const DiscoveryResult r = runToEnd(discovery);
    QCOMPARE(r.nat, NatKind::EndpointIndependent);
    QTRY_COMPARE_WITH_TIMEOUT(discovery.result().nat, NatKind::EndpointDependent, 3000);
    QCOMPARE(discovery.result().explanation,
        QStringLiteral("Your network changes ports per destination (symmetric NAT): a direct "
                       "connection is likely to fail."));
    // Our public endpoint came from the first server, whose mapping did not change.
    QCOMPARE(changed.count(), 0);
    QCOMPARE(discovery.result().publicEndpoint->toString(), QStringLiteral("198.51.100.4:40001"));
}

void TestDiscovery::keepaliveLost()
{
    ScriptedStunServer server([](const StunMessage &request, int) {
        return ScriptedStunServer::answer(request, *Endpoint::parse(u"198.51.100.4:40001"));
    });
    QVERIFY(server.listen());
    SharedPort local;
    Discovery discovery(local.port(), { server.server() }, {}, 2000, {});
    QSignalSpy lost(&discovery, &Discovery::keepaliveLost);
    const DiscoveryResult r = runToEnd(discovery);
    QVERIFY(r.publicEndpoint);
    QCOMPARE(discovery.keepaliveConnections(), 1);
    server.closeConnections();
    QTRY_COMPARE_WITH_TIMEOUT(lost.count(), 1, 3000);
    QCOMPARE(lost.at(0).at(0).value<Error>().message,
        server.server() + QStringLiteral(": the server closed the connection"));
    QCOMPARE(discovery.keepaliveConnections(), 0);
    QCOMPARE(discovery.result().publicEndpoint, r.publicEndpoint); // still our best knowledge
}

void TestDiscovery::restart()
{
    SharedPort local;
    Discovery discovery(local.port(), { m_coturn.server(0) }, {}, 3000, {});
    QSignalSpy finished(&discovery, &Discovery::finished);
    discovery.start();
    QTRY_COMPARE_WITH_TIMEOUT(finished.count(), 1, 5000);
    QCOMPARE(discovery.keepaliveConnections(), 1);

    // Run again at once (the network changed, say): the old connection is replaced by a new one
    // between the same two endpoints, which TIME_WAIT would forbid for a minute.
    discovery.start();
    QTRY_COMPARE_WITH_TIMEOUT(finished.count(), 2, 5000);
    const DiscoveryResult again = finished.at(1).at(0).value<DiscoveryResult>();
    QVERIFY2(again.errors.isEmpty(), qPrintable(again.explanation));
    QCOMPARE(again.publicSource, PublicSource::Stun);
    QCOMPARE(discovery.keepaliveConnections(), 1);

    // stop() before the end: no finished() at all.
    discovery.start();
    discovery.stop();
    QTest::qWait(300);
    QCOMPARE(finished.count(), 2);
    QCOMPARE(discovery.keepaliveConnections(), 0);
}

void TestDiscovery::classifyNat_data()
{
    QTest::addColumn<QList<StunAnswer>>("answers");
    QTest::addColumn<NatKind>("nat");

    QTest::newRow("none") << QList<StunAnswer> {} << NatKind::Unknown;
    QTest::newRow("one") << QList<StunAnswer> { answer("192.0.2.1:3478", "203.0.113.5:4000") }
                         << NatKind::Unknown;
    QTest::newRow("same mapping") << QList<StunAnswer> {
        answer("192.0.2.1:3478", "203.0.113.5:4000"), answer("192.0.2.2:3478", "203.0.113.5:4000")
    } << NatKind::EndpointIndependent;
    QTest::newRow("port differs") << QList<StunAnswer> {
        answer("192.0.2.1:3478", "203.0.113.5:4000"), answer("192.0.2.2:3478", "203.0.113.5:4001")
    } << NatKind::EndpointDependent;
    QTest::newRow("address differs") << QList<StunAnswer> {
        answer("192.0.2.1:3478", "203.0.113.5:4000"), answer("192.0.2.2:3478", "203.0.113.6:4000")
    } << NatKind::EndpointDependent;
    QTest::newRow("same server address") << QList<StunAnswer> {
        answer("192.0.2.1:3478", "203.0.113.5:4000"), answer("192.0.2.1:443", "203.0.113.5:4001")
    } << NatKind::Unknown;
    QTest::newRow("v4 and v6") << QList<StunAnswer> { answer("192.0.2.1:3478", "203.0.113.5:4000"),
        answer("[2001:db8::1]:3478", "[2001:db8::5]:4000") }
                               << NatKind::Unknown;
    QTest::newRow("third differs") << QList<StunAnswer> {
        answer("192.0.2.1:3478", "203.0.113.5:4000"), answer("192.0.2.2:3478", "203.0.113.5:4000"),
        answer("192.0.2.3:3478", "203.0.113.5:4009")
    } << NatKind::EndpointDependent;
}

void TestDiscovery::classifyNat()
{
    QFETCH(QList<StunAnswer>, answers);
    QFETCH(NatKind, nat);
    QCOMPARE(Discovery::classifyNat(answers), nat);
}

void TestDiscovery::parseEchoedAddress_data()
{
    QTest::addColumn<QByteArray>("body");
    QTest::addColumn<QString>("address"); // empty: rejected

    QTest::newRow("ipv4") << QByteArray("203.0.113.7") << QStringLiteral("203.0.113.7");
    QTest::newRow("ipv4 + newline") << QByteArray("203.0.113.7\n") << QStringLiteral("203.0.113.7");
    QTest::newRow("private ipv4") << QByteArray("10.0.0.1") << QStringLiteral("10.0.0.1");
    QTest::newRow("ipv6") << QByteArray(" 2001:db8::7 ") << QStringLiteral("2001:db8::7");
    QTest::newRow("v4-mapped") << QByteArray("::ffff:203.0.113.7") << QStringLiteral("203.0.113.7");
    QTest::newRow("timeout") << QByteArray("timeout") << QString();
    QTest::newRow("empty") << QByteArray() << QString();
    QTest::newRow("shorthand") << QByteArray("3405803783") << QString();
    QTest::newRow("three parts") << QByteArray("203.0.113") << QString();
    QTest::newRow("with port") << QByteArray("203.0.113.7:80") << QString();
    QTest::newRow("json") << QByteArray("{\"ip\":\"203.0.113.7\"}") << QString();
    QTest::newRow("scoped") << QByteArray("fe80::1%eth0") << QString();
    QTest::newRow("link-local") << QByteArray("169.254.1.1") << QString();
    QTest::newRow("loopback v6") << QByteArray("::1") << QString();
    QTest::newRow("unspecified v6") << QByteArray("::") << QString();
    QTest::newRow("multicast") << QByteArray("224.0.0.1") << QString();
    QTest::newRow("broadcast") << QByteArray("255.255.255.255") << QString();
    QTest::newRow("out of range") << QByteArray("203.0.113.256") << QString();
}

void TestDiscovery::parseEchoedAddress()
{
    QFETCH(QByteArray, body);
    QFETCH(QString, address);
    const std::optional<QHostAddress> parsed = Discovery::parseEchoedAddress(body);
    QCOMPARE(parsed.has_value(), !address.isEmpty());
    if (parsed)
        QCOMPARE(parsed->toString(), address);
}

QTEST_GUILESS_MAIN(TestDiscovery)
#include "tst_discovery.moc"
