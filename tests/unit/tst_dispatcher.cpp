// IncomingDispatcher on loopback: the claimed fingerprint is read and handed on (and nothing is
// answered before someone takes the connection), strangers are capped per source and in total,
// and what was dropped is summarised instead of reported one by one.

#include "net/nativesocket.h"
#include "net/sharedportserver.h"
#include "punch/incomingdispatcher.h"
#include "punch/preamble.h"

#include <QSignalSpy>
#include <QSslSocket>
#include <QTcpSocket>
#include <QTest>
#include <memory>
#include <sys/socket.h>
#include <unistd.h>
#include <vector>

using namespace Punchline;

namespace {

struct Listener
{
    std::unique_ptr<Net::SharedPortServer> server;
    quint16 port = 0;
};

Listener listen(IncomingDispatcher &d)
{
    Listener l;
    const auto r = Net::openListener(QAbstractSocket::IPv4Protocol, 0);
    if (!r.ok())
        return l;
    l.server = std::make_unique<Net::SharedPortServer>();
    l.server->setSocketDescriptor(r.fd);
    l.port = Net::localPort(r.fd);
    QObject::connect(
        l.server.get(), &Net::SharedPortServer::incoming, &d, &IncomingDispatcher::addConnection);
    return l;
}

std::unique_ptr<QTcpSocket> dial(quint16 port)
{
    auto s = std::make_unique<QTcpSocket>();
    s->connectToHost(QHostAddress::LocalHost, port);
    s->waitForConnected(3000);
    return s;
}

const QByteArray Ours(32, 'o');

} // namespace

