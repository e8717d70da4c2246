// Two sessions in one process over LoopbackLink: chat, healing after a cut, keepalive, the done
// handshake, version checks, hostile input, and the transfer handler seam.
#include "protocol/frame.h"
#include "protocol/messages.h"
#include "session/session.h"
#include "session/transferhandler.h"
#include "support/loopbacklink.h"

#include <QCborMap>
#include <QCborValue>
#include <QSignalSpy>
#include <QTest>
#include <QThread>

#include <deque>
#include <functional>
#include <limits>

using namespace Punchline;

namespace {

SessionConfig config(const QString &name, int keepaliveMs = 60000, int silentMs = 180000)
{
    SessionConfig c;
    c.displayName = name;
    c.keepaliveIntervalMs = keepaliveMs;
    c.peerSilentLimitMs = silentMs;
    c.helloTimeoutMs = 5000;
    return c;
}

QStringList texts(const QSignalSpy &spy)
{
    QStringList out;
    for (const QList<QVariant> &args : spy)
        out.append(args.at(0).value<ChatMessage>().text);
    return out;
}

Error errorAt(const QSignalSpy &spy, int i)
{
    return spy.at(i).at(0).value<Error>();
}

// Counts frames of one type arriving at a link (whoever else listens).
int countFrames(const QSignalSpy &frames, quint16 type)
{
    int n = 0;
    for (const QList<QVariant> &args : frames)
        n += args.at(0).value<quint16>() == type;
    return n;
}

class FakeTransfers : public TransferHandler
{
public:
    void setSendControl(SendControl send) override { m_send = std::move(send); }
    void handleFrame(quint16 type, const QByteArray &payload) override
    {
        received.append({ type, payload });
        if (onFrame)
            onFrame();
    }
    std::optional<std::pair<quint16, QByteArray>> nextBulkFrame() override
    {
        if (bulk.empty())
            return std::nullopt;
        auto f = bulk.front();
        bulk.pop_front();
        ++pulled;
        return f;
    }
    void onLinkUp() override { ++ups; }
    void onLinkDown() override { ++downs; }
    bool isIdle() const override { return idle && bulk.empty(); }

    void control(quint16 type, const QByteArray &payload)
    {
        if (m_send)
            m_send(type, payload);
    }
    void queueBulk(int count, int size)
    {
        for (int i = 0; i < count; ++i) {
            QByteArray chunk(size, char('a' + i % 26));
            chunk[0] = char(i >> 8);
            chunk[1] = char(i);
            bulk.push_back({ 0x0110, chunk });
        }
        if (bulkAvailable)
            bulkAvailable();
    }

    QList<std::pair<quint16, QByteArray>> received;
    std::deque<std::pair<quint16, QByteArray>> bulk;
    std::function<void()> onFrame;
    int pulled = 0;
    int ups = 0;
    int downs = 0;
    bool idle = true;

private:
    SendControl m_send;
};

} // namespace

class TestSession : public QObject
{
    Q_OBJECT

    // One link pair attached to a and b; links are deleted with the test.
    std::pair<LoopbackLink *, LoopbackLink *> connectPair(Session &a, Session &b)
    {
        auto pair = LoopbackLink::createPair();
        pair.first->setParent(this);
        pair.second->setParent(this);
        a.attachLink(pair.first);
        b.attachLink(pair.second);
        return pair;
    }

    bool establish(
        Session &a, Session &b, std::pair<LoopbackLink *, LoopbackLink *> *links = nullptr)
    {
        QSignalSpy ea(&a, &Session::established);
        QSignalSpy eb(&b, &Session::established);
        const auto pair = connectPair(a, b);
        if (links)
            *links = pair;
        return QTest::qWaitFor([&] { return ea.size() == 1 && eb.size() == 1; }, 5000);
    }

private Q_SLOTS:
    void initTestCase()
    {
        qRegisterMetaType<ChatMessage>();
        qRegisterMetaType<Error>();
    }

    void cleanup() { qDeleteAll(findChildren<LoopbackLink *>()); }

    void establishExchangesHello()
    {
        Session a(config(QStringLiteral("Ada")));
        Session b(config(QStringLiteral("Bob\x1b[2J")));
        QSignalSpy ea(&a, &Session::established);
        QSignalSpy eb(&b, &Session::established);
        auto links = connectPair(a, b);
        QVERIFY(!a.isEstablished());
        QCOMPARE(links.first->maxPayload(), Limits::PreHelloMaxPayload);
        QTRY_COMPARE(ea.size(), 1);
        QTRY_COMPARE(eb.size(), 1);
        QCOMPARE(ea.at(0).at(0).toString(), QStringLiteral("Bob[2J"));
        QCOMPARE(ea.at(0).at(1).toBool(), false);
        QCOMPARE(eb.at(0).at(0).toString(), QStringLiteral("Ada"));
        QVERIFY(a.isEstablished());
        QCOMPARE(a.negotiatedVersion(), 1);
        QCOMPARE(a.peerHello().sessionId, b.sessionId());
        QVERIFY(a.sessionId() != b.sessionId());
        QCOMPARE(links.first->maxPayload(), Limits::MaxPayload);
    }

