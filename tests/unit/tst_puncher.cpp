// Two punchers in one process on loopback: the real shared-port sockets, preamble and
// nomination, plus the failure paths (nobody there, not Punchline, ourselves, port in use).

#include "net/nativesocket.h"
#include "net/sharedportserver.h"
#include "punch/incomingdispatcher.h"
#include "punch/puncher.h"
#include "support/kernelsockets.h"

#include <QElapsedTimer>
#include <QSignalSpy>
#include <QSslSocket>
#include <QTcpServer>
#include <QTcpSocket>
#include <QTest>
#include <memory>

using namespace Punchline;

namespace {

struct Side
{
    std::unique_ptr<Net::SharedPortServer> server;
    std::unique_ptr<IncomingDispatcher> dispatcher;
    quint16 port = 0;
};

Side listen(quint16 port = 0)
{
    Side s;
    const auto r = Net::openListener(QAbstractSocket::IPv4Protocol, port);
    if (!r.ok())
        return s;
    s.server = std::make_unique<Net::SharedPortServer>();
    s.server->setSocketDescriptor(r.fd);
    s.port = Net::localPort(r.fd);
    return s;
}

// The engine's path for accepted connections: the dispatcher exchanges the preambles, then the
// puncher of the friend the preamble names takes the connection.
void wire(Side &side, Puncher &puncher)
{
    side.dispatcher = std::make_unique<IncomingDispatcher>(puncher.config().ourFingerprint);
    QObject::connect(side.server.get(), &Net::SharedPortServer::incoming, side.dispatcher.get(),
        &IncomingDispatcher::addConnection);
    QObject::connect(
        side.dispatcher.get(), &IncomingDispatcher::arrived, &puncher, &Puncher::addIncoming);
}

QByteArray fp(char c)
{
    return QByteArray(32, c);
}

Endpoint loop(quint16 port)
{
    return Endpoint { QHostAddress::LocalHost, port };
}

Endpoint loop6(quint16 port)
{
    return Endpoint { QHostAddress::LocalHostIPv6, port };
}

bool haveLoopback6()
{
    QTcpServer probe;
    return probe.listen(QHostAddress::LocalHostIPv6);
}

// A side listening on IPv4 and IPv6 with the same port (like the engine), both listeners feeding
// one dispatcher once wired.
struct DualSide
{
    Side v4;
    std::unique_ptr<Net::SharedPortServer> server6;
};

DualSide listenDual()
{
    DualSide s;
    s.v4 = listen();
    if (!s.v4.port)
        return s;
    const auto r = Net::openListener(QAbstractSocket::IPv6Protocol, s.v4.port);
    if (!r.ok())
        return s;
    s.server6 = std::make_unique<Net::SharedPortServer>();
    s.server6->setSocketDescriptor(r.fd);
    return s;
}

void wireDual(DualSide &side, Puncher &puncher)
{
    wire(side.v4, puncher);
    QObject::connect(side.server6.get(), &Net::SharedPortServer::incoming, side.v4.dispatcher.get(),
        &IncomingDispatcher::addConnection);
}

} // namespace

