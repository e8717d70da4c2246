// TurnClient against a real coturn on loopback (TCP allocations, RFC 6062, long-term
// credentials), the "turn:USER:PASS@HOST:PORT" parser, and the codec pieces TURN added to
// StunMessage (MESSAGE-INTEGRITY, XOR-coded peer addresses). Nothing leaves the loopback
// interface.

#include "reach/turnclient.h"
#include "reach/turnstore.h"
#include "stuntestservers.h"

#include <QCryptographicHash>
#include <QMessageAuthenticationCode>
#include <QSignalSpy>
#include <QSslSocket>
#include <QTest>
#include <QtEndian>
#include <memory>

using namespace Punchline;
using namespace Punchline::TestSupport;

namespace {

const QString testUser = QStringLiteral("alice");
const QString testPassword = QStringLiteral("s3cret:with@signs");
const QString testRealm = QStringLiteral("punchline.test");

// coturn relaying TCP on loopback with one long-term user, nothing outside its temp dir.
class TurnServerProcess
{
public:
    ~TurnServerProcess() { stop(); }

    bool start(QString *why)
    {
        const QString program = QStringLiteral("/usr/bin/turnserver");
        if (!QFile::exists(program)) {
            *why = QStringLiteral("coturn is not installed (apt-get install coturn)");
            return false;
        }
        m_port = freePort();
        const quint16 relayBase = freePort();
        const quint16 relayFirst = relayBase > 65000 ? 50000 : relayBase;
        const QString dir = m_dir.path();
        const QStringList args { QStringLiteral("-n"), QStringLiteral("--no-cli"),
            QStringLiteral("--no-tls"), QStringLiteral("--no-dtls"), QStringLiteral("--no-udp"),
            QStringLiteral("--listening-ip"), QStringLiteral("127.0.0.1"),
            QStringLiteral("--relay-ip"), QStringLiteral("127.0.0.1"),
            QStringLiteral("--listening-port"), QString::number(m_port),
            QStringLiteral("--alt-listening-port"), QString::number(freePort()),
            QStringLiteral("--min-port"), QString::number(relayFirst), QStringLiteral("--max-port"),
            QString::number(relayFirst + 30), QStringLiteral("--lt-cred-mech"),
            QStringLiteral("--realm"), testRealm, QStringLiteral("--user"),
            testUser + QLatin1Char(':') + testPassword, QStringLiteral("--allow-loopback-peers"),
            // A private range denied the way the README suggests to operators.
            QStringLiteral("--denied-peer-ip"), QStringLiteral("10.0.0.0-10.255.255.255"),
            QStringLiteral("--log-file"), dir + QStringLiteral("/turn.log"),
            QStringLiteral("--simple-log"), QStringLiteral("--no-stdout-log"),
            QStringLiteral("--pidfile"), dir + QStringLiteral("/turn.pid"),
            QStringLiteral("--userdb"), dir + QStringLiteral("/turndb") };
        m_process.setProcessChannelMode(QProcess::MergedChannels);
        m_process.setChildProcessModifier(dieWithParent);
        m_process.start(program, args);
        if (!m_process.waitForStarted(5000)) {
            *why = QStringLiteral("turnserver did not start: ") + m_process.errorString();
            return false;
        }
        const QDeadlineTimer deadline(10000);
        for (;;) {
            QTcpSocket probe;
            probe.connectToHost(QHostAddress::LocalHost, m_port);
            if (probe.waitForConnected(200))
                return true;
            if (m_process.state() != QProcess::Running || deadline.hasExpired()) {
                *why = QStringLiteral("turnserver is not accepting; its log:\n") + log();
                return false;
            }
            QTest::qWait(50);
        }
    }

    void stop()
    {
        if (m_process.state() == QProcess::NotRunning)
            return;
        m_process.kill();
        m_process.waitForFinished(5000);
    }

