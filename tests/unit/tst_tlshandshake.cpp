// TLS 1.3 with pinned self-signed identities on loopback, in process: success, pin mismatch,
// peers that speak something else or nothing, TlsLink over the secured connections, and the
// round trips a session costs (a delaying relay between the two ends).
#include "identity/identity.h"
#include "protocol/frame.h"
#include "session/tlshandshake.h"
#include "session/tlslink.h"
#include "support/kernelsockets.h"

#include <QElapsedTimer>
#include <QSignalSpy>
#include <QSslSocket>
#include <QTcpServer>
#include <QTemporaryDir>
#include <QTest>
#include <QTimer>

#include <openssl/ssl.h>

using namespace Punchline;

namespace {

class Server : public QTcpServer
{
public:
    QList<QSslSocket *> sockets;

protected:
    void incomingConnection(qintptr fd) override
    {
        auto *s = new QSslSocket(this);
        QVERIFY(s->setSocketDescriptor(fd));
        sockets.append(s);
    }
};

struct Pair
{
    QSslSocket *server = nullptr;
    QSslSocket *client = nullptr;
};

// Forwards bytes both ways after delayMs (one way), like a path with RTT 2 × delayMs.
class DelayRelay : public QTcpServer
{
public:
    DelayRelay(quint16 target, int delayMs)
        : m_target(target)
        , m_delayMs(delayMs)
    {
    }

protected:
    void incomingConnection(qintptr fd) override
    {
        auto *in = new QTcpSocket(this);
        in->setSocketDescriptor(fd);
        auto *out = new QTcpSocket(this);
        in->setSocketOption(QAbstractSocket::LowDelayOption, 1);
        out->setSocketOption(QAbstractSocket::LowDelayOption, 1);
        out->connectToHost(QHostAddress::LocalHost, m_target);
        pipe(in, out);
        pipe(out, in);
    }

private:
    void pipe(QTcpSocket *from, QTcpSocket *to)
    {
        connect(from, &QTcpSocket::readyRead, this, [this, from, to] {
            const QByteArray bytes = from->readAll();
            QTimer::singleShot(m_delayMs, Qt::PreciseTimer, to, [to, bytes] { to->write(bytes); });
        });
    }
    quint16 m_target;
    int m_delayMs;
};

Error errorAt(const QSignalSpy &spy, int i)
{
    return spy.at(i).at(0).value<Error>();
}

} // namespace

class TestTlsHandshake : public QObject
{
    Q_OBJECT

    QTemporaryDir m_dir;
    std::optional<Identity> m_alice;
    std::optional<Identity> m_bob;
    Server *m_server = nullptr;

    Pair connectPair()
    {
        Pair p;
        const int before = int(m_server->sockets.size());
        p.client = new QSslSocket(this);
        p.client->connectToHost(QHostAddress::LocalHost, m_server->serverPort());
        if (!p.client->waitForConnected(5000))
            return {};
        if (!QTest::qWaitFor([&] { return m_server->sockets.size() > before; }, 5000))
            return {};
        p.server = m_server->sockets.last();
        return p;
    }

private Q_SLOTS:
    void initTestCase()
    {
        qRegisterMetaType<Error>();
        QVERIFY(QSslSocket::supportsSsl());
        Error e;
        m_alice = Identity::loadOrCreate(m_dir.filePath(QStringLiteral("alice")), &e);
        QVERIFY2(m_alice, qPrintable(e.message));
        m_bob = Identity::loadOrCreate(m_dir.filePath(QStringLiteral("bob")), &e);
        QVERIFY2(m_bob, qPrintable(e.message));
        m_server = new Server;
        m_server->setParent(this);
        QVERIFY(m_server->listen(QHostAddress::LocalHost, 0));
    }

    void succeedsWithPinnedFingerprints_data()
    {
        QTest::addColumn<bool>("pinned");
        QTest::newRow("pinned both ways") << true;
        QTest::newRow("trust on first use") << false;
    }