    void renameReachesThePeerAtOnce()
    {
        Session a(config(QStringLiteral("Ada")));
        Session b(config(QStringLiteral("Bob")));
        QSignalSpy renamed(&b, &Session::peerRenamed);
        QVERIFY(establish(a, b));
        a.setDisplayName(QStringLiteral("Ada Lovelace"));
        QTRY_COMPARE(renamed.size(), 1);
        QCOMPARE(renamed.at(0).at(0).toString(), QStringLiteral("Ada Lovelace"));
        QCOMPARE(b.peerHello().displayName, QStringLiteral("Ada Lovelace"));
        // The same name again sends nothing; a name is filtered like the hello's.
        a.setDisplayName(QStringLiteral("Ada Lovelace"));
        a.setDisplayName(QStringLiteral("Eve\u202Eevil\x1b[2J"));
        QTRY_COMPARE(renamed.size(), 2);
        const QString shown = renamed.at(1).at(0).toString();
        QVERIFY2(!shown.contains(QChar(0x202E)) && !shown.contains(QChar(0x1b)), qPrintable(shown));
        // A later hello (after a heal) carries the new name too.
        QVERIFY(b.isEstablished());
    }

    void renameFloodIsCoalesced()
    {
        // A peer sending thousands of Profile frames costs a string each: the renames are
        // announced at most once a second, with the latest name (the friend's profile is saved
        // on each announcement).
        Session a(config(QStringLiteral("Ada")));
        Session b(config(QStringLiteral("Bob")));
        QSignalSpy renamed(&b, &Session::peerRenamed);
        QVERIFY(establish(a, b));
        for (int i = 0; i < 2000; ++i)
            a.setDisplayName(QStringLiteral("n%1").arg(i, 5, 10, QLatin1Char('0')));
        QTRY_VERIFY_WITH_TIMEOUT(
            !renamed.isEmpty() && renamed.last().at(0).toString() == QStringLiteral("n01999"),
            5000);
        QVERIFY2(renamed.size() <= 3, qPrintable(QString::number(renamed.size())));
        QCOMPARE(b.peerHello().displayName, QStringLiteral("n01999"));
    }

    void rendezvousContributionOncePerLink()
    {
        // Each side's friend-finder contribution reaches the other when the session comes up;
        // a peer alternating values afterwards (to make us rewrite the known peers per frame)
        // changes nothing until the next link.
        Session a(config(QStringLiteral("Ada")));
        Session b(config(QStringLiteral("Bob")));
        const QByteArray first(32, '\x11');
        a.setRendezvousContribution(first);
        QSignalSpy got(&b, &Session::rendezvousReceived);
        QVERIFY(establish(a, b));
        QTRY_COMPARE(got.size(), 1);
        QCOMPARE(got.first().first().toByteArray(), first);
        for (int i = 0; i < 200; ++i)
            a.setRendezvousContribution(QByteArray(32, char(i % 2 ? 0x22 : 0x33)));
        QTest::qWait(200);
        QCOMPARE(got.size(), 1);
        QVERIFY(b.isEstablished()); // a valid frame, only ignored
    }

    void chatBothWays()
    {
        Session a(config(QStringLiteral("Ada")));
        Session b(config(QStringLiteral("Bob")));
        QSignalSpy receivedA(&a, &Session::chatReceived);
        QSignalSpy receivedB(&b, &Session::chatReceived);
        QSignalSpy deliveredA(&a, &Session::chatDelivered);
        QSignalSpy deliveredB(&b, &Session::chatDelivered);
        QVERIFY(establish(a, b));

        const QString id1 = a.sendChat(QStringLiteral("hello Bob"));
        QCOMPARE(id1.size(), 36);
        QCOMPARE(a.pendingMessages().size(), 1);
        QTRY_COMPARE(receivedB.size(), 1);
        const ChatMessage m = receivedB.at(0).at(0).value<ChatMessage>();
        QCOMPARE(m.id, id1);
        QCOMPARE(m.text, QStringLiteral("hello Bob"));
        QVERIFY(!m.outgoing);
        QVERIFY(qAbs(m.time.msecsTo(QDateTime::currentDateTimeUtc())) < 5000);
        QTRY_COMPARE(deliveredA.size(), 1);
        QCOMPARE(deliveredA.at(0).at(0).toString(), id1);
        QVERIFY(a.pendingMessages().isEmpty());

        QVERIFY(b.sendChat(QStringLiteral("my-own-id-1"), QStringLiteral("hi Ada")));
        QTRY_COMPARE(receivedA.size(), 1);
        QCOMPARE(receivedA.at(0).at(0).value<ChatMessage>().id, QStringLiteral("my-own-id-1"));
        QTRY_COMPARE(deliveredB.size(), 1);
        QCOMPARE(receivedB.size(), 1);
    }