    TurnServer server(const QString &password = testPassword) const
    {
        TurnServer s;
        s.username = testUser;
        s.password = password;
        s.server = { QStringLiteral("127.0.0.1"), m_port };
        return s;
    }
    QString log() const
    {
        QFile file(m_dir.path() + QStringLiteral("/turn.log"));
        return file.open(QIODevice::ReadOnly) ? QString::fromUtf8(file.readAll()) : QString();
    }

private:
    QTemporaryDir m_dir;
    QProcess m_process;
    quint16 m_port = 0;
};

// Takes each dataConnection() descriptor into a socket as the engine would (plain QSslSocket,
// unbuffered).
struct DataRecorder : QList<QPair<QSslSocket *, Endpoint>>
{
    explicit DataRecorder(TurnClient *client)
    {
        QObject::connect(
            client, &TurnClient::dataConnection, client, [this](qintptr fd, const Endpoint &peer) {
                auto *socket = new QSslSocket;
                if (!socket->setSocketDescriptor(fd, QAbstractSocket::ConnectedState,
                        QIODevice::ReadWrite | QIODevice::Unbuffered))
                    qFatal("the descriptor of a relayed connection is not a socket");
                append({ socket, peer });
            });
    }
};

TurnClient::Options fastOptions()
{
    TurnClient::Options o;
    o.timeoutMs = 3000;
    return o;
}

// Reads until want bytes arrived (bounded).
QByteArray readExactly(QIODevice *device, qsizetype want, int timeoutMs = 5000)
{
    QByteArray got;
    const QDeadlineTimer deadline(timeoutMs);
    while (got.size() < want && !deadline.hasExpired()) {
        got.append(device->read(want - got.size()));
        if (got.size() < want)
            QTest::qWait(10);
    }
    return got;
}

} // namespace

class TestTurnClient : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void initTestCase();
    void parse_data();
    void parse();
    void parseRefuses_data();
    void parseRefuses();
    void integrityRoundTrip();
    void longTermKeyIsMd5();
    void peerAddressRoundTrip();
    void turnAttributesAreKnown();
    void allocatesThroughCoturn();
    void peerConnectionBecomesADataSocket();
    void connectToReachesAPeer();
    void wrongPasswordNamesTheServer();
    void unreachableServerFails();
    void serverKilledIsLost();
    void stopEmitsNothing();
    void storeIsOwnerOnly();

private:
    std::unique_ptr<TurnServerProcess> startServer(QString *why);
};

// Skips without coturn (not installed); fails when it is there but will not start.
#define START_TURN_SERVER(server)                                                                  \
    QString why_;                                                                                  \
    auto server = startServer(&why_);                                                              \
    if (!QFile::exists(QStringLiteral("/usr/bin/turnserver")))                                     \
        QSKIP("coturn is not installed");                                                          \
    QVERIFY2(server, qPrintable(why_))

void TestTurnClient::initTestCase()
{
    qRegisterMetaType<Endpoint>();
    qRegisterMetaType<Error>();
}

std::unique_ptr<TurnServerProcess> TestTurnClient::startServer(QString *why)
{
    auto server = std::make_unique<TurnServerProcess>();
    if (!server->start(why))
        return nullptr;
    return server;
}

void TestTurnClient::parse_data()
{
    QTest::addColumn<QString>("text");
    QTest::addColumn<bool>("tls");
    QTest::addColumn<QString>("user");
    QTest::addColumn<QString>("password");
    QTest::addColumn<QString>("host");
    QTest::addColumn<int>("port");
    QTest::newRow("plain") << "turn:alice:pw@198.51.100.10:3478" << false << "alice"
                           << "pw"
                           << "198.51.100.10" << 3478;
    QTest::newRow("default port") << "turn:alice:pw@relay.example.org" << false << "alice"
                                  << "pw"
                                  << "relay.example.org" << 3478;
    QTest::newRow("turns default port") << "turns:alice:pw@relay.example.org" << true << "alice"
                                        << "pw"
                                        << "relay.example.org" << 5349;
    QTest::newRow("colon and at in password") << "turn:bob:a:b@c@198.51.100.10:80" << false << "bob"
                                              << "a:b@c"
                                              << "198.51.100.10" << 80;
    QTest::newRow("percent-encoded") << "turn:b%40x:p%20w@[2001:db8::1]:3478" << false << "b@x"
                                     << "p w"
                                     << "2001:db8::1" << 3478;
    QTest::newRow("transport tcp, spaces, upper-case scheme")
        << "  TURN:u:p@198.51.100.10:3478?transport=tcp " << false << "u"
        << "p"
        << "198.51.100.10" << 3478;
}

