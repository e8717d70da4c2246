// StunClient against a real coturn on loopback, plus a scripted STUN server for the answers
// coturn never gives. Nothing here leaves the loopback interface.

#include "stun/stunclient.h"
#include "stuntestservers.h"

#include <QElapsedTimer>
#include <QSignalSpy>
#include <QTest>

using namespace Punchline;
using namespace Punchline::TestSupport;

namespace {

StunClient::Options fastOptions(int keepaliveIntervalMs = 200)
{
    StunClient::Options options;
    options.timeoutMs = 2000;
    options.keepaliveIntervalMs = keepaliveIntervalMs;
    return options;
}

Endpoint endpointOf(const QString &text)
{
    return *Endpoint::parse(text);
}

} // namespace

class TestStunClient : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void initTestCase();
    void cleanupTestCase();
    void parseServer_data();
    void parseServer();
    void mapsThroughCoturnAndKeepsAlive();
    void ipv6Loopback();
    void resolvesNames();
    void stopClosesWithoutSignals();
    void unreachableServer();
    void badServerString();
    void silentServer();
    void notStun();
    void errorResponse();
    void unknownRequiredAttribute();
    void ignoresWrongTransactionId();
    void mappingChanged();
    void lostWhenServerCloses();
    void lostWhenKeepaliveUnanswered();
    void lostWhenCoturnDies();

private:
    Coturn m_coturn;
};

void TestStunClient::initTestCase()
{
    qRegisterMetaType<Endpoint>();
    qRegisterMetaType<Error>();
    QString why;
    QVERIFY2(m_coturn.start({ QStringLiteral("127.0.0.1") }, &why), qPrintable(why));
}

void TestStunClient::cleanupTestCase()
{
    m_coturn.stop();
}

void TestStunClient::parseServer_data()
{
    QTest::addColumn<QString>("text");
    QTest::addColumn<bool>("valid");
    QTest::addColumn<QString>("host");
    QTest::addColumn<int>("port");

    QTest::newRow("name:port") << QStringLiteral("stun.example.org:3478") << true
                               << QStringLiteral("stun.example.org") << 3478;
    QTest::newRow("name only") << QStringLiteral("stun.example.org") << true
                               << QStringLiteral("stun.example.org") << 3478;
    QTest::newRow("ipv4:port") << QStringLiteral(" 192.0.2.1:443 ") << true
                               << QStringLiteral("192.0.2.1") << 443;
    QTest::newRow("[ipv6]:port") << QStringLiteral("[2001:db8::1]:5349") << true
                                 << QStringLiteral("2001:db8::1") << 5349;
    QTest::newRow("[ipv6]") << QStringLiteral("[2001:db8::1]") << true
                            << QStringLiteral("2001:db8::1") << 3478;
    QTest::newRow("bare ipv6") << QStringLiteral("2001:db8::1") << true
                               << QStringLiteral("2001:db8::1") << 3478;
    QTest::newRow("empty") << QString() << false << QString() << 0;
    QTest::newRow("port 0") << QStringLiteral("stun.example.org:0") << false << QString() << 0;
    QTest::newRow("port too big") << QStringLiteral("stun.example.org:65536") << false << QString()
                                  << 0;
    QTest::newRow("port junk") << QStringLiteral("stun.example.org:34x") << false << QString() << 0;
    QTest::newRow("empty port") << QStringLiteral("stun.example.org:") << false << QString() << 0;
    QTest::newRow("url") << QStringLiteral("stun://stun.example.org") << false << QString() << 0;
    QTest::newRow("space in name")
        << QStringLiteral("stun example:3478") << false << QString() << 0;
    QTest::newRow("bad bracket") << QStringLiteral("[2001:db8::1:3478") << false << QString() << 0;
    // What the old own parser let through, and parseHostPort() refuses or tidies.
    QTest::newRow("ipv4 shorthand") << QStringLiteral("10.1:3478") << false << QString() << 0;
    QTest::newRow("unspecified") << QStringLiteral("0.0.0.0:3478") << false << QString() << 0;
    QTest::newRow("empty label") << QStringLiteral("stun..example.org:3478") << false << QString()
                                 << 0;
    QTest::newRow("name in brackets")
        << QStringLiteral("[stun.example.org]:3478") << false << QString() << 0;
    QTest::newRow("upper case") << QStringLiteral("STUN.Example.org:3478") << true
                                << QStringLiteral("stun.example.org") << 3478;
}

void TestStunClient::parseServer()
{
    QFETCH(QString, text);
    QFETCH(bool, valid);
    QFETCH(QString, host);
    QFETCH(int, port);
    const auto parsed = StunClient::parseServer(text);
    QCOMPARE(parsed.has_value(), valid);
    if (valid) {
        QCOMPARE(parsed->host, host);
        QCOMPARE(int(parsed->port), port);
    }
}