    void chatOrderAndControlCharacters()
    {
        Session a(config(QStringLiteral("Ada")));
        Session b(config(QStringLiteral("Bob")));
        QSignalSpy receivedB(&b, &Session::chatReceived);
        QVERIFY(establish(a, b));
        QVERIFY(!a.sendChat(QStringLiteral("a\x1b[31mb\r\nc\td\x07\u0085e")).isEmpty());
        for (int i = 0; i < 50; ++i)
            a.sendChat(QString::number(i));
        QTRY_COMPARE(receivedB.size(), 51);
        const QStringList got = texts(receivedB);
        QCOMPARE(got.first(), QStringLiteral("a[31mb\nc\tde"));
        for (int i = 0; i < 50; ++i)
            QCOMPARE(got.at(i + 1), QString::number(i));
    }

    // Bidi overrides and isolates could make a message read differently from what was sent
    // (they are stripped from names and file names already); the direction marks stay.
    void chatDropsBidiReordering()
    {
        Session a(config(QStringLiteral("Ada")));
        Session b(config(QStringLiteral("Bob")));
        QSignalSpy receivedB(&b, &Session::chatReceived);
        QVERIFY(establish(a, b));
        QVERIFY(!a.sendChat(QStringLiteral("pay \u202e0001\u202c to \u2067x\u2069\u200f\u2028!"))
                     .isEmpty());
        QTRY_COMPARE(receivedB.size(), 1);
        QCOMPARE(texts(receivedB).first(), QStringLiteral("pay 0001 to x\u200f\n!"));
    }

    void sendChatRefusesBadInput()
    {
        Session a(config(QStringLiteral("Ada")));
        Error e;
        QVERIFY(a.sendChat(QStringLiteral("  \n"), &e).isEmpty());
        QCOMPARE(e.code, ErrorCode::BadUsage);
        QVERIFY(a.sendChat(QString(Limits::ChatTextBytes + 1, QLatin1Char('x')), &e).isEmpty());
        QVERIFY(!a.sendChat(QString(Limits::ChatTextBytes, QLatin1Char('x'))).isEmpty());
        QVERIFY(!a.sendChat(QStringLiteral("bad id!"), QStringLiteral("x"), &e));
        QVERIFY(a.sendChat(QStringLiteral("id-1"), QStringLiteral("x"), &e));
        QVERIFY(!a.sendChat(QStringLiteral("id-1"), QStringLiteral("again"), &e));
        QCOMPARE(a.pendingMessages().size(), 2);
    }

    // The link breaks while a message is in flight (its ack is lost) and while more are typed:
    // after a new link every message arrives exactly once, in order, and every one is delivered.
    void cutAndHealDeliversExactlyOnce()
    {
        Session a(config(QStringLiteral("Ada")));
        Session b(config(QStringLiteral("Bob")));
        QSignalSpy receivedB(&b, &Session::chatReceived);
        QSignalSpy deliveredA(&a, &Session::chatDelivered);
        QSignalSpy lostA(&a, &Session::linkLost);
        QSignalSpy lostB(&b, &Session::linkLost);
        QSignalSpy establishedA(&a, &Session::established);
        std::pair<LoopbackLink *, LoopbackLink *> first;
        QVERIFY(establish(a, b, &first));

        const QString m1 = a.sendChat(QStringLiteral("one"));
        QTRY_COMPARE(deliveredA.size(), 1);

        first.second->setBlackhole(true); // Bob's acks vanish from now on
        const QString m2 = a.sendChat(QStringLiteral("two"));
        QTRY_COMPARE(receivedB.size(), 2);
        QTest::qWait(50);
        QCOMPARE(deliveredA.size(), 1); // the ack for "two" was lost

        first.first->close(); // the cut
        QTRY_COMPARE(lostA.size(), 1);
        QTRY_COMPARE(lostB.size(), 1);
        QCOMPARE(errorAt(lostB, 0).code, ErrorCode::PeerLost);
        QVERIFY(!a.hasLink());
        QVERIFY(!b.hasLink());

        const QString m3 = a.sendChat(QStringLiteral("three"));
        const QString m4 = a.sendChat(QStringLiteral("four"));
        QCOMPARE(a.pendingMessages().size(), 3);
        QTest::qWait(50);
        QCOMPARE(receivedB.size(), 2);

        connectPair(a, b);
        QTRY_COMPARE(deliveredA.size(), 4);
        QTest::qWait(100); // let any duplicate show up
        QCOMPARE(texts(receivedB),
            (QStringList { QStringLiteral("one"), QStringLiteral("two"), QStringLiteral("three"),
                QStringLiteral("four") }));
        QStringList deliveredIds;
        for (const auto &args : deliveredA)
            deliveredIds.append(args.at(0).toString());
        QCOMPARE(deliveredIds, (QStringList { m1, m2, m3, m4 }));
        QVERIFY(a.pendingMessages().isEmpty());
        QCOMPARE(establishedA.size(), 2);
        QCOMPARE(establishedA.at(1).at(1).toBool(), true); // same peer session: resumed
    }

