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

    // tls: also a TLS listener (turns:) with a server certificate for IP 127.0.0.1 from a
    // throwaway CA made here (caCertificates()).
    bool start(QString *why, bool tls = false)
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
        QStringList tlsArgs { QStringLiteral("--no-tls") };
        if (tls) {
            if (!makeCertificates(why))
                return false;
            m_tlsPort = freePort();
            tlsArgs
                = QStringList { QStringLiteral("--tls-listening-port"), QString::number(m_tlsPort),
                      QStringLiteral("--cert"), dir + QStringLiteral("/server.pem"),
                      QStringLiteral("--pkey"), dir + QStringLiteral("/server.key") };
        }
        const QStringList args = tlsArgs
            + QStringList { QStringLiteral("-n"), QStringLiteral("--no-cli"),
                  QStringLiteral("--no-dtls"), QStringLiteral("--no-udp"),
                  QStringLiteral("--listening-ip"), QStringLiteral("127.0.0.1"),
                  QStringLiteral("--relay-ip"), QStringLiteral("127.0.0.1"),
                  QStringLiteral("--listening-port"), QString::number(m_port),
                  QStringLiteral("--alt-listening-port"), QString::number(freePort()),
                  QStringLiteral("--min-port"), QString::number(relayFirst),
                  QStringLiteral("--max-port"), QString::number(relayFirst + 30),
                  QStringLiteral("--lt-cred-mech"), QStringLiteral("--realm"), testRealm,
                  QStringLiteral("--user"), testUser + QLatin1Char(':') + testPassword,
                  QStringLiteral("--allow-loopback-peers"),
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
            probe.connectToHost(QHostAddress::LocalHost, tls ? m_tlsPort : m_port);
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
    TurnServer tlsServer(const QString &host = QStringLiteral("127.0.0.1")) const
    {
        TurnServer s = server();
        s.tls = true;
        s.server = { host, m_tlsPort };
        return s;
    }
    QList<QSslCertificate> caCertificates() const
    {
        return QSslCertificate::fromPath(m_dir.path() + QStringLiteral("/ca.pem"));
    }
    // A CA that signed nothing here.
    QList<QSslCertificate> otherCaCertificates() const
    {
        return QSslCertificate::fromPath(m_dir.path() + QStringLiteral("/other.pem"));
    }
    QString log() const
    {
        QFile file(m_dir.path() + QStringLiteral("/turn.log"));
        return file.open(QIODevice::ReadOnly) ? QString::fromUtf8(file.readAll()) : QString();
    }

private:
    bool openssl(const QStringList &args, QString *why)
    {
        QProcess p;
        p.setWorkingDirectory(m_dir.path());
        p.setProcessChannelMode(QProcess::MergedChannels);
        p.start(QStringLiteral("openssl"), args);
        if (!p.waitForFinished(30000) || p.exitStatus() != QProcess::NormalExit
            || p.exitCode() != 0) {
            *why = QStringLiteral("openssl %1 failed: %2")
                       .arg(args.join(QLatin1Char(' ')), QString::fromUtf8(p.readAll()));
            return false;
        }
        return true;
    }

    bool makeCertificates(QString *why)
    {
        QFile ext(m_dir.path() + QStringLiteral("/server.ext"));
        if (!ext.open(QIODevice::WriteOnly))
            return false;
        ext.write("subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\n"
                  "extendedKeyUsage=serverAuth\n");
        ext.close();
        const auto ec = [](const QString &key) {
            return QStringList { QStringLiteral("-newkey"), QStringLiteral("ec"),
                QStringLiteral("-pkeyopt"), QStringLiteral("ec_paramgen_curve:prime256v1"),
                QStringLiteral("-nodes"), QStringLiteral("-keyout"), key };
        };
        return openssl(QStringList { QStringLiteral("req"), QStringLiteral("-x509") }
                       + ec(QStringLiteral("ca.key"))
                       + QStringList { QStringLiteral("-out"), QStringLiteral("ca.pem"),
                           QStringLiteral("-days"), QStringLiteral("2"), QStringLiteral("-subj"),
                           QStringLiteral("/CN=Punchline test CA") },
                   why)
            && openssl(QStringList { QStringLiteral("req"), QStringLiteral("-x509") }
                    + ec(QStringLiteral("other.key"))
                    + QStringList { QStringLiteral("-out"), QStringLiteral("other.pem"),
                        QStringLiteral("-days"), QStringLiteral("2"), QStringLiteral("-subj"),
                        QStringLiteral("/CN=Someone else's CA") },
                why)
            && openssl(QStringList { QStringLiteral("req") } + ec(QStringLiteral("server.key"))
                    + QStringList { QStringLiteral("-out"), QStringLiteral("server.csr"),
                        QStringLiteral("-subj"), QStringLiteral("/CN=127.0.0.1") },
                why)
            && openssl(
                { QStringLiteral("x509"), QStringLiteral("-req"), QStringLiteral("-in"),
                    QStringLiteral("server.csr"), QStringLiteral("-CA"), QStringLiteral("ca.pem"),
                    QStringLiteral("-CAkey"), QStringLiteral("ca.key"),
                    QStringLiteral("-CAcreateserial"), QStringLiteral("-out"),
                    QStringLiteral("server.pem"), QStringLiteral("-days"), QStringLiteral("2"),
                    QStringLiteral("-extfile"), QStringLiteral("server.ext") },
                why);
    }

    QTemporaryDir m_dir;
    QProcess m_process;
    quint16 m_port = 0;
    quint16 m_tlsPort = 0;
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
    void tlsBridgesADataConnectionBothWays();
    void tlsConnectToReachesAPeer();
    void tlsUntrustedCertificateNamesTheServer();
    void tlsWrongHostNamesTheServer();

private:
    std::unique_ptr<TurnServerProcess> startServer(QString *why, bool tls = false);
};