void TestStunClient::mapsThroughCoturnAndKeepsAlive()
{
    SharedPort local;
    QVERIFY(local.ok());
    StunClient client(local.port(), m_coturn.server(), fastOptions(200));
    QSignalSpy mapped(&client, &StunClient::mapped);
    QSignalSpy failed(&client, &StunClient::failed);
    QSignalSpy lost(&client, &StunClient::lost);
    client.start();
    QCOMPARE(mapped.count(), 0); // never from inside start()

    QTRY_COMPARE_WITH_TIMEOUT(mapped.count(), 1, 5000);
    QCOMPARE(failed.count(), 0);
    const Endpoint server = mapped.at(0).at(0).value<Endpoint>();
    const Endpoint reflexive = mapped.at(0).at(1).value<Endpoint>();
    QCOMPARE(server, endpointOf(m_coturn.server()));
    // No NAT on loopback: the server sees our shared port as it is.
    QCOMPARE(reflexive, (Endpoint { QHostAddress::LocalHost, local.port() }));
    QCOMPARE(client.mappedEndpoint(), std::optional(reflexive));
    QVERIFY(client.isConnected());

    // Keepalive requests go out on the same connection and are answered.
    QTRY_VERIFY_WITH_TIMEOUT(client.answerCount() >= 4, 5000);
    QVERIFY(client.isConnected());
    QCOMPARE(lost.count(), 0);
    QCOMPARE(mapped.count(), 1);
}

void TestStunClient::ipv6Loopback()
{
    Coturn coturn6;
    QString why;
    if (!coturn6.start({ QStringLiteral("::1") }, &why))
        QSKIP(qPrintable(QStringLiteral("no IPv6 loopback here: ") + why));
    const Net::NativeResult listener = Net::openListener(QAbstractSocket::IPv6Protocol, 0);
    if (!listener.ok())
        QSKIP(
            qPrintable(QStringLiteral("no IPv6 shared-port socket (%1): normalizedAddress() turns "
                                      "\"::\" into 0.0.0.0, so binding [::] fails")
                           .arg(listener.message)));
    const quint16 port = Net::localPort(listener.fd);

    StunClient client(port, coturn6.server(), fastOptions());
    QSignalSpy mapped(&client, &StunClient::mapped);
    QSignalSpy failed(&client, &StunClient::failed);
    client.start();
    QTRY_COMPARE_WITH_TIMEOUT(mapped.count() + failed.count(), 1, 5000);
    Net::closeFd(listener.fd);
    QVERIFY2(failed.isEmpty(),
        failed.isEmpty() ? "" : qPrintable(failed.at(0).at(0).value<Error>().message));
    QCOMPARE(
        mapped.at(0).at(1).value<Endpoint>(), (Endpoint { QHostAddress::LocalHostIPv6, port }));
}

void TestStunClient::resolvesNames()
{
    // "localhost" comes from /etc/hosts: a real asynchronous lookup without any DNS traffic.
    SharedPort local;
    StunClient client(
        local.port(), QStringLiteral("localhost:%1").arg(m_coturn.port()), fastOptions());
    QSignalSpy mapped(&client, &StunClient::mapped);
    QSignalSpy failed(&client, &StunClient::failed);
    client.start();
    QTRY_COMPARE_WITH_TIMEOUT(mapped.count() + failed.count(), 1, 5000);
    QVERIFY2(failed.isEmpty(),
        failed.isEmpty() ? "" : qPrintable(failed.at(0).at(0).value<Error>().message));
    QCOMPARE(mapped.at(0).at(1).value<Endpoint>().port, local.port());
}

void TestStunClient::stopClosesWithoutSignals()
{
    SharedPort local;
    StunClient client(local.port(), m_coturn.server(), fastOptions(100));
    QSignalSpy mapped(&client, &StunClient::mapped);
    QSignalSpy lost(&client, &StunClient::lost);
    QSignalSpy failed(&client, &StunClient::failed);
    client.start();
    QTRY_COMPARE_WITH_TIMEOUT(mapped.count(), 1, 5000);
    client.stop();
    QVERIFY(!client.isConnected());
    QTest::qWait(300);
    QCOMPARE(lost.count(), 0);
    QCOMPARE(failed.count(), 0);

    // Stopping while still connecting is quiet too.
    StunClient early(
        local.port(), QStringLiteral("localhost:%1").arg(m_coturn.port()), fastOptions());
    QSignalSpy earlyMapped(&early, &StunClient::mapped);
    QSignalSpy earlyFailed(&early, &StunClient::failed);
    early.start();
    early.stop();
    QTest::qWait(300);
    QCOMPARE(earlyMapped.count() + earlyFailed.count(), 0);
}