    void duplicatesShownOnceAckedEveryTime()
    {
        Session a(config(QStringLiteral("Ada")));
        Session b(config(QStringLiteral("Bob")));
        QSignalSpy receivedA(&a, &Session::chatReceived);
        std::pair<LoopbackLink *, LoopbackLink *> links;
        QVERIFY(establish(a, b, &links));
        QSignalSpy framesAtB(links.second, &Link::frameReceived);
        // Bob's side of the wire sends the same chat three times (as after lost acks).
        const QByteArray chat = encodeChat({ QStringLiteral("dup-1"),
            QDateTime::currentMSecsSinceEpoch(), QStringLiteral("once") });
        for (int i = 0; i < 3; ++i)
            links.second->sendFrame(FrameType::Chat, chat);
        QTRY_COMPARE(countFrames(framesAtB, FrameType::ChatAck), 3);
        QCOMPARE(receivedA.size(), 1);
        QCOMPARE(receivedA.at(0).at(0).value<ChatMessage>().text, QStringLiteral("once"));
    }

    void keepaliveMeasuresRtt()
    {
        Session a(config(QStringLiteral("Ada"), 50, 2000));
        Session b(config(QStringLiteral("Bob"), 50, 2000));
        QSignalSpy rtt(&a, &Session::rttMeasured);
        QSignalSpy lost(&a, &Session::linkLost);
        QVERIFY(establish(a, b));
        QTRY_VERIFY(rtt.size() >= 4);
        for (const auto &args : rtt) {
            QVERIFY(args.at(0).toInt() >= 0);
            QVERIFY(args.at(0).toInt() < 1000);
        }
        QCOMPARE(lost.size(), 0);
    }

    void silentPeerDetected()
    {
        Session a(config(QStringLiteral("Ada"), 50, 300));
        Session b(config(QStringLiteral("Bob"), 50, 300));
        QSignalSpy lostA(&a, &Session::linkLost);
        QSignalSpy lostB(&b, &Session::linkLost);
        std::pair<LoopbackLink *, LoopbackLink *> links;
        QVERIFY(establish(a, b, &links));
        // Pings keep a quiet but healthy link alive well past the silence limit.
        QTest::qWait(900);
        QCOMPARE(lostA.size(), 0);
        QCOMPARE(lostB.size(), 0);

        links.second->setBlackhole(true); // Bob keeps talking, nothing reaches Ada
        QElapsedTimer t;
        t.start();
        QTRY_COMPARE_WITH_TIMEOUT(lostA.size(), 1, 3000);
        QVERIFY2(t.elapsed() >= 250, qPrintable(QString::number(t.elapsed())));
        QCOMPARE(errorAt(lostA, 0).code, ErrorCode::PeerLost);
        QVERIFY(!a.hasLink());
        QVERIFY(!links.first->isOpen()); // the session closed the link it gave up on
    }

    void checkAliveFailsADeadLinkFast()
    {
        // Keepalive every 60 s, silence limit 180 s: only the check can notice within seconds.
        Session a(config(QStringLiteral("Ada")));
        Session b(config(QStringLiteral("Bob")));
        QSignalSpy lostA(&a, &Session::linkLost);
        std::pair<LoopbackLink *, LoopbackLink *> links;
        QVERIFY(establish(a, b, &links));
        QTest::qWait(100); // the first pings are answered
        links.second->setBlackhole(true); // the flow died: nothing of Bob's reaches Ada
        QElapsedTimer t;
        t.start();
        a.checkAlive(300);
        a.checkAlive(5000); // a second suspicion does not push the deadline out
        QTRY_COMPARE_WITH_TIMEOUT(lostA.size(), 1, 3000);
        QVERIFY2(t.elapsed() >= 290, qPrintable(QString::number(t.elapsed())));
        QVERIFY2(t.elapsed() < 2000, qPrintable(QString::number(t.elapsed())));
        QCOMPARE(errorAt(lostA, 0).code, ErrorCode::PeerLost);
        QVERIFY(!a.hasLink());
    }