// Skips without coturn (not installed); fails when it is there but will not start.
#define START_TURN_SERVER(server)                                                                  \
    QString why_;                                                                                  \
    auto server = startServer(&why_);                                                              \
    if (!QFile::exists(QStringLiteral("/usr/bin/turnserver")))                                     \
        QSKIP("coturn is not installed");                                                          \
    QVERIFY2(server, qPrintable(why_))

#define START_TLS_TURN_SERVER(server)                                                              \
    QString why_;                                                                                  \
    auto server = startServer(&why_, true);                                                        \
    if (!QFile::exists(QStringLiteral("/usr/bin/turnserver")))                                     \
        QSKIP("coturn is not installed");                                                          \
    QVERIFY2(server, qPrintable(why_))

void TestTurnClient::initTestCase()
{
    qRegisterMetaType<Endpoint>();
    qRegisterMetaType<Error>();
}

std::unique_ptr<TurnServerProcess> TestTurnClient::startServer(QString *why, bool tls)
{
    auto server = std::make_unique<TurnServerProcess>();
    if (!server->start(why, tls))
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

namespace {

TurnClient::Options tlsOptions(const QList<QSslCertificate> &ca)
{
    TurnClient::Options o = fastOptions();
    o.extraCaCertificates = ca;
    return o;
}

// Sends out on both sockets and reads both until each got the other's bytes (bounded).
bool exchange(QIODevice *a, const QByteArray &aSends, QIODevice *b, const QByteArray &bSends,
    QByteArray *aGot, QByteArray *bGot, int timeoutMs)
{
    a->write(aSends);
    b->write(bSends);
    const QDeadlineTimer deadline(timeoutMs);
    while (
        (aGot->size() < bSends.size() || bGot->size() < aSends.size()) && !deadline.hasExpired()) {
        QTest::qWait(5);
        aGot->append(a->readAll());
        bGot->append(b->readAll());
    }
    return *aGot == bSends && *bGot == aSends;
}

QByteArray pattern(qsizetype size, quint32 seed)
{
    QByteArray out(size, Qt::Uninitialized);
    quint32 x = seed;
    for (qsizetype i = 0; i < size; ++i) {
        x = x * 1664525u + 1013904223u;
        out[i] = char(x >> 24);
    }
    return out;
}

} // namespace

void TestTurnClient::tlsBridgesADataConnectionBothWays()
{
    START_TLS_TURN_SERVER(server);
    const TurnServer tls = server->tlsServer();
    TurnClient client(tls, tlsOptions(server->caCertificates()));
    QSignalSpy allocated(&client, &TurnClient::allocated);
    QSignalSpy failed(&client, &TurnClient::failed);
    QSignalSpy dataSpy(&client, &TurnClient::dataConnection);
    QSignalSpy log(&client, &TurnClient::logLine);
    DataRecorder data(&client);
    client.setPermissions({ QHostAddress::LocalHost });
    client.start();
    QTRY_COMPARE_WITH_TIMEOUT(allocated.size() + failed.size(), 1, 5000);
    QVERIFY2(failed.isEmpty(),
        failed.isEmpty() ? "" : qPrintable(failed.first().first().value<Error>().message));
    QCOMPARE(client.serverEndpoint().port, tls.server.port);
    QVERIFY(!log.isEmpty());
    QVERIFY2(log.first().first().toString().contains(QLatin1String("TLS")),
        qPrintable(log.first().first().toString()));
    QTest::qWait(100); // the permission

    QTcpSocket peer;
    const Endpoint relayed = *client.relayedEndpoint();
    peer.connectToHost(relayed.address, relayed.port);
    QVERIFY(peer.waitForConnected(3000));
    const QByteArray hello = QByteArrayLiteral("PUNCHLN1 first bytes of the peer");
    peer.write(hello);
    QTRY_COMPARE_WITH_TIMEOUT(data.size(), 1, 5000);
    std::unique_ptr<QSslSocket> socket(data.first().first);
    QCOMPARE(data.first().second.port, peer.localPort());
    // The descriptor is a local bridge's end: the relay server is named as its remote.
    QCOMPARE(dataSpy.first().at(2).value<Endpoint>(), client.serverEndpoint());
    QCOMPARE(client.pendingDataConnections(), 0);
    QCOMPARE(readExactly(socket.get(), hello.size()), hello);

    // 4 MiB from the peer, far beyond the bridge's buffers, so it must hold back and resume;
    // then 1 MiB back. (Not both at once at full size: coturn 4.6 then stops reading a TLS
    // client under load, its Recv-Q stuck while our kernel Send-Q holds the rest; seen with
    // ss, not a bridge fault.)
    const QByteArray up = pattern(4 * 1024 * 1024, 1);
    QByteArray peerGot;
    QByteArray socketGot;
    QVERIFY(exchange(&peer, up, socket.get(), QByteArray(), &peerGot, &socketGot, 60000));
    QCOMPARE(socketGot.size(), up.size());
    const QByteArray down = pattern(1024 * 1024, 2);
    peerGot.clear();
    socketGot.clear();
    QVERIFY(exchange(&peer, QByteArray(), socket.get(), down, &peerGot, &socketGot, 60000));
    QCOMPARE(peerGot.size(), down.size());

    // A reader that stalls: the bridge's buffers fill and it stops reading the server; once
    // reading resumes, every byte still comes, in order.
    // (Qt would otherwise read the local end into memory without limit.)
    socket->setReadBufferSize(64 * 1024);
    const QByteArray burst = pattern(8 * 1024 * 1024, 3);
    peer.write(burst);
    QTest::qWait(1000);
    QVERIFY(socket->bytesAvailable() <= 64 * 1024);
    QCOMPARE(readExactly(socket.get(), burst.size(), 60000), burst);

    // The peer closes: the bridge closes our end too.
    peer.disconnectFromHost();
    QTRY_COMPARE_WITH_TIMEOUT(socket->state(), QAbstractSocket::UnconnectedState, 5000);
}

void TestTurnClient::tlsConnectToReachesAPeer()
{
    START_TLS_TURN_SERVER(server);
    QTcpServer listener;
    QVERIFY(listener.listen(QHostAddress::LocalHost, 0));
    TurnClient client(server->tlsServer(), tlsOptions(server->caCertificates()));
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
    QTRY_VERIFY_WITH_TIMEOUT(listener.hasPendingConnections(), 3000);
    std::unique_ptr<QTcpSocket> accepted(listener.nextPendingConnection());
    socket->write("ping");
    QCOMPARE(readExactly(accepted.get(), 4), QByteArrayLiteral("ping"));
    accepted->write("pong");
    QCOMPARE(readExactly(socket.get(), 4), QByteArrayLiteral("pong"));
    // Our side closes: the relay's peer sees the end.
    socket->disconnectFromHost();
    QTRY_COMPARE_WITH_TIMEOUT(accepted->state(), QAbstractSocket::UnconnectedState, 5000);
}

void TestTurnClient::tlsUntrustedCertificateNamesTheServer()
{
    START_TLS_TURN_SERVER(server);
    const TurnServer tls = server->tlsServer();
    // The system's CAs and someone else's: none signed this server's certificate.
    TurnClient client(tls, tlsOptions(server->otherCaCertificates()));
    QSignalSpy allocated(&client, &TurnClient::allocated);
    QSignalSpy failed(&client, &TurnClient::failed);
    client.start();
    QTRY_COMPARE_WITH_TIMEOUT(failed.size(), 1, 5000);
    QVERIFY(allocated.isEmpty());
    const Error error = failed.first().first().value<Error>();
    QCOMPARE(error.code, ErrorCode::RelayFailed);
    QVERIFY2(error.message.startsWith(
                 QStringLiteral("TURN server turns:127.0.0.1:%1 is not who it claims to be")
                     .arg(tls.server.port)),
        qPrintable(error.message));
    QVERIFY2(error.message.contains(QLatin1String("certificate")), qPrintable(error.message));
}

void TestTurnClient::tlsWrongHostNamesTheServer()
{
    START_TLS_TURN_SERVER(server);
    // The certificate is for 127.0.0.1, not for this name of the same host.
    const TurnServer tls = server->tlsServer(QStringLiteral("localhost"));
    TurnClient client(tls, tlsOptions(server->caCertificates()));
    QSignalSpy failed(&client, &TurnClient::failed);
    client.start();
    QTRY_COMPARE_WITH_TIMEOUT(failed.size(), 1, 5000);
    const Error error = failed.first().first().value<Error>();
    QVERIFY2(error.message.startsWith(
                 QStringLiteral("TURN server turns:localhost:%1 is not who it claims to be")
                     .arg(tls.server.port)),
        qPrintable(error.message));
    QVERIFY2(error.message.contains(QLatin1String("host name")), qPrintable(error.message));
}

QTEST_GUILESS_MAIN(TestTurnClient)
#include "tst_turnclient.moc"