void TestStunClient::unreachableServer()
{
    SharedPort local;
    const QString closed = QStringLiteral("127.0.0.1:%1").arg(freePort());
    StunClient client(local.port(), closed, fastOptions());
    QSignalSpy failed(&client, &StunClient::failed);
    QElapsedTimer elapsed;
    elapsed.start();
    client.start();
    QTRY_COMPARE_WITH_TIMEOUT(failed.count(), 1, 5000);
    QVERIFY(elapsed.elapsed() < 2000 + 500);
    const Error error = failed.at(0).at(0).value<Error>();
    QCOMPARE(error.code, ErrorCode::StunFailed);
    QCOMPARE(error.message, closed + QStringLiteral(": connection refused"));
    QVERIFY(!client.isConnected());
}

void TestStunClient::badServerString()
{
    StunClient client(0, QStringLiteral("stun://nowhere"), fastOptions());
    QSignalSpy failed(&client, &StunClient::failed);
    client.start();
    QCOMPARE(failed.count(), 0);
    QTRY_COMPARE_WITH_TIMEOUT(failed.count(), 1, 1000);
    const QString message = failed.at(0).at(0).value<Error>().message;
    QVERIFY2(message.contains(QLatin1String("host:port")), qPrintable(message));
    // The parser's reason is passed on, so the user learns what to change.
    QVERIFY2(message.contains(QLatin1String("without a scheme")), qPrintable(message));
}

void TestStunClient::silentServer()
{
    ScriptedStunServer silent([](const StunMessage &, int) { return QByteArray(); });
    QVERIFY(silent.listen());
    SharedPort local;
    StunClient::Options options = fastOptions();
    options.timeoutMs = 500;
    StunClient client(local.port(), silent.server(), options);
    QSignalSpy failed(&client, &StunClient::failed);
    QElapsedTimer elapsed;
    elapsed.start();
    client.start();
    QTRY_COMPARE_WITH_TIMEOUT(failed.count(), 1, 3000);
    QVERIFY(elapsed.elapsed() >= 450);
    QCOMPARE(failed.at(0).at(0).value<Error>().message,
        silent.server() + QStringLiteral(": connected, but no STUN answer within 500 ms"));
}

void TestStunClient::notStun()
{
    QTcpServer http;
    QVERIFY(http.listen(QHostAddress::LocalHost));
    connect(&http, &QTcpServer::newConnection, &http, [&http] {
        QTcpSocket *socket = http.nextPendingConnection();
        socket->write("HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n");
    });
    SharedPort local;
    StunClient client(
        local.port(), QStringLiteral("127.0.0.1:%1").arg(http.serverPort()), fastOptions());
    QSignalSpy failed(&client, &StunClient::failed);
    client.start();
    QTRY_COMPARE_WITH_TIMEOUT(failed.count(), 1, 3000);
    QVERIFY(
        failed.at(0).at(0).value<Error>().message.contains(QLatin1String("does not speak STUN")));
}

void TestStunClient::errorResponse()
{
    ScriptedStunServer refusing([](const StunMessage &request, int) {
        StunMessage response(
            StunMessage::Class::ErrorResponse, request.method(), request.transactionId());
        response.addErrorAttribute(401, QStringLiteral("Unauthorized"));
        return response.toBytes();
    });
    QVERIFY(refusing.listen());
    SharedPort local;
    StunClient client(local.port(), refusing.server(), fastOptions());
    QSignalSpy failed(&client, &StunClient::failed);
    client.start();
    QTRY_COMPARE_WITH_TIMEOUT(failed.count(), 1, 3000);
    QCOMPARE(failed.at(0).at(0).value<Error>().message,
        refusing.server() + QStringLiteral(": the server refused the request (401 Unauthorized)"));
}

void TestStunClient::unknownRequiredAttribute()
{
    ScriptedStunServer odd([](const StunMessage &request, int) {
        StunMessage response(
            StunMessage::Class::SuccessResponse, request.method(), request.transactionId());
        response.addAttribute(0x7ABC, QByteArray("must understand"));
        response.addXorMappedAddress(*Endpoint::parse(u"203.0.113.9:4000"));
        return response.toBytes();
    });
    QVERIFY(odd.listen());
    SharedPort local;
    StunClient client(local.port(), odd.server(), fastOptions());
    QSignalSpy failed(&client, &StunClient::failed);
    client.start();
    QTRY_COMPARE_WITH_TIMEOUT(failed.count(), 1, 3000);
    QVERIFY(failed.at(0).at(0).value<Error>().message.contains(QLatin1String("0x7abc")));
}