void TestTurnClient::parse()
{
    QFETCH(QString, text);
    Error error;
    const std::optional<TurnServer> s = parseTurnServer(text, &error);
    QVERIFY2(s, qPrintable(error.message));
    QFETCH(bool, tls);
    QFETCH(QString, user);
    QFETCH(QString, password);
    QFETCH(QString, host);
    QFETCH(int, port);
    QCOMPARE(s->tls, tls);
    QCOMPARE(s->username, user);
    QCOMPARE(s->password, password);
    QCOMPARE(s->server.host, host);
    QCOMPARE(int(s->server.port), port);
    // What is stored reads back the same, and what is shown has no credentials.
    QCOMPARE(parseTurnServer(s->toString()), s);
    QVERIFY(!s->displayName().contains(password));
    QVERIFY(!s->displayName().contains(user));
}

void TestTurnClient::parseRefuses_data()
{
    QTest::addColumn<QString>("text");
    QTest::newRow("no scheme") << "alice:hunter2@198.51.100.10:3478";
    QTest::newRow("stun scheme") << "stun:198.51.100.10:3478";
    QTest::newRow("no credentials") << "turn:198.51.100.10:3478";
    QTest::newRow("no password") << "turn:alice@198.51.100.10:3478";
    QTest::newRow("empty password") << "turn:alice:@198.51.100.10:3478";
    QTest::newRow("empty user") << "turn::hunter2@198.51.100.10:3478";
    QTest::newRow("udp") << "turn:alice:hunter2@198.51.100.10:3478?transport=udp";
    QTest::newRow("bad port") << "turn:alice:hunter2@198.51.100.10:99999";
    QTest::newRow("no host") << "turn:alice:hunter2@";
    QTest::newRow("newline in password") << "turn:alice:hun%0Ater2@198.51.100.10";
}

void TestTurnClient::parseRefuses()
{
    QFETCH(QString, text);
    Error error;
    QVERIFY(!parseTurnServer(text, &error));
    QCOMPARE(error.code, ErrorCode::BadUsage);
    QVERIFY(!error.message.isEmpty());
    QVERIFY2(!error.message.contains(QLatin1String("hunter2")), qPrintable(error.message));
}

void TestTurnClient::integrityRoundTrip()
{
    const QByteArray key = StunMessage::longTermKey(testUser, testRealm, testPassword);
    StunMessage m(StunMessage::Class::Request, TurnMethod::Allocate,
        StunMessage::bindingRequest().transactionId());
    m.addAttribute(StunAttribute::Username, testUser.toUtf8());
    m.addAttribute(StunAttribute::Nonce, QByteArrayLiteral("abc")); // needs padding
    for (const bool fingerprint : { false, true }) {
        const QByteArray wire = m.toBytes(fingerprint, key);
        const StunParseResult parsed = StunMessage::parse(wire);
        QVERIFY2(parsed.ok(), qPrintable(parsed.reason));
        QVERIFY(parsed.message->attribute(StunAttribute::MessageIntegrity));
        QVERIFY(StunMessage::checkIntegrity(wire, key));
        QVERIFY(!StunMessage::checkIntegrity(wire, QByteArray(16, 'x')));
        // The HMAC as RFC 8489 §14.5 defines it, computed independently: over the header (with
        // the length up to and including MESSAGE-INTEGRITY) and the attributes before it.
        const qsizetype miAt = wire.size() - 24 - (fingerprint ? 8 : 0);
        QByteArray covered = wire.left(miAt);
        qToBigEndian(quint16(miAt - 20 + 24), covered.data() + 2);
        QCOMPARE(wire.mid(miAt + 4, 20),
            QMessageAuthenticationCode::hash(covered, key, QCryptographicHash::Sha1));
        QByteArray tampered = wire;
        tampered[24] = char(tampered[24] ^ 1);
        QVERIFY(!StunMessage::checkIntegrity(tampered, key));
    }
    QVERIFY(!StunMessage::checkIntegrity(m.toBytes(), key)); // none at all
}

