// Two punchers in one process on loopback: the real shared-port sockets, preamble and
// nomination (with TLS handshakes on top where the set-up is folded into them), plus the failure
// paths (nobody there, not Punchline, ourselves, port in use).

#include "identity/identity.h"
#include "net/nativesocket.h"
#include "net/sharedportserver.h"
#include "protocol/frame.h"
#include "punch/incomingdispatcher.h"
#include "punch/preamble.h"
#include "punch/puncher.h"
#include "session/tlshandshake.h"
#include "session/tlslink.h"
#include "support/kernelsockets.h"

#include <QElapsedTimer>
#include <QSignalSpy>
#include <QSslSocket>
#include <QTcpServer>
#include <QTcpSocket>
#include <QTemporaryDir>
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

// What Friend does with a nomination: one TLS handshake per nomination, the set-up folded into
// it; the first that proves the peer wins.
struct Prover
{
    Prover(const Identity *i, const QByteArray &p)
        : identity(i)
        , pin(p)
    {
    }
    const Identity *identity = nullptr;
    QByteArray pin;
    QList<std::shared_ptr<TlsHandshake>> handshakes;
    std::unique_ptr<TlsStream> winner;
    Puncher::Nomination how;
    bool winnerWasServer = false;
    QList<Error> failures;

    void attach(Puncher &puncher)
    {
        QObject::connect(&puncher, &Puncher::nominated, &puncher,
            [this, &puncher](const Puncher::Nomination &n) {
                auto h
                    = std::make_shared<TlsHandshake>(n.socket, *identity, n.tlsServer, pin, 5000);
                n.socket->setParent(h.get());
                TlsHandshake::Fold fold;
                fold.readPeerPreamble = n.readPeerPreamble;
                fold.awaitAnswer = n.awaitAnswer;
                fold.skipPeerOffer = n.skipPeerOffer;
                h->setFold(fold);
                h->setHalfRttData(encodeFrame(1, QByteArrayLiteral("hello")));
                TlsHandshake *raw = h.get();
                QObject::connect(raw, &TlsHandshake::succeeded, raw, [this, raw, n] {
                    if (winner)
                        return;
                    winner.reset(raw->takeStream());
                    winnerWasServer = raw->role() == TlsHandshake::Role::Server;
                    how = n;
                });
                QObject::connect(
                    raw, &TlsHandshake::failed, &puncher, [this, &puncher](const Error &e) {
                        failures.append(e);
                        puncher.resume(); // as Friend does
                    });
                handshakes.append(h);
                h->start();
            });
    }
};

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
        // A knows B (pasted B's code), B trusts on first use. The two secure one and the same
        // connection, from the shared ports, with complementary roles.
        QTemporaryDir dir;
        Error e;
        const auto ia = Identity::loadOrCreate(dir.filePath(QStringLiteral("a")), &e);
        const auto ib = Identity::loadOrCreate(dir.filePath(QStringLiteral("b")), &e);
        QVERIFY(ia && ib);
        Side a = listen();
        Side b = listen();
        QVERIFY(a.port && b.port);
        Puncher pa({ a.port, { loop(b.port) }, ia->fingerprint(), ib->fingerprint() });
        Puncher pb({ b.port, { loop(a.port) }, ib->fingerprint(), {} });
        wire(a, pa);
        wire(b, pb);
        Prover xa(&*ia, ib->fingerprint());
        Prover xb(&*ib, {});
        xa.attach(pa);
        xb.attach(pb);
        pa.start();
        pb.start();
        QTRY_VERIFY_WITH_TIMEOUT(xa.winner && xb.winner, 10000);
        pa.stop();
        pb.stop();
        // Both ends hold the two ends of the same TCP connection.
        QCOMPARE(xa.winner->localEndpoint(), xb.winner->peerEndpoint());
        QCOMPARE(xa.winner->peerEndpoint(), xb.winner->localEndpoint());
        QCOMPARE(xa.winner->localEndpoint().port, a.port);
        QCOMPARE(xb.winner->localEndpoint().port, b.port);
        QCOMPARE(xa.winnerWasServer, !xb.winnerWasServer);
        // The secured connection carries frames both ways, nothing of the set-up in between.
        TlsLink la(xa.winner.release());
        TlsLink lb(xb.winner.release());
        QSignalSpy fa(&la, &Link::frameReceived);
        QSignalSpy fb(&lb, &Link::frameReceived);
        la.sendFrame(7, QByteArrayLiteral("ping"));
        lb.sendFrame(7, QByteArrayLiteral("pong"));
        QTRY_VERIFY(!fa.isEmpty() && !fb.isEmpty());
        QCOMPARE(fa.last().at(1).toByteArray(), QByteArrayLiteral("pong"));
        QCOMPARE(fb.last().at(1).toByteArray(), QByteArrayLiteral("ping"));
    }

    void bothPinnedSecureTheSameConnectionEitherWay_data()
    {
        QTest::addColumn<bool>("controllerFirst");
        QTest::addColumn<int>("gapMs");
        // Both pasted within a second (both fold their ClientHello: the controller's wins), and
        // one friend a good while before the other (the early one waits and serves).
        QTest::newRow("controller first, together") << true << 300;
        QTest::newRow("controlled first, together") << false << 300;
        QTest::newRow("controller early") << true << 1300;
        QTest::newRow("controlled early") << false << 1300;
    }

    void bothPinnedSecureTheSameConnectionEitherWay()
    {
        // Whoever offers or nominates on whichever connections, the two sides secure one and
        // the same connection, with complementary TLS roles, and no set-up byte is left in it.
        QFETCH(bool, controllerFirst);
        QFETCH(int, gapMs);
        QTemporaryDir dir;
        Error e;
        const auto ia = Identity::loadOrCreate(dir.filePath(QStringLiteral("a")), &e);
        const auto ib = Identity::loadOrCreate(dir.filePath(QStringLiteral("b")), &e);
        QVERIFY(ia && ib);
        // c: the controller (larger fingerprint), d: the controlled side.
        const Identity &ic = ia->fingerprint() > ib->fingerprint() ? *ia : *ib;
        const Identity &id = ia->fingerprint() > ib->fingerprint() ? *ib : *ia;
        Side c = listen();
        Side d = listen();
        Puncher pc({ c.port, { loop(d.port) }, ic.fingerprint(), id.fingerprint() });
        Puncher pd({ d.port, { loop(c.port) }, id.fingerprint(), ic.fingerprint() });
        wire(c, pc);
        wire(d, pd);
        Prover xc { &ic, id.fingerprint() };
        Prover xd { &id, ic.fingerprint() };
        xc.attach(pc);
        xd.attach(pd);
        (controllerFirst ? pc : pd).start();
        QTest::qWait(gapMs);
        (controllerFirst ? pd : pc).start();
        QTRY_VERIFY_WITH_TIMEOUT(xc.winner && xd.winner, 10000);
        pc.stop();
        pd.stop();
        QCOMPARE(xc.winner->localEndpoint(), xd.winner->peerEndpoint());
        QCOMPARE(xc.winner->peerEndpoint(), xd.winner->localEndpoint());
        QCOMPARE(xc.winnerWasServer, !xd.winnerWasServer);
        // (Which side serves depends on which connection came first; on loopback the early
        // side's own dials reach the late side's listener at once, which no NAT would let in.)
        TlsLink lc(xc.winner.release());
        TlsLink ld(xd.winner.release());
        QSignalSpy fc(&lc, &Link::frameReceived);
        QSignalSpy fd(&ld, &Link::frameReceived);
        lc.sendFrame(7, QByteArrayLiteral("from c"));
        ld.sendFrame(7, QByteArrayLiteral("from d"));
        QTRY_VERIFY(fc.size() >= 1 && fd.size() >= 1);
        // The server's 0.5-RTT hello comes first on the client's side; nothing else is there.
        const QSignalSpy &clientFrames = xc.winnerWasServer ? fd : fc;
        QCOMPARE(clientFrames.at(0).at(1).toByteArray(), QByteArrayLiteral("hello"));
        const QSignalSpy &serverFrames = xc.winnerWasServer ? fc : fd;
        QCOMPARE(serverFrames.at(0).at(1).toByteArray(),
            xc.winnerWasServer ? QByteArrayLiteral("from d") : QByteArrayLiteral("from c"));
        QTRY_VERIFY(clientFrames.size() == 2);
    }

    void freshPinnedControllerSendsItsClientHelloWithItsPreamble()
    {
        // The peer (a hand-driven socket) says nothing: the controller, which knows the peer's
        // fingerprint and only just started, nominates at once and its first segment holds
        // its preamble, 'N' and its TLS ClientHello; the peer's preamble is read by the TLS
        // layer.
        QTemporaryDir dir;
        Error e;
        const auto ib = Identity::loadOrCreate(dir.filePath(QStringLiteral("b")), &e);
        QVERIFY(ib);
        const QByteArray peerFp(32, '\x01'); // smaller than any we would be
        Side b = listen();
        QTcpServer peer;
        QVERIFY(peer.listen(QHostAddress::LocalHost));
        Puncher pb({ b.port, { loop(peer.serverPort()) }, ib->fingerprint(), peerFp });
        QSignalSpy nb(&pb, &Puncher::nominated);
        Prover prover { &*ib, peerFp };
        prover.attach(pb);
        pb.start();
        QTRY_VERIFY_WITH_TIMEOUT(peer.hasPendingConnections(), 5000);
        std::unique_ptr<QTcpSocket> s(peer.nextPendingConnection());
        QTRY_COMPARE_WITH_TIMEOUT(nb.count(), 1, 3000);
        const auto n = nb.at(0).at(0).value<Puncher::Nomination>();
        QVERIFY(!n.tlsServer);
        QVERIFY(n.readPeerPreamble);
        QVERIFY(n.skipPeerOffer);
        QTRY_VERIFY_WITH_TIMEOUT(s->bytesAvailable() >= 46, 3000);
        const QByteArray got = s->readAll();
        QVERIFY(got.startsWith("PUNCHLN1"));
        QCOMPARE(got.mid(8, 32), ib->fingerprint());
        QCOMPARE(got.at(40), Preamble::Nominate);
        QCOMPARE(uchar(got.at(41)), uchar(0x16)); // a TLS handshake record: the ClientHello
        QCOMPARE(uchar(got.at(42)), uchar(0x03));
        const int recordLen = (uchar(got.at(44)) << 8) | uchar(got.at(45));
        QCOMPARE(got.size(), 46 + recordLen); // nothing else, and all of it at once
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
        // A just pasted a code for 'z' (its first connections fold the set-up into TLS, which
        // reads the peer's preamble: the handshake refuses the claim), B answers.
        QTemporaryDir dir;
        Error ie;
        const auto ia = Identity::loadOrCreate(dir.filePath(QStringLiteral("a")), &ie);
        QVERIFY(ia);
        const QByteArray z(32, '\xff'); // larger than ours: B's 'b' claim is refused
        Side a = listen();
        Side b = listen();
        Puncher pa(
            { a.port, { loop(b.port) }, ia->fingerprint(), z, 5000, 200, 4000, false, 3000 });
        Puncher pb({ b.port, { loop(a.port) }, fp('b'), {} });
        wire(a, pa);
        wire(b, pb);
        Prover prover(&*ia, z);
        prover.attach(pa);
        QSignalSpy rejected(&pa, &Puncher::pathRejected);
        QSignalSpy failed(&pa, &Puncher::failed);
        QSignalSpy na(&pa, &Puncher::nominated);
        pa.start();
        pb.start();
        // The first second's connections go to the TLS layer (which refuses the claim or sees
        // the connection closed); after it the puncher reads preambles itself and refuses it.
        QTRY_VERIFY_WITH_TIMEOUT(rejected.count() >= 1, 5000);
        QCOMPARE(rejected.at(0).at(0).value<Error>().code, ErrorCode::PeerIdentityMismatch);
        // Someone else answering is no reason to give up early, nor another kind of failure (an
        // outsider could otherwise end the attempt): the deadline ends it, naming what answered.
        QTRY_COMPARE_WITH_TIMEOUT(failed.count(), 1, 5000);
        const Error e = failed.at(0).at(0).value<Error>();
        QCOMPARE(e.code, ErrorCode::ConnectTimeout);
        QVERIFY2(e.message.contains(QStringLiteral("someone else")), qPrintable(e.message));
        QVERIFY(!prover.winner); // nothing was secured with the wrong peer
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
        QTemporaryDir dir;
        Error e;
        const auto ia = Identity::loadOrCreate(dir.filePath(QStringLiteral("a")), &e);
        const auto ib = Identity::loadOrCreate(dir.filePath(QStringLiteral("b")), &e);
        QVERIFY(ia && ib);
        for (int round = 0; round < 3; ++round) {
            DualSide a = listenDual();
            DualSide b = listenDual();
            QVERIFY(a.server6 && b.server6);
            Puncher pa({ a.v4.port, { loop(b.v4.port), loop6(b.v4.port) }, ia->fingerprint(),
                ib->fingerprint() });
            Puncher pb({ b.v4.port, { loop(a.v4.port), loop6(a.v4.port) }, ib->fingerprint(),
                ia->fingerprint() });
            wireDual(a, pa);
            wireDual(b, pb);
            Prover xa(&*ia, ib->fingerprint());
            Prover xb(&*ib, ia->fingerprint());
            xa.attach(pa);
            xb.attach(pb);
            pa.start();
            pb.start();
            QTRY_VERIFY_WITH_TIMEOUT(xa.winner && xb.winner, 10000);
            pa.stop();
            pb.stop();
            QCOMPARE(xa.winner->peerEndpoint(), xb.winner->localEndpoint());
            QCOMPARE(xa.winner->peerEndpoint().address.protocol(), QAbstractSocket::IPv6Protocol);
            QCOMPARE(xb.winner->peerEndpoint().address.protocol(), QAbstractSocket::IPv6Protocol);
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
