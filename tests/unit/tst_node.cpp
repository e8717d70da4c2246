// Two Nodes in one process, each with its real network thread, on loopback: the whole core from
// the facade down (identity, discovery, punching, TLS, session), plus the facade's error paths.

#include "engine/node.h"
#include "identity/peercode.h"
#include "support/loopbacksettings.h"

#include <QSignalSpy>
#include <QStandardPaths>
#include <QTcpServer>
#include <QTemporaryDir>
#include <QTest>

using namespace Punchline;

namespace {

LocalInfo waitForInfo(QSignalSpy &spy)
{
    if (spy.isEmpty() && !spy.wait(10000))
        return {};
    return spy.first().first().value<LocalInfo>();
}

} // namespace

class TestNode : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void initTestCase() { QStandardPaths::setTestModeEnabled(true); }

    void twoNodesChatAndPartPolitely()
    {
        QTemporaryDir da, db;
        Node a, b;
        QSignalSpy infoA(&a, &Node::localInfoReady), infoB(&b, &Node::localInfoReady);
        a.start(loopbackSettings(da.path(), QStringLiteral("Ann")));
        b.start(loopbackSettings(db.path(), QStringLiteral("Ben")));
        const LocalInfo ia = waitForInfo(infoA), ib = waitForInfo(infoB);
        QVERIFY(!ia.code.isEmpty() && !ib.code.isEmpty());
        QCOMPARE(ia.local.size(), 1);
        QCOMPARE(ia.local.first().address, QHostAddress(QHostAddress::LocalHost));
        QCOMPARE(ia.publicSource, PublicSource::None);
        QVERIFY(!ia.explanation.isEmpty());
        // The code carries what the other side needs: name, fingerprint, candidates.
        const PeerInput parsed = parsePeerInput(ia.code);
        QVERIFY(parsed.code.has_value());
        QCOMPARE(parsed.code->name, QStringLiteral("Ann"));
        QCOMPARE(parsed.code->fingerprint, ia.fingerprint);
        QCOMPARE(parsed.code->candidates, ia.local);

        QSignalSpy connA(&a, &Node::connected), connB(&b, &Node::connected);
        QSignalSpy chatB(&b, &Node::chatReceived), deliveredA(&a, &Node::chatDelivered);
        QSignalSpy discB(&b, &Node::disconnected), statesB(&b, &Node::friendStateChanged);
        a.connectToPeer(ib.code);
        b.connectToPeer(ia.code);
        QTRY_COMPARE_WITH_TIMEOUT(connA.count(), 1, 20000);
        QTRY_COMPARE_WITH_TIMEOUT(connB.count(), 1, 20000);
        const auto ca = connA.first().at(1).value<ConnectionInfo>();
        QCOMPARE(ca.peerName, QStringLiteral("Ben"));
        QCOMPARE(ca.peerFingerprint, ib.fingerprint);
        QVERIFY(ca.peerPinnedByCode);
        QCOMPARE(ca.path, PathKind::Lan);
        QCOMPARE(ca.remote.port, ib.port);

        QCOMPARE(connA.first().first().toByteArray(), ib.fingerprint); // keyed by friend
        QCOMPARE(connB.first().first().toByteArray(), ia.fingerprint);
        const QString id = a.sendChat(ib.fingerprint, QStringLiteral("hello\x1b[31m Ben"));
        QTRY_COMPARE_WITH_TIMEOUT(chatB.count(), 1, 5000);
        const auto m = chatB.first().at(1).value<ChatMessage>();
        QCOMPARE(m.id, id);
        QCOMPARE(m.text, QStringLiteral("hello[31m Ben")); // the escape character is stripped
        QTRY_COMPARE_WITH_TIMEOUT(deliveredA.count(), 1, 5000);
        QCOMPARE(deliveredA.first().at(1).toString(), id);
        QCOMPARE(chatB.first().first().toByteArray(), ia.fingerprint);

        // A purposeful disconnect reaches the friend as such: no healing on its side.
        a.disconnectFriend(ib.fingerprint);
        QTRY_COMPARE_WITH_TIMEOUT(discB.count(), 1, 5000);
        QCOMPARE(discB.first().at(1).value<Error>().code, ErrorCode::PeerClosed);
        QTest::qWait(300);
        for (const auto &args : std::as_const(statesB))
            QVERIFY(args.at(1).value<State>() != State::Reconnecting);
    }

    void allDoneWhenTheFriendsByeFollowsItsDone()
    {
        // --exit-when-done: both ask for "all done"; Ann's Done and her Bye reach Ben together
        // (she leaves right after). Ben's queued "done" is handled after the Bye made Ann
        // disconnected: Ben must still be told all is done, or his CLI never exits.
        QTemporaryDir da, db;
        Node a, b;
        QSignalSpy infoA(&a, &Node::localInfoReady), infoB(&b, &Node::localInfoReady);
        a.start(loopbackSettings(da.path(), QStringLiteral("Ann")));
        b.start(loopbackSettings(db.path(), QStringLiteral("Ben")));
        const LocalInfo ia = waitForInfo(infoA), ib = waitForInfo(infoB);
        QSignalSpy connA(&a, &Node::connected), connB(&b, &Node::connected);
        QSignalSpy doneB(&b, &Node::allDone), discB(&b, &Node::disconnected);
        a.connectToPeer(ib.code);
        b.connectToPeer(ia.code);
        QTRY_COMPARE_WITH_TIMEOUT(connA.count(), 1, 20000);
        QTRY_COMPARE_WITH_TIMEOUT(connB.count(), 1, 20000);
        b.requestDone();
        QTest::qWait(300); // Ben's Done reaches Ann
        QCOMPARE(doneB.count(), 0);
        // Queued back to back on Ann's network thread: her Done and her Bye leave together.
        a.requestDone();
        a.disconnectFriend(ib.fingerprint);
        QTRY_COMPARE_WITH_TIMEOUT(discB.count(), 1, 5000);
        QCOMPARE(discB.first().at(1).value<Error>().code, ErrorCode::PeerClosed);
        QTRY_COMPARE_WITH_TIMEOUT(doneB.count(), 1, 2000);
    }

    void damagedCodeIsRefusedAndNothingStarts()
    {
        QTemporaryDir d;
        Node a;
        QSignalSpy info(&a, &Node::localInfoReady), errors(&a, &Node::errorOccurred),
            states(&a, &Node::stateChanged);
        a.start(loopbackSettings(d.path(), QStringLiteral("Ann")));
        QString code = waitForInfo(info).code;
        code[10] = code[10] == QLatin1Char('A') ? QLatin1Char('B') : QLatin1Char('A');
        states.clear();
        a.connectToPeer(code);
        QTRY_COMPARE_WITH_TIMEOUT(errors.count(), 1, 5000);
        QCOMPARE(errors.first().at(1).value<Error>().code, ErrorCode::CodeChecksum);
        QTest::qWait(200);
        QCOMPARE(states.count(), 0); // still ready: nothing was started
    }

    void ownCodeIsRefused()
    {
        QTemporaryDir d;
        Node a;
        QSignalSpy info(&a, &Node::localInfoReady), errors(&a, &Node::errorOccurred);
        a.start(loopbackSettings(d.path(), QStringLiteral("Ann")));
        a.connectToPeer(waitForInfo(info).code);
        QTRY_COMPARE_WITH_TIMEOUT(errors.count(), 1, 5000);
        QCOMPARE(errors.first().at(1).value<Error>().code, ErrorCode::ConnectedToSelf);
    }

    void portInUseFailsClearly()
    {
        QTcpServer holder; // an ordinary program on the port, without SO_REUSEPORT
        QVERIFY(holder.listen(QHostAddress::AnyIPv4));
        QTemporaryDir d;
        Settings s = loopbackSettings(d.path(), QStringLiteral("Ann"));
        s.port = holder.serverPort();
        Node a;
        QSignalSpy errors(&a, &Node::errorOccurred), states(&a, &Node::stateChanged);
        a.start(s);
        QTRY_COMPARE_WITH_TIMEOUT(errors.count(), 1, 5000);
        const Error e = errors.first().at(1).value<Error>();
        QCOMPARE(e.code, ErrorCode::PortInUse);
        QVERIFY2(e.message.contains(QString::number(s.port)), qPrintable(e.message));
        QTRY_VERIFY(!states.isEmpty() && states.last().first().value<State>() == State::Failed);
    }

    void unreachableStunServerIsExplained()
    {
        QTcpServer closed;
        QVERIFY(closed.listen(QHostAddress::LocalHost));
        const quint16 deadPort = closed.serverPort();
        closed.close(); // nothing listens there now
        QTemporaryDir d;
        Settings s = loopbackSettings(d.path(), QStringLiteral("Ann"));
        s.stunServers = { QStringLiteral("127.0.0.1:%1").arg(deadPort) };
        Node a;
        QSignalSpy info(&a, &Node::localInfoReady);
        a.start(s);
        const LocalInfo i = waitForInfo(info);
        QVERIFY(!i.publicEndpoint.has_value());
        QCOMPARE(i.publicSource, PublicSource::None);
        QCOMPARE(i.nat, NatKind::Unknown);
        QVERIFY2(i.explanation.contains(QString::number(deadPort)), qPrintable(i.explanation));
        QVERIFY(!i.code.isEmpty()); // local candidates are still offered
    }

    void profileKeepsItsPortAndIdentity()
    {
        QTemporaryDir d;
        Settings s = loopbackSettings(d.path(), QStringLiteral("Ann"));
        s.port = -1; // the profile's port
        LocalInfo first;
        {
            Node a;
            QSignalSpy info(&a, &Node::localInfoReady);
            a.start(s);
            first = waitForInfo(info);
        }
        QVERIFY(first.port != 0);
        Node again;
        QSignalSpy info(&again, &Node::localInfoReady);
        again.start(s);
        const LocalInfo second = waitForInfo(info);
        QCOMPARE(second.port, first.port);
        QCOMPARE(second.fingerprint, first.fingerprint);
        QCOMPARE(second.code, first.code); // a code stays valid across restarts
    }
};

QTEST_GUILESS_MAIN(TestNode)
#include "tst_node.moc"