void TestTurnClient::longTermKeyIsMd5()
{
    QCOMPARE(StunMessage::longTermKey(
                 QStringLiteral("user"), QStringLiteral("realm"), QStringLiteral("pass")),
        QCryptographicHash::hash("user:realm:pass", QCryptographicHash::Md5));
}

void TestTurnClient::peerAddressRoundTrip()
{
    StunMessage m(StunMessage::Class::Indication, TurnMethod::ConnectionAttempt,
        StunMessage::bindingRequest().transactionId());
    const Endpoint v4 { QHostAddress(QStringLiteral("203.0.113.5")), 4000 };
    const Endpoint v6 { QHostAddress(QStringLiteral("2001:db8::7")), 443 };
    m.addXorAddress(StunAttribute::XorPeerAddress, v4);
    m.addXorAddress(StunAttribute::XorRelayedAddress, v6);
    const StunParseResult parsed = StunMessage::parse(m.toBytes());
    QVERIFY(parsed.ok());
    QCOMPARE(parsed.message->messageClass(), StunMessage::Class::Indication);
    QCOMPARE(parsed.message->method(), quint16(TurnMethod::ConnectionAttempt));
    QCOMPARE(parsed.message->xorAddress(StunAttribute::XorPeerAddress), v4);
    QCOMPARE(parsed.message->xorAddress(StunAttribute::XorRelayedAddress), v6);
}

void TestTurnClient::turnAttributesAreKnown()
{
    // A TURN answer must not count as carrying unknown comprehension-required attributes.
    StunMessage m(StunMessage::Class::SuccessResponse, TurnMethod::Allocate,
        StunMessage::bindingRequest().transactionId());
    m.addAttribute(StunAttribute::Lifetime, QByteArray(4, '\0'));
    m.addAttribute(StunAttribute::ConnectionId, QByteArray(4, '\1'));
    m.addXorAddress(StunAttribute::XorRelayedAddress, { QHostAddress::LocalHost, 5000 });
    const StunParseResult parsed = StunMessage::parse(m.toBytes());
    QVERIFY(parsed.ok());
    QVERIFY(parsed.message->unknownRequiredAttributes().isEmpty());
}

void TestTurnClient::allocatesThroughCoturn()
{
    START_TURN_SERVER(server);
    TurnClient client(server->server(), fastOptions());
    QSignalSpy allocated(&client, &TurnClient::allocated);
    QSignalSpy failed(&client, &TurnClient::failed);
    client.start();
    QVERIFY(allocated.isEmpty()); // never from inside start()
    QTRY_COMPARE_WITH_TIMEOUT(allocated.size() + failed.size(), 1, 5000);
    QVERIFY2(failed.isEmpty(),
        failed.isEmpty() ? "" : qPrintable(failed.first().first().value<Error>().message));
    const Endpoint relayed = allocated.first().first().value<Endpoint>();
    QCOMPARE(relayed.address, QHostAddress(QHostAddress::LocalHost));
    QVERIFY(relayed.port != 0);
    QCOMPARE(client.relayedEndpoint(), relayed);
    QVERIFY(client.isAllocated());
    QCOMPARE(client.serverEndpoint().port, server->server().server.port);
}