class TestDispatcher : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void initTestCase() { qRegisterMetaType<QSslSocket *>(); }

    void claimedFingerprintIsHandedOn()
    {
        IncomingDispatcher d(Ours);
        Listener l = listen(d);
        QVERIFY(l.port);
        QSignalSpy arrived(&d, &IncomingDispatcher::arrived);
        auto s = dial(l.port);
        s->write(Preamble::encode(QByteArray(32, 'f')) + "N"); // the byte after stays unread
        QTRY_COMPARE_WITH_TIMEOUT(arrived.count(), 1, 3000);
        std::unique_ptr<QSslSocket> got(arrived.first().at(0).value<QSslSocket *>());
        QCOMPARE(arrived.first().at(1).toByteArray(), QByteArray(32, 'f'));
        QCOMPARE(d.pendingCount(), 0);
        // Exactly the preamble was read: what follows is still there for the taker.
        QTRY_VERIFY(got->bytesAvailable() >= 1);
        char c = 0;
        QVERIFY(got->getChar(&c));
        QCOMPARE(c, 'N');
        // Nothing was answered: only whoever takes the connection sends our preamble.
        QTest::qWait(100);
        QCOMPARE(s->bytesAvailable(), 0);
    }

    // A turns: data connection reaches the dispatcher as one end of a socketpair: the socket
    // must report the relay server as its peer (path relay, logs), and still carry the bytes.
    void relayedConnectionReportsTheRelayServer()
    {
        IncomingDispatcher d(Ours);
        QSignalSpy arrived(&d, &IncomingDispatcher::arrived);
        int fds[2] = { -1, -1 };
        QCOMPARE(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, fds), 0);
        const Endpoint relay { QHostAddress(QStringLiteral("198.51.100.10")), 5349 };
        d.addRelayedConnection(fds[0], relay);
        const QByteArray preamble = Preamble::encode(QByteArray(32, 'f')) + "N";
        QCOMPARE(::write(fds[1], preamble.constData(), size_t(preamble.size())),
            ssize_t(preamble.size()));
        QTRY_COMPARE_WITH_TIMEOUT(arrived.count(), 1, 3000);
        std::unique_ptr<QSslSocket> got(arrived.first().at(0).value<QSslSocket *>());
        QCOMPARE(got->peerAddress(), relay.address);
        QCOMPARE(got->peerPort(), relay.port);
        QTRY_VERIFY(got->bytesAvailable() >= 1);
        char c = 0;
        QVERIFY(got->getChar(&c));
        QCOMPARE(c, 'N');
        QCOMPARE(got->write("Y", 1), qint64(1));
        char back = 0;
        // (QTRY evaluates once more after success: the read must not happen twice.)
        QTRY_VERIFY_WITH_TIMEOUT(back == 'Y' || ::read(fds[1], &back, 1) == 1, 3000);
        QCOMPARE(back, 'Y');
        ::close(fds[1]);
    }

    void ourOwnPreambleIsClosedQuietly()
    {
        IncomingDispatcher d(Ours);
        Listener l = listen(d);
        QSignalSpy arrived(&d, &IncomingDispatcher::arrived),
            dropped(&d, &IncomingDispatcher::strangersDropped);
        auto s = dial(l.port);
        s->write(Preamble::encode(Ours));
        QTRY_COMPARE_WITH_TIMEOUT(s->state(), QAbstractSocket::UnconnectedState, 3000);
        QCOMPARE(arrived.count(), 0);
        QCOMPARE(dropped.count(), 0);
    }

    void junkIsSummarisedNotReportedOneByOne()
    {
        IncomingDispatcher::Limits limits;
        limits.summaryIntervalMs = 1000;
        IncomingDispatcher d(Ours, limits);
        Listener l = listen(d);
        QSignalSpy dropped(&d, &IncomingDispatcher::strangersDropped);
        std::vector<std::unique_ptr<QTcpSocket>> junk;
        for (int i = 0; i < 40; ++i) {
            junk.push_back(dial(l.port));
            junk.back()->write(
                QByteArray("GET / HTTP/1.1\r\nX: ") + QByteArray::number(i) + "\r\n\r\n");
            // Few at a time: the per-source cap is not what this test is about.
            if (junk.size() >= 4) {
                QTRY_COMPARE_WITH_TIMEOUT(
                    junk.front()->state(), QAbstractSocket::UnconnectedState, 3000);
                junk.erase(junk.begin());
            }
        }
        QTRY_COMPARE_WITH_TIMEOUT(d.droppedSinceStart(), 40, 5000);
        // Every dropped connection is in a summary, and there are few summaries: the first at
        // once, then at most one per interval.
        QTRY_VERIFY_WITH_TIMEOUT(dropped.count() >= 2, 3000);
        int total = 0;
        for (const auto &args : std::as_const(dropped))
            total += args.at(0).toInt();
        QTRY_COMPARE_WITH_TIMEOUT(total, 40, 3000);
        QVERIFY2(dropped.count() <= 4, qPrintable(QString::number(dropped.count())));
        const QString last = dropped.last().at(1).toString();
        QVERIFY2(
            last.contains(QStringLiteral("strangers")) || last.contains(QStringLiteral("stranger")),
            qPrintable(last));
    }

    void unauthenticatedConnectionsAreCapped()
    {
        IncomingDispatcher::Limits limits;
        limits.maxPerSource = 3;
        limits.maxTotal = 5;
        limits.preambleTimeoutMs = 1500;
        IncomingDispatcher d(Ours, limits);
        Listener l = listen(d);
        // Silent connections from one source: three are held, the rest closed at accept.
        std::vector<std::unique_ptr<QTcpSocket>> silent;
        for (int i = 0; i < 10; ++i)
            silent.push_back(dial(l.port));
        QTRY_COMPARE_WITH_TIMEOUT(d.pendingCount(), 3, 3000);
        QTest::qWait(200);
        QCOMPARE(d.pendingCount(), 3);
        int closed = 0;
        for (auto &s : silent)
            closed += s->state() == QAbstractSocket::UnconnectedState || s->waitForDisconnected(50)
                ? 1
                : 0;
        QVERIFY2(closed >= 7, qPrintable(QString::number(closed)));
        // A friend's connection from elsewhere (another loopback address) still gets in.
        QSignalSpy arrived(&d, &IncomingDispatcher::arrived);
        QTcpSocket other;
        other.bind(QHostAddress(QStringLiteral("127.0.0.2")));
        other.connectToHost(QHostAddress::LocalHost, l.port);
        QVERIFY(other.waitForConnected(3000));
        other.write(Preamble::encode(QByteArray(32, 'f')));
        QTRY_COMPARE_WITH_TIMEOUT(arrived.count(), 1, 3000);
        delete arrived.first().at(0).value<QSslSocket *>();
        // The silent ones are gone after the preamble timeout; the slots are free again.
        QTRY_COMPARE_WITH_TIMEOUT(d.pendingCount(), 0, 5000);
    }
};

QTEST_GUILESS_MAIN(TestDispatcher)
#include "tst_dispatcher.moc"