class TestPuncher : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void initTestCase() { qRegisterMetaType<Puncher::Nomination>(); }

    // TURN relays are dialed only after the direct candidates' head start.
    void laterCandidatesWaitForTheirTurn()
    {
        Side a = listen();
        Side b = listen();
        QVERIFY(a.port && b.port);
        Puncher::Config ca { a.port, {}, fp('a'), fp('b') };
        ca.laterCandidates = { loop(b.port) };
        ca.laterAfterMs = 600;
        Puncher pa(ca);
        Puncher pb({ b.port, {}, fp('b'), {} }); // dials nothing: only the listener takes it
        wire(a, pa);
        wire(b, pb);
        QSignalSpy na(&pa, &Puncher::nominated);
        QSignalSpy nb(&pb, &Puncher::nominated);
        QElapsedTimer since;
        since.start();
        pa.start();
        pb.start();
        QTest::qWait(400);
        QCOMPARE(na.count() + nb.count(), 0); // nothing dialed yet
        QTRY_COMPARE_WITH_TIMEOUT(na.count(), 1, 10000);
        QTRY_COMPARE_WITH_TIMEOUT(nb.count(), 1, 10000);
        QVERIFY2(since.elapsed() >= 600, qPrintable(QString::number(since.elapsed())));
        std::unique_ptr<QSslSocket> sx(na.at(0).at(0).value<Puncher::Nomination>().socket);
        std::unique_ptr<QSslSocket> sy(nb.at(0).at(0).value<Puncher::Nomination>().socket);
        QCOMPARE(na.at(0).at(0).value<Puncher::Nomination>().remote, loop(b.port));
        // Stopping before the head start ends dials nothing later.
        Puncher::Config cc { a.port, {}, fp('a'), fp('b') };
        cc.laterCandidates = { loop(b.port) };
        cc.laterAfterMs = 100;
        Puncher pc(cc);
        QSignalSpy pr(&pc, &Puncher::progress);
        pc.start();
        pc.stop();
        QTest::qWait(300);
        QVERIFY(pr.isEmpty() || pr.last().at(0).value<ConnectProgress>().attempts == 0);
    }

    void twoPunchersAgreeOnOneConnection()
    {
        Side a = listen();
        Side b = listen();
        QVERIFY(a.port && b.port);
        Puncher pa({ a.port, { loop(b.port) }, fp('a'), fp('b') });
        Puncher pb({ b.port, { loop(a.port) }, fp('b'), {} });
        wire(a, pa);
        wire(b, pb);
        QSignalSpy na(&pa, &Puncher::nominated);
        QSignalSpy nb(&pb, &Puncher::nominated);
        pa.start();
        pb.start();
        QTRY_COMPARE_WITH_TIMEOUT(na.count(), 1, 10000);
        QTRY_COMPARE_WITH_TIMEOUT(nb.count(), 1, 10000);
        const auto x = na.at(0).at(0).value<Puncher::Nomination>();
        const auto y = nb.at(0).at(0).value<Puncher::Nomination>();
        std::unique_ptr<QSslSocket> sx(x.socket), sy(y.socket);
        // Both ends hold the two ends of the same TCP connection.
        QCOMPARE(x.local, y.remote);
        QCOMPARE(x.remote, y.local);
        QCOMPARE(x.local.port, a.port);
        QCOMPARE(y.local.port, b.port);
        // Roles are complementary and follow the fingerprints ('b' > 'a': B controls, A serves).
        QVERIFY(x.tlsServer);
        QVERIFY(!y.tlsServer);
        QCOMPARE(x.peerFingerprint, fp('b'));
        QCOMPARE(y.peerFingerprint, fp('a'));
        // The nominated connection carries data both ways.
        sx->write("ping");
        QTRY_VERIFY(sy->bytesAvailable() >= 4);
        QCOMPARE(sy->readAll(), QByteArray("ping"));
        // No second nomination arrives later.
        QTest::qWait(300);
        QCOMPARE(na.count(), 1);
        QCOMPARE(nb.count(), 1);
    }

    void bothPinnedAgreeOnRolesEitherWay()
    {
        // Both friends pasted codes: the controller may nominate early ('n', it serves TLS) or
        // after the peer's preamble ('N', it opens TLS). Whichever happens, the roles must be
        // complementary on the one connection both hold.
        for (int round = 0; round < 5; ++round) {
            Side a = listen();
            Side b = listen();
            Puncher pa({ a.port, { loop(b.port) }, fp('a'), fp('b') });
            Puncher pb({ b.port, { loop(a.port) }, fp('b'), fp('a') });
            wire(a, pa);
            wire(b, pb);
            QSignalSpy na(&pa, &Puncher::nominated);
            QSignalSpy nb(&pb, &Puncher::nominated);
            if (round % 2) {
                pa.start();
                QTest::qWait(300);
                pb.start();
            } else {
                pb.start();
                QTest::qWait(300);
                pa.start();
            }
            QTRY_COMPARE_WITH_TIMEOUT(na.count(), 1, 10000);
            QTRY_COMPARE_WITH_TIMEOUT(nb.count(), 1, 10000);
            const auto x = na.at(0).at(0).value<Puncher::Nomination>();
            const auto y = nb.at(0).at(0).value<Puncher::Nomination>();
            std::unique_ptr<QSslSocket> sx(x.socket), sy(y.socket);
            QCOMPARE(x.local, y.remote);
            QCOMPARE(x.tlsServer, !y.tlsServer);
            QCOMPARE(x.peerFingerprint, fp('b'));
            QCOMPARE(y.peerFingerprint, fp('a'));
            // Nothing of the set-up is left in either stream: what one writes, the other reads.
            sx->write("from a");
            sy->write("from b");
            QTRY_VERIFY(sy->bytesAvailable() >= 6 && sx->bytesAvailable() >= 6);
            QCOMPARE(sy->readAll(), QByteArray("from a"));
            QCOMPARE(sx->readAll(), QByteArray("from b"));
        }
    }

    void pinnedControllerNominatesEarlyWhenPeerIsSlow()
    {
        // The peer (a hand-driven socket) is slow to send its preamble: the controller, which
        // knows the peer's fingerprint, sends its preamble and 'n' without waiting, and serves
        // TLS once the peer's preamble has arrived.
        Side b = listen();
        QTcpServer peer;
        QVERIFY(peer.listen(QHostAddress::LocalHost));
        Puncher pb({ b.port, { loop(peer.serverPort()) }, fp('b'), fp('a') });
        QSignalSpy nb(&pb, &Puncher::nominated);
        pb.start();
        QTRY_VERIFY_WITH_TIMEOUT(peer.hasPendingConnections(), 5000);
        std::unique_ptr<QTcpSocket> s(peer.nextPendingConnection());
        QTRY_VERIFY_WITH_TIMEOUT(s->bytesAvailable() >= 41, 3000);
        const QByteArray got = s->readAll();
        QCOMPARE(got.size(), 41);
        QVERIFY(got.startsWith("PUNCHLN1"));
        QCOMPARE(got.mid(8, 32), fp('b'));
        QCOMPARE(got.at(40), 'n');
        QCOMPARE(nb.count(), 0); // not before the peer's preamble proved it is Punchline
        s->write(QByteArray("PUNCHLN1") + fp('a') + "CLIENTHELLO");
        QTRY_COMPARE_WITH_TIMEOUT(nb.count(), 1, 3000);
        const auto n = nb.at(0).at(0).value<Puncher::Nomination>();
        std::unique_ptr<QSslSocket> owned(n.socket);
        QVERIFY(n.tlsServer);
        QCOMPARE(n.peerFingerprint, fp('a'));
        // The preamble was consumed exactly: the TLS layer starts at the peer's first TLS byte.
        QTRY_VERIFY(n.socket->bytesAvailable() >= 11);
        QCOMPARE(n.socket->readAll(), QByteArray("CLIENTHELLO"));
    }

    void controlledSideOpensTlsAfterEarlyNomination()
    {
        Side a = listen();
        QTcpServer peer; // plays a controller that nominated early
        QVERIFY(peer.listen(QHostAddress::LocalHost));
        Puncher pa({ a.port, { loop(peer.serverPort()) }, fp('a'), {} });
        QSignalSpy na(&pa, &Puncher::nominated);
        pa.start();
        QTRY_VERIFY_WITH_TIMEOUT(peer.hasPendingConnections(), 5000);
        std::unique_ptr<QTcpSocket> s(peer.nextPendingConnection());
        s->write(QByteArray("PUNCHLN1") + fp('c') + 'n');
        QTRY_COMPARE_WITH_TIMEOUT(na.count(), 1, 3000);
        const auto n = na.at(0).at(0).value<Puncher::Nomination>();
        std::unique_ptr<QSslSocket> owned(n.socket);
        QVERIFY(!n.tlsServer); // 'n': the controlled side opens TLS
        QCOMPARE(n.peerFingerprint, fp('c'));
        QTRY_VERIFY(s->bytesAvailable() >= 40);
        QCOMPARE(s->read(40), QByteArray("PUNCHLN1") + fp('a'));
    }

    void unknownNominationByteIsRefused()
    {
        Side a = listen();
        QTcpServer peer; // a controller that sends neither 'N' nor 'n'
        QVERIFY(peer.listen(QHostAddress::LocalHost));
        Puncher::Config c { a.port, { loop(peer.serverPort()) }, fp('a'), {}, 5000, 200, 4000,
            false, 3000 };
        Puncher pa(c);
        QSignalSpy rejected(&pa, &Puncher::pathRejected);
        QSignalSpy na(&pa, &Puncher::nominated);
        connect(&peer, &QTcpServer::newConnection, &peer, [&peer] {
            QTcpSocket *s = peer.nextPendingConnection();
            s->write(QByteArray("PUNCHLN1") + QByteArray(32, 'c') + 'x');
        });
        pa.start();
        QTRY_VERIFY_WITH_TIMEOUT(rejected.count() >= 1, 3000);
        QCOMPARE(rejected.at(0).at(0).value<Error>().code, ErrorCode::ProtocolError);
        QCOMPARE(na.count(), 0);
    }

    void latePeerStillConnects()
    {
        Side a = listen();
        Side b = listen();
        Puncher pa({ a.port, { loop(b.port) }, fp('c'), {} });
        wire(a, pa);
        QSignalSpy na(&pa, &Puncher::nominated);
        pa.start();
        QTest::qWait(1500); // B pastes late; meanwhile A's attempts are refused and retried
        Puncher pb({ b.port, { loop(a.port) }, fp('d'), {} });
        wire(b, pb);
        QSignalSpy nb(&pb, &Puncher::nominated);
        pb.start();
        QTRY_COMPARE_WITH_TIMEOUT(na.count(), 1, 10000);
        QTRY_COMPARE_WITH_TIMEOUT(nb.count(), 1, 10000);
        delete na.at(0).at(0).value<Puncher::Nomination>().socket;
        delete nb.at(0).at(0).value<Puncher::Nomination>().socket;
    }

    void wrongIdentityIsRejected()
    {
        Side a = listen();
        Side b = listen();
        Puncher pa({ a.port, { loop(b.port) }, fp('a'), fp('z'), 5000, 200, 4000, false, 1500 });
        Puncher pb({ b.port, { loop(a.port) }, fp('b'), {} });
        wire(a, pa);
        wire(b, pb);
        QSignalSpy rejected(&pa, &Puncher::pathRejected);
        QSignalSpy failed(&pa, &Puncher::failed);
        QSignalSpy na(&pa, &Puncher::nominated);
        pa.start();
        pb.start();
        QTRY_VERIFY_WITH_TIMEOUT(rejected.count() >= 1, 5000);
        QCOMPARE(rejected.at(0).at(0).value<Error>().code, ErrorCode::PeerIdentityMismatch);
        // Someone else answering is no reason to give up early, nor another kind of failure (an
        // outsider could otherwise end the attempt): the deadline ends it, naming what answered.
        QTRY_COMPARE_WITH_TIMEOUT(failed.count(), 1, 5000);
        const Error e = failed.at(0).at(0).value<Error>();
        QCOMPARE(e.code, ErrorCode::ConnectTimeout);
        QVERIFY2(e.message.contains(QStringLiteral("someone else")), qPrintable(e.message));
        QCOMPARE(na.count(), 0);
    }

    void nonPunchlinePeerIsRejectedQuickly()
    {
        Side a = listen();
        QTcpServer http;
        QVERIFY(http.listen(QHostAddress::LocalHost));
        connect(&http, &QTcpServer::newConnection, &http, [&http] {
            QTcpSocket *s = http.nextPendingConnection();
            s->write("HTTP/1.1 400 Bad Request\r\n\r\nbad request, go away");
        });
        Puncher pa(
            { a.port, { loop(http.serverPort()) }, fp('a'), {}, 5000, 200, 4000, false, 3000 });
        QSignalSpy rejected(&pa, &Puncher::pathRejected);
        QSignalSpy failed(&pa, &Puncher::failed);
        pa.start();
        QTRY_VERIFY_WITH_TIMEOUT(rejected.count() >= 1, 2000);
        const Error e = rejected.at(0).at(0).value<Error>();
        QCOMPARE(e.code, ErrorCode::NotPunchline);
        QVERIFY2(e.message.contains(QStringLiteral("HTTP/1.1 400")), qPrintable(e.message));
        // Giving up is a timeout (the CLI's exit code 3), and it says what answered.
        QTRY_COMPARE_WITH_TIMEOUT(failed.count(), 1, 5000);
        const Error final = failed.at(0).at(0).value<Error>();
        QCOMPARE(final.code, ErrorCode::ConnectTimeout);
        QVERIFY2(final.message.contains(QStringLiteral("HTTP/1.1 400")), qPrintable(final.message));
    }

    void silentPeerTimesOut()
    {
        Side a = listen();
        QTcpServer mute; // accepts, says nothing
        QVERIFY(mute.listen(QHostAddress::LocalHost));
        Puncher::Config c { a.port, { loop(mute.serverPort()) }, fp('a'), {}, 5000, 200, 4000,
            false, 4000 };
        c.preambleTimeoutMs = 1000;
        Puncher pa(c);
        QSignalSpy rejected(&pa, &Puncher::pathRejected);
        pa.start();
        QTRY_VERIFY_WITH_TIMEOUT(rejected.count() >= 1, 3000);
        QCOMPARE(rejected.at(0).at(0).value<Error>().code, ErrorCode::NotPunchline);
    }

    void droppedPathLeavesNothingBehind()
    {
        // A connection that carries nothing (a NAT that stopped passing the flow, a program that
        // never answers) is dropped at the preamble timeout with a RST: no orphaned socket of
        // ours (FIN_WAIT, TIME_WAIT) may hold the 4-tuple that is dialed again at once (behind
        // a dead path a FIN_WAIT1 socket blocks it, EADDRNOTAVAIL, for minutes).
        if (!TestSupport::kernelTcpStatesReadable())
            QSKIP("needs Linux's /proc/net/tcp");
        Side a = listen();
        QTcpServer mute; // accepts, says nothing, never closes
        QVERIFY(mute.listen(QHostAddress::LocalHost));
        Puncher::Config c { a.port, { loop(mute.serverPort()) }, fp('a'), {}, 5000, 60000, 60000,
            false, 0 };
        c.preambleTimeoutMs = 300;
        Puncher pa(c);
        QSignalSpy rejected(&pa, &Puncher::pathRejected);
        pa.start();
        QTRY_VERIFY_WITH_TIMEOUT(rejected.count() >= 1, 3000);
        QCOMPARE(rejected.at(0).at(0).value<Error>().code, ErrorCode::NotPunchline);
        QTest::qWait(100);
        const QStringList closing { QStringLiteral("04"), QStringLiteral("05"),
            QStringLiteral("06"), QStringLiteral("0B") }; // FIN_WAIT1/2, TIME_WAIT, CLOSING
        for (const QString &state : TestSupport::kernelTcpStates(a.port, mute.serverPort()))
            QVERIFY2(!closing.contains(state), qPrintable(state));
        pa.stop();
    }

    void nobodyThereFailsAtDeadline()
    {
        Side a = listen();
        Side gone = listen();
        const quint16 closedPort = gone.port;
        gone.server.reset(); // nothing listens there any more
        Puncher pa({ a.port, { loop(closedPort) }, fp('a'), {}, 5000, 200, 4000, false, 1200 });
        QSignalSpy failed(&pa, &Puncher::failed);
        QSignalSpy progress(&pa, &Puncher::progress);
        QElapsedTimer t;
        t.start();
        pa.start();
        QTRY_COMPARE_WITH_TIMEOUT(failed.count(), 1, 5000);
        QVERIFY(t.elapsed() >= 1100);
        QCOMPARE(failed.at(0).at(0).value<Error>().code, ErrorCode::ConnectTimeout);
        // It kept trying on the schedule rather than giving up after one refusal.
        QVERIFY(progress.count() >= 3);
        QVERIFY(progress.last().at(0).value<ConnectProgress>().attempts >= 3);
    }

    void selfIsNotAPeer()
    {
        Side a = listen();
        Puncher pa({ a.port, { loop(a.port) }, fp('a'), {}, 5000, 200, 4000, false, 1000 });
        wire(a, pa);
        QSignalSpy na(&pa, &Puncher::nominated);
        QSignalSpy failed(&pa, &Puncher::failed);
        pa.start();
        QTRY_COMPARE_WITH_TIMEOUT(failed.count(), 1, 5000);
        QCOMPARE(na.count(), 0);
    }

    void ipv6IsDialedFirstAndIpv4AfterTheHeadStart()
    {
        if (!haveLoopback6())
            QSKIP("no IPv6 loopback on this machine");
        Side a = listen();
        QTcpServer four;
        QTcpServer six;
        QVERIFY(four.listen(QHostAddress::LocalHost));
        QVERIFY(six.listen(QHostAddress::LocalHostIPv6));
        // IPv4 first in the list: the order of the code must not decide.
        Puncher::Config c { a.port, { loop(four.serverPort()), loop6(six.serverPort()) }, fp('a'),
            {} };
        c.ipv6HeadStartMs = 300;
        QCOMPARE(Puncher::Config {}.ipv6HeadStartMs, Puncher::DefaultIpv6HeadStartMs);
        QVERIFY(Puncher::DefaultIpv6HeadStartMs >= 100); // RFC 8305's minimum
        Puncher pa(c);
        QElapsedTimer t;
        t.start();
        pa.start();
        QTRY_VERIFY_WITH_TIMEOUT(six.hasPendingConnections(), 2000);
        const qint64 sixAt = t.elapsed();
        QVERIFY2(!four.hasPendingConnections(), "IPv4 was dialed together with IPv6");
        QTRY_VERIFY_WITH_TIMEOUT(four.hasPendingConnections(), 3000);
        const qint64 fourAt = t.elapsed();
        QVERIFY2(fourAt - sixAt >= 200,
            qPrintable(QStringLiteral("IPv6 at %1 ms, IPv4 at %2 ms").arg(sixAt).arg(fourAt)));
        pa.stop();
    }

    void onlyIpv4CandidatesAreNotHeldBack()
    {
        Side a = listen();
        QTcpServer four;
        QVERIFY(four.listen(QHostAddress::LocalHost));
        Puncher::Config c { a.port, { loop(four.serverPort()) }, fp('a'), {} };
        c.ipv6HeadStartMs = 3000;
        Puncher pa(c);
        pa.start();
        QTRY_VERIFY_WITH_TIMEOUT(four.hasPendingConnections(), 1000);
    }

    void ipv4IsNotHeldBackWhenIpv6CannotWork()
    {
        // A link-local address without an interface cannot be dialed at all (EINVAL at once):
        // IPv6 does not work from here, so IPv4 goes out now, not after the head start.
        Side a = listen();
        QTcpServer four;
        QVERIFY(four.listen(QHostAddress::LocalHost));
        Puncher::Config c { a.port,
            { Endpoint { QHostAddress(QStringLiteral("fe80::1")), 9 }, loop(four.serverPort()) },
            fp('a'), {} };
        c.ipv6HeadStartMs = 5000;
        Puncher pa(c);
        QElapsedTimer t;
        t.start();
        pa.start();
        QTRY_VERIFY_WITH_TIMEOUT(four.hasPendingConnections(), 3000);
        QVERIFY2(t.elapsed() < 1500, qPrintable(QString::number(t.elapsed())));
    }

    void dualStackPunchersNominateIpv6()
    {
        if (!haveLoopback6())
            QSKIP("no IPv6 loopback on this machine");
        for (int round = 0; round < 3; ++round) {
            DualSide a = listenDual();
            DualSide b = listenDual();
            QVERIFY(a.server6 && b.server6);
            Puncher pa({ a.v4.port, { loop(b.v4.port), loop6(b.v4.port) }, fp('a'), fp('b') });
            Puncher pb({ b.v4.port, { loop(a.v4.port), loop6(a.v4.port) }, fp('b'), fp('a') });
            wireDual(a, pa);
            wireDual(b, pb);
            QSignalSpy na(&pa, &Puncher::nominated);
            QSignalSpy nb(&pb, &Puncher::nominated);
            pa.start();
            pb.start();
            QTRY_VERIFY_WITH_TIMEOUT(na.count() >= 1 && nb.count() >= 1, 10000);
            const auto x = na.at(0).at(0).value<Puncher::Nomination>();
            const auto y = nb.at(0).at(0).value<Puncher::Nomination>();
            std::unique_ptr<QSslSocket> sx(x.socket), sy(y.socket);
            QCOMPARE(x.remote, y.local);
            QCOMPARE(x.remote.address.protocol(), QAbstractSocket::IPv6Protocol);
            QCOMPARE(y.remote.address.protocol(), QAbstractSocket::IPv6Protocol);
            pa.stop();
            pb.stop();
        }
    }

    void portInUseIsReported()
    {
        QTcpServer plain; // an ordinary program holding the port, without SO_REUSEPORT
        QVERIFY(plain.listen(QHostAddress::AnyIPv4));
        const auto r = Net::openListener(QAbstractSocket::IPv4Protocol, plain.serverPort());
        QVERIFY(!r.ok());
        QVERIFY2(r.message.contains(QStringLiteral("already in use")), qPrintable(r.message));
    }
};

QTEST_GUILESS_MAIN(TestPuncher)
#include "tst_puncher.moc"