void TestTurnClient::peerConnectionBecomesADataSocket()
{
    START_TURN_SERVER(server);
    TurnClient client(server->server(), fastOptions());
    QSignalSpy allocated(&client, &TurnClient::allocated);
    DataRecorder data(&client);
    QSignalSpy log(&client, &TurnClient::logLine);
    // The friend's private address is forbidden on this server; its other address must still
    // get its permission.
    client.setPermissions({ QHostAddress(QStringLiteral("10.1.2.3")), QHostAddress::LocalHost });
    client.start();
    QTRY_COMPARE_WITH_TIMEOUT(allocated.size(), 1, 5000);
    // The CreatePermission answers (the refusal is logged).
    QTRY_VERIFY_WITH_TIMEOUT(!log.isEmpty()
            && log.last().first().toString().contains(QLatin1String("refused a permission")),
        3000);
    QTest::qWait(100);

    // The friend without a TURN account: an ordinary TCP connection to the relayed address,
    // which talks at once (the bytes must wait at the server until the bind, then arrive).
    QTcpSocket peer;
    const Endpoint relayed = *client.relayedEndpoint();
    peer.connectToHost(relayed.address, relayed.port);
    QVERIFY(peer.waitForConnected(3000));
    const QByteArray hello = QByteArrayLiteral("PUNCHLN1 first bytes of the peer");
    peer.write(hello);
    QTRY_COMPARE_WITH_TIMEOUT(data.size(), 1, 5000);
    std::unique_ptr<QSslSocket> socket(data.first().first);
    QVERIFY(socket);
    QCOMPARE(data.first().second.address, QHostAddress(QHostAddress::LocalHost));
    QCOMPARE(data.first().second.port, peer.localPort());
    QCOMPARE(client.pendingDataConnections(), 0);

    // Both ways, nothing of TURN left in the stream.
    QCOMPARE(readExactly(socket.get(), hello.size()), hello);
    const QByteArray back = QByteArray(100000, 'b');
    socket->write(back);
    QCOMPARE(readExactly(&peer, back.size()), back);
    peer.write("more");
    QCOMPARE(readExactly(socket.get(), 4), QByteArrayLiteral("more"));
}

void TestTurnClient::connectToReachesAPeer()
{
    START_TURN_SERVER(server);
    QTcpServer listener;
    QVERIFY(listener.listen(QHostAddress::LocalHost, 0));
    TurnClient client(server->server(), fastOptions());
    QSignalSpy allocated(&client, &TurnClient::allocated);
    DataRecorder data(&client);
    QSignalSpy connectFailed(&client, &TurnClient::connectFailed);
    client.setPermissions({ QHostAddress::LocalHost });
    client.start();
    QTRY_COMPARE_WITH_TIMEOUT(allocated.size(), 1, 5000);
    const Endpoint target { QHostAddress(QHostAddress::LocalHost), listener.serverPort() };
    client.connectTo(target);
    QTRY_COMPARE_WITH_TIMEOUT(data.size() + connectFailed.size(), 1, 5000);
    QCOMPARE(connectFailed.size(), 0);
    std::unique_ptr<QSslSocket> socket(data.first().first);
    QCOMPARE(data.first().second, target);
    QTRY_VERIFY_WITH_TIMEOUT(listener.hasPendingConnections(), 3000);
    std::unique_ptr<QTcpSocket> accepted(listener.nextPendingConnection());
    // The relay dials from the relayed address.
    QCOMPARE(accepted->peerPort(), client.relayedEndpoint()->port);
    socket->write("ping");
    QCOMPARE(readExactly(accepted.get(), 4), QByteArrayLiteral("ping"));
    accepted->write("pong");
    QCOMPARE(readExactly(socket.get(), 4), QByteArrayLiteral("pong"));
}

void TestTurnClient::wrongPasswordNamesTheServer()
{
    START_TURN_SERVER(server);
    const TurnServer wrong = server->server(QStringLiteral("not-the-password"));
    TurnClient client(wrong, fastOptions());
    QSignalSpy allocated(&client, &TurnClient::allocated);
    QSignalSpy failed(&client, &TurnClient::failed);
    QSignalSpy log(&client, &TurnClient::logLine);
    client.start();
    QTRY_COMPARE_WITH_TIMEOUT(failed.size(), 1, 5000);
    QVERIFY(allocated.isEmpty());
    const Error error = failed.first().first().value<Error>();
    QCOMPARE(error.code, ErrorCode::RelayFailed);
    QCOMPARE(error.message,
        QStringLiteral("TURN server 127.0.0.1:%1 refused the user name or password")
            .arg(wrong.server.port));
    for (const QList<QVariant> &line : std::as_const(log))
        QVERIFY(!line.first().toString().contains(QLatin1String("not-the-password")));
}