    void succeedsWithPinnedFingerprints()
    {
        QFETCH(bool, pinned);
        const Pair p = connectPair();
        QVERIFY(p.client && p.server);
        TlsHandshake client(p.client, *m_alice, TlsHandshake::Role::Client,
            pinned ? m_bob->fingerprint() : QByteArray());
        TlsHandshake server(
            p.server, *m_bob, /*asServer=*/true, pinned ? m_alice->fingerprint() : QByteArray());
        QSignalSpy okClient(&client, &TlsHandshake::succeeded);
        QSignalSpy okServer(&server, &TlsHandshake::succeeded);
        QSignalSpy failClient(&client, &TlsHandshake::failed);
        QSignalSpy failServer(&server, &TlsHandshake::failed);
        client.start();
        server.start();
        QTRY_COMPARE_WITH_TIMEOUT(okClient.size() + failClient.size(), 1, 10000);
        QTRY_COMPARE_WITH_TIMEOUT(okServer.size() + failServer.size(), 1, 10000);
        QVERIFY2(failClient.isEmpty(),
            failClient.isEmpty() ? "" : qPrintable(errorAt(failClient, 0).message));
        QVERIFY2(failServer.isEmpty(),
            failServer.isEmpty() ? "" : qPrintable(errorAt(failServer, 0).message));
        QCOMPARE(okClient.at(0).at(0).toByteArray(), m_bob->fingerprint());
        QCOMPARE(okServer.at(0).at(0).toByteArray(), m_alice->fingerprint());
        QCOMPARE(client.stream()->protocolVersion(), QStringLiteral("TLSv1.3"));
        QCOMPARE(server.stream()->protocolVersion(), QStringLiteral("TLSv1.3"));
        QCOMPARE(client.stream()->applicationProtocol(), TlsHandshake::applicationProtocol());
        QCOMPARE(server.stream()->applicationProtocol(), TlsHandshake::applicationProtocol());
        // The descriptor moved to the handshake: Qt's socket objects are left closed.
        QCOMPARE(p.client->state(), QAbstractSocket::UnconnectedState);
        // Kernel TLS is not switched on (the link encrypts in user space); say so if it ever is.
        QVERIFY(!client.stream()->kernelTlsSend());
        delete p.client;
        delete p.server;
    }

    void wrongPinIsMismatch_data()
    {
        QTest::addColumn<bool>("clientPinsWrong");
        QTest::newRow("client pins a stranger") << true;
        QTest::newRow("server pins a stranger") << false;
    }

    void wrongPinIsMismatch()
    {
        QFETCH(bool, clientPinsWrong);
        const Pair p = connectPair();
        QVERIFY(p.client && p.server);
        const QByteArray stranger(32, '\x5a');
        TlsHandshake client(p.client, *m_alice, TlsHandshake::Role::Client,
            clientPinsWrong ? stranger : m_bob->fingerprint());
        TlsHandshake server(p.server, *m_bob, TlsHandshake::Role::Server,
            clientPinsWrong ? m_alice->fingerprint() : stranger);
        TlsHandshake &victim = clientPinsWrong ? client : server;
        QSignalSpy failed(&victim, &TlsHandshake::failed);
        QSignalSpy succeeded(&victim, &TlsHandshake::succeeded);
        client.start();
        server.start();
        QTRY_COMPARE_WITH_TIMEOUT(failed.size(), 1, 10000);
        QCOMPARE(succeeded.size(), 0);
        const Error e = errorAt(failed, 0);
        QCOMPARE(e.code, ErrorCode::PeerIdentityMismatch);
        QVERIFY(e.message.contains(QStringLiteral("does not match the code")));
        QVERIFY(victim.stream()->isClosed());
        delete p.client;
        delete p.server;
    }

    void connectedToSelf()
    {
        const Pair p = connectPair();
        QVERIFY(p.client && p.server);
        TlsHandshake client(p.client, *m_alice, TlsHandshake::Role::Client, QByteArray());
        TlsHandshake server(p.server, *m_alice, TlsHandshake::Role::Server, QByteArray());
        QSignalSpy failed(&client, &TlsHandshake::failed);
        client.start();
        server.start();
        QTRY_COMPARE_WITH_TIMEOUT(failed.size(), 1, 10000);
        QCOMPARE(errorAt(failed, 0).code, ErrorCode::ConnectedToSelf);
        delete p.client;
        delete p.server;
    }