void TestStunClient::ignoresWrongTransactionId()
{
    const Endpoint spoofed = endpointOf(QStringLiteral("198.51.100.66:6666"));
    const Endpoint real = endpointOf(QStringLiteral("203.0.113.9:4000"));
    ScriptedStunServer server([&](const StunMessage &request, int) -> QByteArray {
        // First an answer to some other transaction, then the real one, in one write.
        const StunMessage other(
            StunMessage::Class::Request, StunMessage::bindingMethod, QByteArray(12, 'x'));
        return ScriptedStunServer::answer(other, spoofed)
            + ScriptedStunServer::answer(request, real);
    });
    QVERIFY(server.listen());
    SharedPort local;
    StunClient client(local.port(), server.server(), fastOptions(0));
    QSignalSpy mapped(&client, &StunClient::mapped);
    client.start();
    QTRY_COMPARE_WITH_TIMEOUT(mapped.count(), 1, 3000);
    QCOMPARE(mapped.at(0).at(1).value<Endpoint>(), real);
    QCOMPARE(client.answerCount(), 1);
}

void TestStunClient::mappingChanged()
{
    const Endpoint first = endpointOf(QStringLiteral("203.0.113.9:4000"));
    const Endpoint second = endpointOf(QStringLiteral("203.0.113.9:4711"));
    ScriptedStunServer server([&](const StunMessage &request, int index) {
        return ScriptedStunServer::answer(request, index < 2 ? first : second);
    });
    QVERIFY(server.listen());
    SharedPort local;
    StunClient client(local.port(), server.server(), fastOptions(100));
    QSignalSpy mapped(&client, &StunClient::mapped);
    QSignalSpy changed(&client, &StunClient::mappingChanged);
    client.start();
    QTRY_COMPARE_WITH_TIMEOUT(mapped.count(), 1, 3000);
    QCOMPARE(mapped.at(0).at(1).value<Endpoint>(), first);
    QTRY_COMPARE_WITH_TIMEOUT(changed.count(), 1, 3000);
    QCOMPARE(changed.at(0).at(0).value<Endpoint>(), second);
    QCOMPARE(client.mappedEndpoint(), std::optional(second));
    QTest::qWait(300); // further answers repeat the new mapping: no more signals
    QCOMPARE(changed.count(), 1);
}

void TestStunClient::lostWhenServerCloses()
{
    ScriptedStunServer server([](const StunMessage &request, int) {
        return ScriptedStunServer::answer(request, *Endpoint::parse(u"203.0.113.9:4000"));
    });
    QVERIFY(server.listen());
    SharedPort local;
    StunClient client(local.port(), server.server(), fastOptions(60000));
    QSignalSpy mapped(&client, &StunClient::mapped);
    QSignalSpy lost(&client, &StunClient::lost);
    client.start();
    QTRY_COMPARE_WITH_TIMEOUT(mapped.count(), 1, 3000);
    server.closeConnections();
    QTRY_COMPARE_WITH_TIMEOUT(lost.count(), 1, 3000);
    QCOMPARE(lost.at(0).at(0).value<Error>().code, ErrorCode::StunFailed);
    QVERIFY(!client.isConnected());
    QTest::qWait(200);
    QCOMPARE(server.connectionCount(), 1); // no automatic reconnect
    QCOMPARE(lost.count(), 1);
}

void TestStunClient::lostWhenKeepaliveUnanswered()
{
    ScriptedStunServer server([](const StunMessage &request, int index) {
        return index == 0
            ? ScriptedStunServer::answer(request, *Endpoint::parse(u"203.0.113.9:4000"))
            : QByteArray();
    });
    QVERIFY(server.listen());
    SharedPort local;
    StunClient::Options options;
    options.timeoutMs = 300;
    options.keepaliveIntervalMs = 100;
    StunClient client(local.port(), server.server(), options);
    QSignalSpy lost(&client, &StunClient::lost);
    client.start();
    QTRY_COMPARE_WITH_TIMEOUT(lost.count(), 1, 3000);
    QCOMPARE(lost.at(0).at(0).value<Error>().message,
        server.server() + QStringLiteral(": no answer to a keepalive request within 300 ms"));
}

void TestStunClient::lostWhenCoturnDies()
{
    Coturn coturn;
    QString why;
    QVERIFY2(coturn.start({ QStringLiteral("127.0.0.1") }, &why), qPrintable(why));
    SharedPort local;
    StunClient client(local.port(), coturn.server(), fastOptions(60000));
    QSignalSpy mapped(&client, &StunClient::mapped);
    QSignalSpy lost(&client, &StunClient::lost);
    client.start();
    QTRY_COMPARE_WITH_TIMEOUT(mapped.count(), 1, 5000);
    coturn.stop();
    QTRY_COMPARE_WITH_TIMEOUT(lost.count(), 1, 5000);
    QVERIFY(lost.at(0).at(0).value<Error>().message.startsWith(coturn.server()));
}

QTEST_GUILESS_MAIN(TestStunClient)
#include "tst_stunclient.moc"