void TestTurnClient::unreachableServerFails()
{
    TurnServer nobody;
    nobody.username = testUser;
    nobody.password = testPassword;
    nobody.server = { QStringLiteral("127.0.0.1"), freePort() };
    TurnClient client(nobody, fastOptions());
    QSignalSpy failed(&client, &TurnClient::failed);
    client.start();
    QTRY_COMPARE_WITH_TIMEOUT(failed.size(), 1, 5000);
    const Error error = failed.first().first().value<Error>();
    QCOMPARE(error.code, ErrorCode::RelayFailed);
    QVERIFY2(error.message.startsWith(
                 QStringLiteral("TURN server %1 could not be reached").arg(nobody.displayName())),
        qPrintable(error.message));
}

void TestTurnClient::serverKilledIsLost()
{
    START_TURN_SERVER(server);
    TurnClient client(server->server(), fastOptions());
    QSignalSpy allocated(&client, &TurnClient::allocated);
    QSignalSpy lost(&client, &TurnClient::lost);
    QSignalSpy failed(&client, &TurnClient::failed);
    client.start();
    QTRY_COMPARE_WITH_TIMEOUT(allocated.size(), 1, 5000);
    server->stop();
    QTRY_COMPARE_WITH_TIMEOUT(lost.size(), 1, 5000);
    QCOMPARE(failed.size(), 0);
    const Error error = lost.first().first().value<Error>();
    QCOMPARE(error.code, ErrorCode::RelayFailed);
    QVERIFY2(
        error.message.contains(QStringLiteral("127.0.0.1:%1").arg(server->server().server.port)),
        qPrintable(error.message));
    QVERIFY(!client.isAllocated());
}

void TestTurnClient::stopEmitsNothing()
{
    START_TURN_SERVER(server);
    TurnClient client(server->server(), fastOptions());
    QSignalSpy allocated(&client, &TurnClient::allocated);
    QSignalSpy lost(&client, &TurnClient::lost);
    QSignalSpy failed(&client, &TurnClient::failed);
    client.start();
    QTRY_COMPARE_WITH_TIMEOUT(allocated.size(), 1, 5000);
    client.stop();
    server->stop();
    QTest::qWait(300);
    QCOMPARE(lost.size() + failed.size(), 0);
}

void TestTurnClient::storeIsOwnerOnly()
{
    QTemporaryDir profile;
    const QString path = profile.filePath(QString::fromLatin1(TurnStore::FileName));
    const QStringList servers { QStringLiteral("turn:alice:pw%40x@198.51.100.10:3478"),
        QStringLiteral("turns:bob:secret@relay.example.org") };
    Error error;
    QCOMPARE(TurnStore::load(profile.path(), &error), QStringList()); // none yet
    QVERIFY2(TurnStore::save(profile.path(), servers, &error), qPrintable(error.message));
    const QFileDevice::Permissions ownerOnly = QFileDevice::ReadOwner | QFileDevice::WriteOwner;
    QCOMPARE(
        QFile::permissions(path) & ~(QFileDevice::ReadUser | QFileDevice::WriteUser), ownerOnly);
    QCOMPARE(TurnStore::load(profile.path(), &error), servers);

    // Someone made it readable for others: loading restricts it again.
    QVERIFY(QFile::setPermissions(path, ownerOnly | QFileDevice::ReadOther));
    QCOMPARE(TurnStore::load(profile.path(), &error), servers);
    QVERIFY(!(QFile::permissions(path) & QFileDevice::ReadOther));

    // A broken entry is left out and named without its password.
    QFile file(path);
    QVERIFY(file.open(QIODevice::WriteOnly | QIODevice::Truncate));
    file.write(R"({"version":1,"servers":["turn:alice:hunter2","turn:a:b@198.51.100.10"]})");
    file.close();
    error = {};
    QCOMPARE(TurnStore::load(profile.path(), &error),
        QStringList { QStringLiteral("turn:a:b@198.51.100.10") });
    QVERIFY(error.isError());
    QVERIFY(!error.message.contains(QLatin1String("hunter2")));

    QVERIFY(TurnStore::save(profile.path(), {}, &error)); // empty: the file goes
    QVERIFY(!QFile::exists(path));
}

QTEST_GUILESS_MAIN(TestTurnClient)
#include "tst_turnclient.moc"