    void clientWithoutCertificateRefused()
    {
        const Pair p = connectPair();
        QVERIFY(p.client && p.server);
        TlsHandshake server(p.server, *m_bob, TlsHandshake::Role::Server, QByteArray());
        QSignalSpy failed(&server, &TlsHandshake::failed);
        QSignalSpy succeeded(&server, &TlsHandshake::succeeded);
        server.start();
        QSslConfiguration c = p.client->sslConfiguration();
        c.setProtocol(QSsl::TlsV1_3OrLater);
        c.setPeerVerifyMode(QSslSocket::VerifyNone);
        c.setAllowedNextProtocols({ TlsHandshake::applicationProtocol() });
        p.client->setSslConfiguration(c);
        p.client->startClientEncryption();
        QTRY_COMPARE_WITH_TIMEOUT(failed.size(), 1, 10000);
        QCOMPARE(succeeded.size(), 0);
        QVERIFY(errorAt(failed, 0).code == ErrorCode::TlsError
            || errorAt(failed, 0).code == ErrorCode::NotPunchline);
        delete p.client;
        delete p.server;
    }

    // A peer that talks something else gets a clear error within a second, not a timeout.
    void garbagePeerFailsQuickly_data()
    {
        QTest::addColumn<bool>("weAreServer");
        QTest::addColumn<QByteArray>("garbage");
        QTest::newRow("server, HTTP request")
            << true << QByteArrayLiteral("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
        QTest::newRow("server, one short line") << true << QByteArrayLiteral("hi\n");
        QTest::newRow("server, hopconn bytes") << true << QByteArray(32, '\x01');
        QTest::newRow("client, HTTP answer")
            << false << QByteArrayLiteral("HTTP/1.1 400 Bad Request\r\n\r\n");
        QTest::newRow("client, binary junk") << false << QByteArray(64, '\xee');
    }

    void garbagePeerFailsQuickly()
    {
        QFETCH(bool, weAreServer);
        QFETCH(QByteArray, garbage);
        const Pair p = connectPair();
        QVERIFY(p.client && p.server);
        QSslSocket *ours = weAreServer ? p.server : p.client;
        QSslSocket *theirs = weAreServer ? p.client : p.server;
        TlsHandshake handshake(ours, *m_alice,
            weAreServer ? TlsHandshake::Role::Server : TlsHandshake::Role::Client,
            m_bob->fingerprint(), 10000);
        QSignalSpy failed(&handshake, &TlsHandshake::failed);
        if (weAreServer) {
            theirs->write(garbage);
        } else {
            // Answer our ClientHello with junk.
            connect(theirs, &QSslSocket::readyRead, this, [theirs, garbage] {
                theirs->readAll();
                theirs->write(garbage);
            });
        }
        QElapsedTimer t;
        t.start();
        handshake.start();
        QTRY_COMPARE_WITH_TIMEOUT(failed.size(), 1, 5000);
        QVERIFY2(t.elapsed() < 2000, qPrintable(QString::number(t.elapsed())));
        const Error e = errorAt(failed, 0);
        QCOMPARE(e.code, ErrorCode::NotPunchline);
        if (weAreServer && garbage.startsWith("GET"))
            QVERIFY2(e.message.contains(QStringLiteral("GET / HTTP")), qPrintable(e.message));
        delete p.client;
        delete p.server;
    }

    void silentPeerTimesOut_data()
    {
        QTest::addColumn<bool>("weAreServer");
        QTest::newRow("we are server") << true;
        QTest::newRow("we are client") << false;
    }

    void silentPeerTimesOut()
    {
        QFETCH(bool, weAreServer);
        const Pair p = connectPair();
        QVERIFY(p.client && p.server);
        TlsHandshake handshake(weAreServer ? p.server : p.client, *m_alice,
            weAreServer ? TlsHandshake::Role::Server : TlsHandshake::Role::Client,
            m_bob->fingerprint(), 600);
        QSignalSpy failed(&handshake, &TlsHandshake::failed);
        QElapsedTimer t;
        t.start();
        handshake.start();
        QTRY_COMPARE_WITH_TIMEOUT(failed.size(), 1, 5000);
        QVERIFY(t.elapsed() >= 550);
        QCOMPARE(errorAt(failed, 0).code, ErrorCode::NotPunchline);
        QVERIFY(errorAt(failed, 0).message.contains(QStringLiteral("0.6 s")));
        delete p.client;
        delete p.server;
    }

    void peerClosesDuringHandshake()
    {
        const Pair p = connectPair();
        QVERIFY(p.client && p.server);
        TlsHandshake handshake(
            p.client, *m_alice, TlsHandshake::Role::Client, m_bob->fingerprint());
        QSignalSpy failed(&handshake, &TlsHandshake::failed);
        connect(p.server, &QSslSocket::readyRead, p.server, &QSslSocket::disconnectFromHost);
        handshake.start();
        QTRY_COMPARE_WITH_TIMEOUT(failed.size(), 1, 5000);
        QVERIFY(errorAt(failed, 0).code == ErrorCode::TlsError
            || errorAt(failed, 0).code == ErrorCode::NotPunchline);
        delete p.client;
        delete p.server;
    }

    // --- TlsLink over a real TLS connection ---

    void tlsLinkCarriesFrames()
    {
        const Pair p = connectPair();
        QVERIFY(p.client && p.server);
        TlsHandshake client(p.client, *m_alice, TlsHandshake::Role::Client, m_bob->fingerprint());
        TlsHandshake server(p.server, *m_bob, TlsHandshake::Role::Server, m_alice->fingerprint());
        QSignalSpy okClient(&client, &TlsHandshake::succeeded);
        QSignalSpy okServer(&server, &TlsHandshake::succeeded);
        client.start();
        server.start();
        QTRY_VERIFY_WITH_TIMEOUT(okClient.size() == 1 && okServer.size() == 1, 10000);

        TlsStream *clientStream = client.takeStream();
        auto *a = new TlsLink(clientStream, this);
        auto *b = new TlsLink(server.takeStream(), this);
        QCOMPARE(clientStream->parent(), a);
        QVERIFY(a->describe().startsWith(QStringLiteral("tls 127.0.0.1:")));
        QCOMPARE(a->maxPayload(), FrameDecoder::DefaultMaxPayload);
        a->setMaxPayload(1024 * 1024);
        b->setMaxPayload(1024 * 1024);

        QSignalSpy framesA(a, &Link::frameReceived);
        QSignalSpy framesB(b, &Link::frameReceived);
        QSignalSpy writableA(a, &Link::writable);
        a->sendFrame(1, QByteArrayLiteral("hello"));
        b->sendFrame(2, QByteArray());
        QTRY_COMPARE(framesB.size(), 1);
        QTRY_COMPARE(framesA.size(), 1);
        QCOMPARE(framesB.at(0).at(0).value<quint16>(), quint16(1));
        QCOMPARE(framesB.at(0).at(1).toByteArray(), QByteArrayLiteral("hello"));
        QCOMPARE(framesA.at(0).at(0).value<quint16>(), quint16(2));

        // 16 MiB in 64 KiB frames, pushed only while below the low-water mark: all arrive, in
        // order, and the sender is told when there is room again.
        constexpr int Frames = 256;
        int sent = 0;
        const auto push = [&] {
            while (sent < Frames && a->pendingBytes() < TlsLink::LowWaterMark) {
                QByteArray chunk(64 * 1024, char(sent));
                a->sendFrame(0x0110, chunk);
                ++sent;
            }
        };
        connect(a, &Link::writable, this, push);
        push();
        QTRY_COMPARE_WITH_TIMEOUT(framesB.size(), Frames + 1, 30000);
        for (int i = 0; i < Frames; ++i)
            QCOMPARE(framesB.at(i + 1).at(1).toByteArray().at(100), char(i));
        QVERIFY(writableA.size() > 0);
        QTRY_COMPARE(a->pendingBytes(), 0);

        // The receiver's limit applies: one byte more is a protocol error, and both ends close.
        QSignalSpy closedA(a, &Link::closed);
        QSignalSpy closedB(b, &Link::closed);
        b->setMaxPayload(1000);
        a->sendFrame(0x0110, QByteArray(1001, 'x'));
        QTRY_COMPARE(closedB.size(), 1);
        QCOMPARE(errorAt(closedB, 0).code, ErrorCode::ProtocolError);
        QVERIFY(!b->isOpen());
        QTRY_COMPARE(closedA.size(), 1);
        QCOMPARE(errorAt(closedA, 0).code, ErrorCode::PeerLost);
        QTest::qWait(50);
        QCOMPARE(closedA.size(), 1); // once
        delete a;
        delete b;
    }

    void tlsLinkGracefulCloseDeliversLastFrame()
    {
        const Pair p = connectPair();
        QVERIFY(p.client && p.server);
        TlsHandshake client(p.client, *m_alice, TlsHandshake::Role::Client, m_bob->fingerprint());
        TlsHandshake server(p.server, *m_bob, TlsHandshake::Role::Server, m_alice->fingerprint());
        QSignalSpy okClient(&client, &TlsHandshake::succeeded);
        QSignalSpy okServer(&server, &TlsHandshake::succeeded);
        client.start();
        server.start();
        QTRY_VERIFY_WITH_TIMEOUT(okClient.size() == 1 && okServer.size() == 1, 10000);
        // The peer writes right after the handshake, before the link exists: nothing is lost.
        const QByteArray early = encodeFrame(7, QByteArrayLiteral("early"));
        QCOMPARE(SSL_write(server.stream()->ssl(), early.constData(), int(early.size())),
            int(early.size()));
        QTest::qWait(50);
        auto *a = new TlsLink(client.takeStream(), this);
        auto *b = new TlsLink(server.takeStream(), this);
        QSignalSpy framesA(a, &Link::frameReceived);
        QSignalSpy framesB(b, &Link::frameReceived);
        QSignalSpy closedA(a, &Link::closed);
        QSignalSpy closedB(b, &Link::closed);
        QTRY_COMPARE(framesA.size(), 1);
        QCOMPARE(framesA.at(0).at(1).toByteArray(), QByteArrayLiteral("early"));

        a->sendFrame(7, QByteArrayLiteral("bye"));
        a->close();
        QVERIFY(!a->isOpen());
        QCOMPARE(closedA.size(), 0); // never from inside close()
        a->sendFrame(8, QByteArrayLiteral("ignored after close"));
        QTRY_COMPARE(closedB.size(), 1);
        QCOMPARE(framesB.size(), 1);
        QCOMPARE(framesB.at(0).at(1).toByteArray(), QByteArrayLiteral("bye"));
        QCOMPARE(closedA.size(), 1);
        delete a;
        delete b;
    }

    void tlsLinkExitCloseLeavesNoTimeWait()
    {
        // A program quitting: its last frame (the Bye) reaches the friend, and once the friend's
        // side acknowledged it the connection is reset, so neither end is left in FIN_WAIT or
        // TIME_WAIT (a restart punches this very 4-tuple again at once).
        if (!TestSupport::kernelTcpStatesReadable())
            QSKIP("needs Linux's /proc/net/tcp");
        const Pair p = connectPair();
        QVERIFY(p.client && p.server);
        TlsHandshake client(p.client, *m_alice, TlsHandshake::Role::Client, m_bob->fingerprint());
        TlsHandshake server(p.server, *m_bob, TlsHandshake::Role::Server, m_alice->fingerprint());
        QSignalSpy okClient(&client, &TlsHandshake::succeeded);
        QSignalSpy okServer(&server, &TlsHandshake::succeeded);
        client.start();
        server.start();
        QTRY_VERIFY_WITH_TIMEOUT(okClient.size() == 1 && okServer.size() == 1, 10000);
        const quint16 port = p.client->localPort();
        const quint16 serverPort = p.server->localPort();
        auto *a = new TlsLink(client.takeStream(), this);
        auto *b = new TlsLink(server.takeStream(), this);
        QSignalSpy framesB(b, &Link::frameReceived);
        QSignalSpy closedA(a, &Link::closed);
        QSignalSpy closedB(b, &Link::closed);
        a->sendFrame(7, QByteArrayLiteral("bye"));
        a->flushAndClose(1000);
        QVERIFY(!a->isOpen());
        QTRY_COMPARE(closedB.size(), 1);
        QCOMPARE(framesB.size(), 1);
        QCOMPARE(framesB.at(0).at(1).toByteArray(), QByteArrayLiteral("bye"));
        QTRY_COMPARE(closedA.size(), 1);
        QCOMPARE(closedA.at(0).at(0).value<Error>().code, ErrorCode::None);
        // The friend's side closes as it does on a Bye; give a FIN time to be answered.
        b->close();
        QTest::qWait(100);
        QCOMPARE(TestSupport::kernelTcpStates(port), QStringList());
        QCOMPARE(TestSupport::kernelTcpStates(serverPort, port), QStringList());
        delete a;
        delete b;
    }

    void tlsLinkAbortNow()
    {
        const Pair p = connectPair();
        QVERIFY(p.client && p.server);
        TlsHandshake client(p.client, *m_alice, TlsHandshake::Role::Client, m_bob->fingerprint());
        TlsHandshake server(p.server, *m_bob, TlsHandshake::Role::Server, m_alice->fingerprint());
        QSignalSpy okClient(&client, &TlsHandshake::succeeded);
        QSignalSpy okServer(&server, &TlsHandshake::succeeded);
        client.start();
        server.start();
        QTRY_VERIFY_WITH_TIMEOUT(okClient.size() == 1 && okServer.size() == 1, 10000);
        auto *a = new TlsLink(client.takeStream(), this);
        auto *b = new TlsLink(server.takeStream(), this);
        QSignalSpy closedA(a, &Link::closed);
        QSignalSpy closedB(b, &Link::closed);
        a->abortNow({ ErrorCode::Canceled, QStringLiteral("stop") });
        QTRY_COMPARE(closedA.size(), 1);
        QCOMPARE(errorAt(closedA, 0).code, ErrorCode::Canceled);
        QTRY_COMPARE(closedB.size(), 1);
        QCOMPARE(errorAt(closedB, 0).code, ErrorCode::PeerLost);
        delete a;
        delete b;
    }

    // --- round trips: the client's session is usable one round trip after its ClientHello ---

    void serverHelloRidesWithTheFlight_data()
    {
        QTest::addColumn<bool>("halfRtt");
        QTest::newRow("hello as 0.5-RTT data") << true;
        QTest::newRow("hello after the client's Finished") << false;
    }

    void serverHelloRidesWithTheFlight()
    {
        // Through a relay that delays each way by 60 ms (RTT 120 ms), the client (the late
        // friend) counts from its ClientHello to the server's hello frame: with the hello as
        // 0.5-RTT data that is one round trip; sent after the handshake, two.
        QFETCH(bool, halfRtt);
        constexpr int OneWayMs = 60;
        DelayRelay relay(m_server->serverPort(), OneWayMs);
        QVERIFY(relay.listen(QHostAddress::LocalHost));
        const int before = int(m_server->sockets.size());
        auto *clientSocket = new QSslSocket(this);
        clientSocket->connectToHost(QHostAddress::LocalHost, relay.serverPort());
        QVERIFY(clientSocket->waitForConnected(5000));
        QTRY_VERIFY(m_server->sockets.size() > before);
        QSslSocket *serverSocket = m_server->sockets.last();
        QTest::qWait(3 * OneWayMs); // the relay's own connect is done

        TlsHandshake client(
            clientSocket, *m_alice, TlsHandshake::Role::Client, m_bob->fingerprint());
        TlsHandshake server(
            serverSocket, *m_bob, TlsHandshake::Role::Server, m_alice->fingerprint());
        const QByteArray hello = encodeFrame(1, QByteArrayLiteral("bob's hello"));
        if (halfRtt)
            server.setHalfRttData(hello);
        TlsLink *clientLink = nullptr;
        TlsLink *serverLink = nullptr;
        qint64 usableMs = -1;
        QElapsedTimer t;
        connect(&client, &TlsHandshake::succeeded, this, [&] {
            clientLink = new TlsLink(client.takeStream(), this);
            connect(clientLink, &Link::frameReceived, this, [&](quint16, const QByteArray &p) {
                if (p == QByteArrayLiteral("bob's hello") && usableMs < 0)
                    usableMs = t.elapsed();
            });
        });
        connect(&server, &TlsHandshake::succeeded, this, [&] {
            serverLink = new TlsLink(server.takeStream(), this);
            if (!server.halfRttSent())
                serverLink->sendFrame(1, QByteArrayLiteral("bob's hello"));
        });
        server.start();
        t.start();
        client.start();
        QTRY_VERIFY_WITH_TIMEOUT(usableMs >= 0, 5000);
        QCOMPARE(server.halfRttSent(), halfRtt);
        const int rtt = 2 * OneWayMs;
        qInfo() << "client usable after" << usableMs << "ms at RTT" << rtt << "ms";
        if (halfRtt)
            QVERIFY2(usableMs < rtt + OneWayMs, qPrintable(QString::number(usableMs)));
        else
            QVERIFY2(usableMs >= 2 * rtt, qPrintable(QString::number(usableMs)));
        delete clientLink;
        delete serverLink;
        delete clientSocket;
    }
};

QTEST_GUILESS_MAIN(TestTlsHandshake)
#include "tst_tlshandshake.moc"