    void checkAliveLeavesALiveLinkAlone()
    {
        // A lying hint (a forged record) costs one ping: the answer keeps the link.
        Session a(config(QStringLiteral("Ada")));
        Session b(config(QStringLiteral("Bob")));
        QSignalSpy lostA(&a, &Session::linkLost);
        QSignalSpy lostB(&b, &Session::linkLost);
        QSignalSpy rtt(&a, &Session::rttMeasured);
        QVERIFY(establish(a, b));
        QTRY_VERIFY(rtt.size() >= 1);
        QTest::qWait(400); // quiet for longer than the check's bound before it starts
        const qsizetype before = rtt.size();
        a.checkAlive(200);
        QTest::qWait(800);
        QCOMPARE(rtt.size(), before + 1); // the check's ping, answered
        QCOMPARE(lostA.size(), 0);
        QCOMPARE(lostB.size(), 0);
        QVERIFY(a.hasLink());

        // The answer came early in the check; its deadline is handled late (a busy thread, a
        // coarse timer): the answer still counts.
        QTest::qWait(400);
        a.checkAlive(200);
        QTRY_COMPARE(rtt.size(), before + 2);
        QThread::msleep(300);
        QTest::qWait(300);
        QCOMPARE(lostA.size(), 0);
        QVERIFY(a.hasLink());
        Error error;
        QVERIFY(!a.sendChat(QStringLiteral("still here"), &error).isEmpty());
    }

    void helloTimeout()
    {
        SessionConfig c = config(QStringLiteral("Ada"));
        c.helloTimeoutMs = 200;
        Session a(c);
        QSignalSpy lost(&a, &Session::linkLost);
        auto links = LoopbackLink::createPair();
        links.first->setParent(this);
        links.second->setParent(this);
        a.attachLink(links.first); // nobody answers on the other end
        QTRY_COMPARE_WITH_TIMEOUT(lost.size(), 1, 3000);
        QCOMPARE(errorAt(lost, 0).code, ErrorCode::PeerLost);
    }

    void doneHandshake()
    {
        Session a(config(QStringLiteral("Ada")));
        Session b(config(QStringLiteral("Bob")));
        QSignalSpy doneA(&a, &Session::allDone);
        QSignalSpy doneB(&b, &Session::allDone);
        std::pair<LoopbackLink *, LoopbackLink *> links;
        QVERIFY(establish(a, b, &links));

        links.second->setBlackhole(true); // Bob's acks are lost
        a.sendChat(QStringLiteral("last words"));
        a.requestDone();
        QTest::qWait(100);
        b.requestDone();
        QTest::qWait(200);
        // Ada still waits for her ack: nobody may be done.
        QCOMPARE(doneA.size(), 0);
        QCOMPARE(doneB.size(), 0);

        links.first->close();
        QTRY_VERIFY(!a.hasLink() && !b.hasLink());
        connectPair(a, b);
        QTRY_COMPARE(doneA.size(), 1);
        QTRY_COMPARE(doneB.size(), 1);
        QVERIFY(a.pendingMessages().isEmpty());
        QTest::qWait(100);
        QCOMPARE(doneA.size(), 1);
        QCOMPARE(doneB.size(), 1);
    }

    void doneNeedsBothSides()
    {
        Session a(config(QStringLiteral("Ada")));
        Session b(config(QStringLiteral("Bob")));
        QSignalSpy doneA(&a, &Session::allDone);
        QSignalSpy doneB(&b, &Session::allDone);
        QVERIFY(establish(a, b));
        a.requestDone();
        QTest::qWait(200);
        QCOMPARE(doneA.size(), 0);
        QCOMPARE(doneB.size(), 0);
        b.requestDone();
        QTRY_COMPARE(doneA.size(), 1);
        QTRY_COMPARE(doneB.size(), 1);
    }

    void doneWaitsForTransfers()
    {
        FakeTransfers ta; // handlers outlive the sessions
        FakeTransfers tb;
        Session a(config(QStringLiteral("Ada"), 50, 5000));
        Session b(config(QStringLiteral("Bob"), 50, 5000));
        a.setTransferHandler(&ta);
        b.setTransferHandler(&tb);
        QSignalSpy doneA(&a, &Session::allDone);
        QVERIFY(establish(a, b));
        ta.idle = false;
        a.requestDone();
        b.requestDone();
        QTest::qWait(300);
        QCOMPARE(doneA.size(), 0);
        ta.idle = true; // noticed by the session's periodic check
        QTRY_COMPARE(doneA.size(), 1);
    }

    void downgradeRefused()
    {
        // Bob only speaks protocol 2 and up; Ada speaks 1. Both must refuse, with clear words.
        Session a(config(QStringLiteral("Ada")));
        SessionConfig newer = config(QStringLiteral("Bob"));
        newer.protocolVersion = 3;
        newer.minProtocolVersion = 2;
        Session b(newer);
        QSignalSpy lostA(&a, &Session::linkLost);
        QSignalSpy lostB(&b, &Session::linkLost);
        QSignalSpy establishedA(&a, &Session::established);
        connectPair(a, b);
        QTRY_COMPARE(lostA.size(), 1);
        QTRY_COMPARE(lostB.size(), 1);
        QCOMPARE(establishedA.size(), 0);
        QCOMPARE(errorAt(lostA, 0).code, ErrorCode::ProtocolError);
        QVERIFY2(errorAt(lostA, 0).message.contains(QStringLiteral("newer")),
            qPrintable(errorAt(lostA, 0).message));
        // Bob may see Ada's refusal (the link closing) before her hello is judged; if he judged
        // it, it was refused as too old.
        const Error eb = errorAt(lostB, 0);
        QVERIFY(eb.code == ErrorCode::ProtocolError || eb.code == ErrorCode::PeerLost);
        if (eb.code == ErrorCode::ProtocolError)
            QVERIFY2(eb.message.contains(QStringLiteral("too old")), qPrintable(eb.message));
    }

