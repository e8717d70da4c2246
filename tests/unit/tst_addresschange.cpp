// Our public address changes while friends are connected (the home's line was re-dialled, the
// router rebooted): Nodes with their real network thread on loopback, and a scripted STUN server
// (on loopback) that starts answering a new address. Sessions through the NAT must heal at once
// instead of after the 45 s silence limit; a LAN path, which never crossed the NAT, is only
// checked with a ping and stays up.

#include "engine/friend.h"
#include "engine/node.h"
#include "identity/peercode.h"
#include "stuntestservers.h"
#include "support/loopbacksettings.h"

#include <QElapsedTimer>
#include <QSignalSpy>
#include <QStandardPaths>
#include <QTemporaryDir>
#include <QTest>
#include <memory>

using namespace Punchline;
using namespace Punchline::TestSupport;

namespace {

struct Peer
{
    Peer(const QString &name, const QStringList &stun = {})
        : connected(&node, &Node::connected)
        , logs(&node, &Node::logLine)
    {
        QSignalSpy infoSpy(&node, &Node::localInfoReady);
        Settings s = loopbackSettings(dir.path(), name);
        s.stunServers = stun;
        node.start(s);
        if (infoSpy.wait(10000))
            info = infoSpy.first().first().value<LocalInfo>();
    }
    QByteArray fp() const { return info.fingerprint; }
    int connectedTo(const QByteArray &peer) const
    {
        int n = 0;
        for (const auto &args : connected)
            n += args.at(0).toByteArray() == peer ? 1 : 0;
        return n;
    }
    ConnectionInfo lastConnection(const QByteArray &peer) const
    {
        ConnectionInfo last;
        for (const auto &args : connected) {
            if (args.at(0).toByteArray() == peer)
                last = args.at(1).value<ConnectionInfo>();
        }
        return last;
    }
    int logsContaining(const QString &text) const
    {
        int n = 0;
        for (const auto &args : logs)
            n += args.first().toString().contains(text) ? 1 : 0;
        return n;
    }

    QTemporaryDir dir;
    Node node;
    LocalInfo info;
    QSignalSpy connected, logs;
};

// `code` with its direct candidates replaced by a dead one and its loopback endpoint offered as
// a router-mapped one: the connection then reports path "mapped", i.e. through our NAT (on
// loopback every path is otherwise "lan").
QString asMapped(const QString &code)
{
    PeerCode c = *parsePeerInput(code).code;
    c.mapped = c.candidates;
    c.candidates = { Endpoint { QHostAddress(QStringLiteral("127.0.0.9")), 9 } };
    return c.encode();
}

} // namespace

class TestAddressChange : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void initTestCase() { QStandardPaths::setTestModeEnabled(true); }

    void recordDropsRemote()
    {
        const Endpoint old = *Endpoint::parse(u"203.0.113.2:41000");
        const Endpoint moved = *Endpoint::parse(u"203.0.113.3:41000");
        const Endpoint lan = *Endpoint::parse(u"10.0.1.2:41000");
        const PeerTargets stillThere { { old, lan }, {}, {} };
        const PeerTargets elsewhere { { moved, lan }, {}, {} };
        const PeerTargets mappedThere { { moved }, { old }, {} };
        const PeerTargets onlyRelays { {}, {}, { moved } };
        QVERIFY(!Friend::recordDropsRemote(stillThere, old, PathKind::Direct));
        QVERIFY(Friend::recordDropsRemote(elsewhere, old, PathKind::Direct));
        QVERIFY(Friend::recordDropsRemote(elsewhere, old, PathKind::Mapped));
        QVERIFY(!Friend::recordDropsRemote(mappedThere, old, PathKind::Mapped));
        // A relay's remote is the TURN server, a LAN path skips the NAT: not suspect.
        QVERIFY(!Friend::recordDropsRemote(elsewhere, old, PathKind::Relay));
        QVERIFY(!Friend::recordDropsRemote(elsewhere, lan, PathKind::Lan));
        // A record without direct or mapped addresses says nothing about ours.
        QVERIFY(!Friend::recordDropsRemote(onlyRelays, old, PathKind::Direct));
        QVERIFY(!Friend::recordDropsRemote(elsewhere, Endpoint {}, PathKind::Direct));
        // The bound: two round trips and a second, within [2 s, 10 s].
        QCOMPARE(Friend::linkCheckMs(-1), Friend::LinkCheckMinMs);
        QCOMPARE(Friend::linkCheckMs(80), Friend::LinkCheckMinMs);
        QCOMPARE(Friend::linkCheckMs(1500), 4000);
        QCOMPARE(Friend::linkCheckMs(60000), Friend::LinkCheckMaxMs);
    }

    void newPublicAddressHealsAtOnceButKeepsTheLan()
    {
        auto mapping = std::make_shared<QString>(QStringLiteral("127.0.0.2:9"));
        ScriptedStunServer stun([mapping](const StunMessage &request, int) {
            return ScriptedStunServer::answer(request, *Endpoint::parse(*mapping));
        });
        QVERIFY(stun.listen());
        Peer a(QStringLiteral("Ann"), { stun.server() });
        Peer b(QStringLiteral("Ben")), c(QStringLiteral("Cai"));
        QVERIFY(!a.info.code.isEmpty() && !b.info.code.isEmpty() && !c.info.code.isEmpty());
        QCOMPARE(a.info.publicEndpoint->toString(), QStringLiteral("127.0.0.2:9"));

        a.node.connectToPeer(asMapped(b.info.code)); // Ben: through A's NAT
        b.node.connectToPeer(a.info.code);
        a.node.connectToPeer(c.info.code); // Cai: on A's LAN
        c.node.connectToPeer(a.info.code);
        QTRY_COMPARE_WITH_TIMEOUT(a.connectedTo(b.fp()), 1, 20000);
        QTRY_COMPARE_WITH_TIMEOUT(b.connectedTo(a.fp()), 1, 20000);
        QTRY_COMPARE_WITH_TIMEOUT(a.connectedTo(c.fp()), 1, 20000);
        QTRY_COMPARE_WITH_TIMEOUT(c.connectedTo(a.fp()), 1, 20000);
        QCOMPARE(a.lastConnection(b.fp()).path, PathKind::Mapped);
        QCOMPARE(a.lastConnection(c.fp()).path, PathKind::Lan);

        // The NAT re-addresses: the STUN server's connection breaks, its re-probe answers the
        // new address (Discovery::ReprobeDelayMs later).
        QSignalSpy newInfo(&a.node, &Node::localInfoReady);
        *mapping = QStringLiteral("127.0.0.3:9");
        QElapsedTimer t;
        t.start();
        stun.closeConnections();
        QTRY_VERIFY_WITH_TIMEOUT(!newInfo.isEmpty(), 5000);
        QCOMPARE(newInfo.last().first().value<LocalInfo>().publicEndpoint->toString(),
            QStringLiteral("127.0.0.3:9"));

        // Ben's session is healed at once (45 s of silence before), both sides, resumed.
        QTRY_COMPARE_WITH_TIMEOUT(a.connectedTo(b.fp()), 2, 8000);
        QTRY_COMPARE_WITH_TIMEOUT(b.connectedTo(a.fp()), 2, 8000);
        QVERIFY2(t.elapsed() < 8000, qPrintable(QString::number(t.elapsed())));
        QVERIFY(a.lastConnection(b.fp()).resumed);
        QCOMPARE(a.logsContaining(QStringLiteral("our public address changed: the connection")), 1);

        // Cai's LAN session never went through the NAT: checked with a ping, answered, kept.
        QCOMPARE(
            a.logsContaining(QStringLiteral("our public address changed: checking the link")), 1);
        QTest::qWait(Friend::LinkCheckMinMs + 500);
        QCOMPARE(a.connectedTo(c.fp()), 1);
        QCOMPARE(c.connectedTo(a.fp()), 1);
        QCOMPARE(a.connectedTo(b.fp()), 2);
    }
};

QTEST_GUILESS_MAIN(TestAddressChange)
#include "tst_addresschange.moc"