    void newerPeerNegotiatesDown()
    {
        Session a(config(QStringLiteral("Ada")));
        SessionConfig newer = config(QStringLiteral("Bob"));
        newer.protocolVersion = 4;
        newer.minProtocolVersion = 1;
        Session b(newer);
        QVERIFY(establish(a, b));
        QCOMPARE(a.negotiatedVersion(), 1);
        QCOMPARE(b.negotiatedVersion(), 1);
    }

    void hostileInput_data()
    {
        QTest::addColumn<bool>("afterHello");
        QTest::addColumn<QByteArray>("raw");
        const auto frame
            = [](quint16 type, const QByteArray &payload) { return encodeFrame(type, payload); };
        QTest::newRow("chat before hello")
            << false
            << frame(FrameType::Chat, encodeChat({ QStringLiteral("x"), 1, QStringLiteral("y") }));
        QTest::newRow("transfer frame before hello") << false << frame(0x0110, QByteArray(10, 'x'));
        QTest::newRow("oversized hello")
            << false << frame(FrameType::Hello, QByteArray(Limits::PreHelloMaxPayload + 1, 'x'));
        QTest::newRow("garbage hello")
            << false << frame(FrameType::Hello, QByteArrayLiteral("\xff\x00junk"));
        QTest::newRow("plain text instead of frames")
            << false << QByteArrayLiteral("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
        QTest::newRow("huge declared length") << true << QByteArray::fromHex("ffffffff0004");
        QTest::newRow("just above the limit")
            << true << frame(0x0110, QByteArray(Limits::MaxPayload + 1, 'x'));
        QTest::newRow("garbage chat")
            << true << frame(FrameType::Chat, QByteArrayLiteral("\x9f\x9f\x9f"));
        QTest::newRow("garbage ack")
            << true << frame(FrameType::ChatAck, QByteArrayLiteral("\xa1\x62id\x01"));
        QTest::newRow("garbage ping") << true << frame(FrameType::Ping, QByteArray());
        QTest::newRow("second hello") << true << frame(FrameType::Hello, QByteArray());
    }

    void hostileInput()
    {
        QFETCH(bool, afterHello);
        QFETCH(QByteArray, raw);
        Session a(config(QStringLiteral("Ada")));
        QSignalSpy lost(&a, &Session::linkLost);
        QSignalSpy received(&a, &Session::chatReceived);
        auto links = LoopbackLink::createPair();
        links.first->setParent(this);
        links.second->setParent(this);
        a.attachLink(links.first);
        if (afterHello) {
            HelloMessage hello;
            hello.sessionId = QByteArray(16, 's');
            hello.displayName = QStringLiteral("Mallory");
            links.second->sendFrame(FrameType::Hello, encodeHello(hello));
            QTRY_VERIFY(a.isEstablished());
        }
        links.second->sendRaw(raw);
        QTRY_COMPARE(lost.size(), 1);
        QCOMPARE(errorAt(lost, 0).code, ErrorCode::ProtocolError);
        QVERIFY(!errorAt(lost, 0).message.isEmpty());
        QCOMPARE(received.size(), 0);
        QVERIFY(!a.hasLink());
        QTRY_VERIFY(!links.second->isOpen()); // Mallory's end sees the close
    }

    // Mallory's end of a link attached to Ada, greeted by hand: Mallory reads only if asked to.
    bool greetByHand(Session &a, LoopbackLink *mallory)
    {
        HelloMessage hello;
        hello.sessionId = QByteArray(16, 's');
        hello.displayName = QStringLiteral("Mallory");
        mallory->setMaxPayload(Limits::MaxPayload);
        mallory->sendFrame(FrameType::Hello, encodeHello(hello));
        return QTest::qWaitFor([&] { return a.isEstablished(); }, 5000);
    }

    // Mallory sends `bytes` of pings in batches, each delivered before the next; returns the
    // most Ada's link held unsent meanwhile. Stops early if Ada gives up.
    qint64 pingFlood(Session &a, LoopbackLink *ada, LoopbackLink *mallory, qint64 bytes)
    {
        // The largest ping there is, so the largest pong.
        const QByteArray ping = encodeFrame(FrameType::Ping,
            encodePing({ 0x7fffffffffffffffULL, std::numeric_limits<qint64>::min() }));
        QByteArray batch;
        while (batch.size() < 1024 * 1024)
            batch += ping;
        mallory->setBytesPerTick(batch.size());
        ada->setBytesPerTick(batch.size()); // as fast both ways: a reading peer keeps up
        qint64 most = 0;
        for (qint64 sent = 0; sent < bytes && a.hasLink(); sent += batch.size()) {
            mallory->sendRaw(batch);
            if (!QTest::qWaitFor([&] { return mallory->pendingBytes() == 0; }, 5000))
                break;
            most = qMax(most, ada->pendingBytes());
        }
        return most;
    }

    // Hostile item 4: pings answered into a send buffer nobody reads grew Ada's memory without
    // bound. Now what the peer makes her queue is capped and the link fails past the cap.
    void peerThatNeverReadsIsCutOff()
    {
        Session a(config(QStringLiteral("Ada")));
        QSignalSpy lost(&a, &Session::linkLost);
        auto links = LoopbackLink::createPair();
        links.first->setParent(this);
        links.second->setParent(this);
        links.second->setReading(false);
        a.attachLink(links.first);
        QVERIFY(greetByHand(a, links.second));
        const qint64 most
            = pingFlood(a, links.first, links.second, 2 * Session::MaxPeerQueuedBytes);
        QTRY_COMPARE(lost.size(), 1);
        QCOMPARE(errorAt(lost, 0).code, ErrorCode::ProtocolError);
        QVERIFY2(errorAt(lost, 0).message.contains(QStringLiteral("does not read")),
            qPrintable(errorAt(lost, 0).message));
        QVERIFY2(most <= Session::MaxPeerQueuedBytes + 64 * 1024, QByteArray::number(most));
        QVERIFY(!a.hasLink());
    }

    // Our own backlog (a long outbox sent at hello while the peer is slow) is not counted
    // against the peer, and the same flood from a peer that reads its pongs is not an error.
    void peerThatReadsIsNotCutOff()
    {
        Session a(config(QStringLiteral("Ada")));
        QSignalSpy lost(&a, &Session::linkLost);
        auto links = LoopbackLink::createPair();
        links.first->setParent(this);
        links.second->setParent(this);
        for (int i = 0; i < 100; ++i)
            a.sendChat(QString(Limits::ChatTextBytes, QLatin1Char('a' + i % 26)));
        links.second->setReading(false);
        a.attachLink(links.first);
        QVERIFY(greetByHand(a, links.second));
        pingFlood(a, links.first, links.second, 1024 * 1024);
        QVERIFY(links.first->pendingBytes() > Session::MaxPeerQueuedBytes); // our own chat
        QCOMPARE(lost.size(), 0);
        links.second->setReading(true);
        QTRY_COMPARE(links.first->pendingBytes(), 0);
        pingFlood(a, links.first, links.second, 2 * Session::MaxPeerQueuedBytes);
        QTRY_COMPARE(links.first->pendingBytes(), 0);
        QCOMPARE(lost.size(), 0);
        QVERIFY(a.isEstablished());
    }

    void unknownFrameTypesSkipped()
    {
        Session a(config(QStringLiteral("Ada")));
        Session b(config(QStringLiteral("Bob")));
        QSignalSpy lost(&a, &Session::linkLost);
        QSignalSpy received(&a, &Session::chatReceived);
        std::pair<LoopbackLink *, LoopbackLink *> links;
        QVERIFY(establish(a, b, &links));
        links.second->sendFrame(0x0042, QByteArrayLiteral("future session feature"));
        links.second->sendFrame(0x0150, QByteArrayLiteral("transfer frame, no handler"));
        links.second->sendFrame(0x7abc, QByteArray(1000, 'z'));
        b.sendChat(QStringLiteral("still here"));
        QTRY_COMPARE(received.size(), 1);
        QCOMPARE(lost.size(), 0);
        QVERIFY(a.isEstablished());
    }

    void byeClosesOnPurpose()
    {
        Session a(config(QStringLiteral("Ada")));
        Session b(config(QStringLiteral("Bob")));
        QSignalSpy lostA(&a, &Session::linkLost);
        QSignalSpy lostB(&b, &Session::linkLost);
        QVERIFY(establish(a, b));
        a.close(QStringLiteral("bed time"));
        QTRY_COMPARE(lostB.size(), 1);
        QCOMPARE(errorAt(lostB, 0).code, ErrorCode::PeerClosed);
        QVERIFY(errorAt(lostB, 0).message.contains(QStringLiteral("bed time")));
        QVERIFY(!a.hasLink());
        QTest::qWait(50);
        QCOMPARE(lostA.size(), 0);
    }

    void linkDeletedWhileAttached()
    {
        Session a(config(QStringLiteral("Ada"), 50, 5000));
        Session b(config(QStringLiteral("Bob"), 50, 5000));
        QSignalSpy lostA(&a, &Session::linkLost);
        std::pair<LoopbackLink *, LoopbackLink *> links;
        QVERIFY(establish(a, b, &links));
        a.requestDone();
        delete links.first; // the engine should close first; a session must survive it anyway
        QCOMPARE(lostA.size(), 1);
        QCOMPARE(errorAt(lostA, 0).code, ErrorCode::PeerLost);
        QVERIFY(!a.hasLink());
        a.sendChat(QStringLiteral("queued"));
        QTest::qWait(150); // keepalive and done checks run without a link
        QCOMPARE(a.pendingMessages().size(), 1);
    }

    void resetForgetsThePeer()
    {
        Session a(config(QStringLiteral("Ada")));
        Session b(config(QStringLiteral("Bob")));
        QSignalSpy establishedA(&a, &Session::established);
        QVERIFY(establish(a, b));
        a.detachLink();
        b.detachLink();
        a.sendChat(QStringLiteral("for Bob only"));
        a.reset();
        QVERIFY(a.pendingMessages().isEmpty());
        QVERIFY(!a.hasLink());
        connectPair(a, b);
        QTRY_COMPARE(establishedA.size(), 2);
        QCOMPARE(establishedA.at(1).at(1).toBool(), false); // not a resume after reset
    }

    void transferHandlerSeam()
    {
        FakeTransfers ta; // handlers outlive the sessions
        FakeTransfers tb;
        Session a(config(QStringLiteral("Ada")));
        Session b(config(QStringLiteral("Bob")));
        a.setTransferHandler(&ta);
        b.setTransferHandler(&tb);
        QSignalSpy receivedB(&b, &Session::chatReceived);
        std::pair<LoopbackLink *, LoopbackLink *> links;
        QVERIFY(establish(a, b, &links));
        QCOMPARE(ta.ups, 1);
        QCOMPARE(tb.ups, 1);

        // Control frames go straight through, both ways; frames outside the range are refused.
        ta.control(0x0100, QByteArrayLiteral("offer"));
        ta.control(FrameType::Chat, QByteArrayLiteral("not yours"));
        tb.control(0x0101, QByteArrayLiteral("accept"));
        QTRY_COMPARE(tb.received.size(), 1);
        QTRY_COMPARE(ta.received.size(), 1);
        QCOMPARE(tb.received.at(0).first, quint16(0x0100));
        QCOMPARE(tb.received.at(0).second, QByteArrayLiteral("offer"));
        QCOMPARE(ta.received.at(0).second, QByteArrayLiteral("accept"));

        // Bulk: 200 x 64 KiB. The link never holds much more than the low-water mark, and a chat
        // typed meanwhile overtakes most of the queued data.
        qint64 maxPending = 0;
        connect(links.first, &Link::writable, this,
            [&] { maxPending = qMax(maxPending, links.first->pendingBytes()); });
        constexpr int Chunks = 200;
        constexpr int ChunkSize = 64 * 1024;
        qsizetype bulkAtChat = -1;
        connect(&b, &Session::chatReceived, this, [&] { bulkAtChat = tb.received.size() - 1; });
        tb.onFrame = [&] {
            if (tb.received.size() == 4) // 3 chunks arrived: Ada types a message
                a.sendChat(QStringLiteral("while sending"));
        };
        ta.queueBulk(Chunks, ChunkSize);
        QTRY_COMPARE(receivedB.size(), 1);
        // Only what was already queued on the link (at most low water + one chunk) went first.
        const qsizetype overtakenBy = bulkAtChat - 3;
        QVERIFY2(overtakenBy <= Session::BulkLowWaterMark / ChunkSize + 1,
            qPrintable(QString::number(overtakenBy)));
        QTRY_COMPARE_WITH_TIMEOUT(tb.received.size(), Chunks + 1, 20000);
        for (int i = 0; i < Chunks; ++i) {
            const QByteArray &chunk = tb.received.at(i + 1).second;
            QCOMPARE(chunk.size(), ChunkSize);
            QCOMPARE((quint8(chunk.at(0)) << 8) | quint8(chunk.at(1)), i); // in order
        }
        QVERIFY2(maxPending <= Session::BulkLowWaterMark + ChunkSize,
            qPrintable(QString::number(maxPending)));

        // Link down and up again are announced.
        links.first->close();
        QTRY_COMPARE(ta.downs, 1);
        QTRY_COMPARE(tb.downs, 1);
        ta.control(0x0100, QByteArrayLiteral("dropped while down"));
        connectPair(a, b);
        QTRY_COMPARE(ta.ups, 2);
        QTRY_COMPARE(tb.ups, 2);
        QTest::qWait(50);
        QCOMPARE(tb.received.size(), Chunks + 1);
        a.setTransferHandler(nullptr);
        QCOMPARE(ta.downs, 2);
    }
};

QTEST_GUILESS_MAIN(TestSession)
#include "tst_session.moc"
