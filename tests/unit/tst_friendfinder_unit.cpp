// Hostile inputs to the friend finder, each against a real `dhtnode` in a network namespace of
// this test's own that holds nothing but loopback (as tst_rendezvous: not a packet leaves the
// machine):
//  - someone who has seen an invitation code floods requests with many fingerprints while the
//    inviter accepts every new friend: the friends made (and the addresses dialed) are bounded;
//  - a request claiming a known friend does not reopen a friend the user closed;
//  - a friend turned hostile puts a storm of newer presence records: the attempt is not
//    restarted once per record;
//  - a flood of values at a listened key while the network thread is busy: what OpenDHT's thread
//    queues for it is bounded;
//  - a forged newer record that no longer lists the address a live session runs to costs one
//    ping (the link is checked, answers, and stays).

#include "engine/friend.h"
#include "engine/node.h"
#include "identity/peercode.h"
#include "rendezvous/dhtclient.h"
#include "rendezvous/friendfinder.h"
#include "rendezvous/record.h"
#include "support/loopbacksettings.h"

#include <QDir>
#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QProcess>
#include <QRandomGenerator>
#include <QSignalSpy>
#include <QTemporaryDir>
#include <QTest>
#include <QThread>
#include <memory>

#include <net/if.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

using namespace Punchline;

namespace {

constexpr quint16 BootstrapPort = 4222;

bool loopbackUp()
{
    const int fd = ::socket(AF_INET, SOCK_DGRAM, 0);
    if (fd < 0)
        return false;
    ifreq ifr {};
    std::strncpy(ifr.ifr_name, "lo", IFNAMSIZ - 1);
    bool ok = ::ioctl(fd, SIOCGIFFLAGS, &ifr) == 0;
    ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
    ok = ok && ::ioctl(fd, SIOCSIFFLAGS, &ifr) == 0;
    ::close(fd);
    return ok;
}

QByteArray randomBytes(int n)
{
    QByteArray b(n, Qt::Uninitialized);
    for (char &c : b)
        c = char(QRandomGenerator::global()->bounded(256));
    return b;
}

QStringList bootstrap()
{
    return { QStringLiteral("127.0.0.1:%1").arg(BootstrapPort) };
}

qint64 today()
{
    return Rendezvous::epochOf(QDateTime::currentSecsSinceEpoch());
}

struct App
{
    explicit App(AcceptPolicy accept, const std::function<void(const QString &)> &prepare = {})
    {
        if (prepare)
            prepare(dir.filePath(QStringLiteral("profile")));
        node = std::make_unique<Node>();
        friends = std::make_unique<QSignalSpy>(node.get(), &Node::friendsChanged);
        infos = std::make_unique<QSignalSpy>(node.get(), &Node::localInfoReady);
        logs = std::make_unique<QSignalSpy>(node.get(), &Node::logLine);
        Settings s = loopbackSettings(dir.path(), QStringLiteral("Alice"));
        s.dht = true;
        s.dhtBootstrap = bootstrap();
        s.dhtLocalDiscovery = false;
        s.acceptFriends = accept;
        node->start(s);
    }
    LocalInfo info() const
    {
        return infos->isEmpty() ? LocalInfo {} : infos->last().first().value<LocalInfo>();
    }
    bool waitOnline()
    {
        QElapsedTimer t;
        t.start();
        while (t.elapsed() < 20000) {
            if (info().dhtOnline && !info().code.isEmpty())
                return true;
            QTest::qWait(100);
        }
        return false;
    }
    QList<FriendInfo> friendList() const
    {
        return friends->isEmpty() ? QList<FriendInfo> {}
                                  : friends->last().first().value<QList<FriendInfo>>();
    }
    std::optional<FriendInfo> friendInfo(const QByteArray &fp) const
    {
        for (const FriendInfo &f : friendList()) {
            if (f.fingerprint == fp)
                return f;
        }
        return std::nullopt;
    }
    int logsContaining(const QString &text) const
    {
        int n = 0;
        for (const auto &args : *logs)
            n += args.first().toString().contains(text) ? 1 : 0;
        return n;
    }

    QTemporaryDir dir;
    std::unique_ptr<Node> node;
    std::unique_ptr<QSignalSpy> friends, infos, logs;
};

// A DHT node of the attacker's, on loopback.
struct Attacker
{
    Attacker() { dht.start({ 0, bootstrap(), false }); }
    DhtClient dht;
};

Rendezvous::Record request(const QByteArray &fp, quint16 port)
{
    Rendezvous::Record r;
    r.type = Rendezvous::Record::InviteRequest;
    r.seq = quint64(QDateTime::currentMSecsSinceEpoch());
    r.expiresMs = r.seq + FriendFinder::RecordLifetimeMs;
    r.requestId = randomBytes(Rendezvous::Record::RequestIdBytes);
    r.flags = Rendezvous::Record::Online;
    r.name = QStringLiteral("Mallory");
    r.fingerprint = fp;
    r.direct = { Endpoint { QHostAddress(QStringLiteral("127.0.0.1")), port } };
    return r;
}

} // namespace

class TestFriendFinderHostile : public QObject
{
    Q_OBJECT

private:
    QTemporaryDir m_tmp;
    QProcess m_bootstrap;

private Q_SLOTS:
    void initTestCase()
    {
        if (::geteuid() != 0)
            QSKIP("needs root: the test runs OpenDHT in a network namespace of its own");
        QVERIFY2(::unshare(CLONE_NEWNET) == 0, "unshare(CLONE_NEWNET) failed");
        QVERIFY(loopbackUp());
        QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
        env.insert(QStringLiteral("HOME"), m_tmp.path());
        m_bootstrap.setProcessEnvironment(env);
        m_bootstrap.setProcessChannelMode(QProcess::ForwardedErrorChannel);
        m_bootstrap.start(QStringLiteral("dhtnode"),
            { QStringLiteral("-s"), QStringLiteral("-p"), QString::number(BootstrapPort) });
        QVERIFY2(m_bootstrap.waitForStarted(5000), "dhtnode is missing (package dhtnode)");
        QTest::qWait(300);
    }

    void cleanupTestCase()
    {
        m_bootstrap.kill();
        m_bootstrap.waitForFinished(3000);
    }

    // Accepting every new friend: a holder of the code who puts requests under many made-up
    // fingerprints must not make the inviter keep one friend (and one puncher dialing addresses
    // of the attacker's choice, forever) per fingerprint.
    void autoAcceptFloodIsBounded()
    {
        App alice(AcceptPolicy::All);
        QVERIFY(alice.waitOnline());
        const auto code = PeerCode::decode(alice.info().code, nullptr);
        QVERIFY(code && code->hasInvitation());
        Attacker mallory;
        QTRY_VERIFY_WITH_TIMEOUT(mallory.dht.isOnline(), 20000);
        const auto channel
            = Rendezvous::Channel::inviteRequests(code->inviteSecret, code->fingerprint);
        for (int i = 0; i < 12; ++i) {
            const QByteArray value
                = Rendezvous::seal(channel, today(), request(randomBytes(32), quint16(40 + i)));
            QVERIFY(!value.isEmpty());
            mallory.dht.put(channel.dhtKey(today()), value, quint64(5000 + i));
        }
        // The first ones are accepted (the code works)...
        QTRY_VERIFY_WITH_TIMEOUT(!alice.friendList().isEmpty(), 30000);
        QTest::qWait(5000);
        // ...but only a few at a time.
        QVERIFY2(alice.friendList().size() <= 4,
            qPrintable(QStringLiteral("%1 friends made").arg(alice.friendList().size())));
    }

    // The user closed a friend; someone with the code claims that friend's fingerprint: the
    // friend is not dialed again (at addresses of the claimant's choice).
    void requestClaimingAClosedFriend()
    {
        App alice(AcceptPolicy::Ask);
        QVERIFY(alice.waitOnline());
        const auto code = PeerCode::decode(alice.info().code, nullptr);
        QVERIFY(code && code->hasInvitation());
        PeerCode bob;
        bob.name = QStringLiteral("Bob");
        bob.fingerprint = randomBytes(32);
        bob.candidates = { Endpoint { QHostAddress(QStringLiteral("127.0.0.1")), 9 } };
        alice.node->connectToPeer(bob.encode());
        QTRY_VERIFY_WITH_TIMEOUT(alice.friendInfo(bob.fingerprint)
                && alice.friendInfo(bob.fingerprint)->state == State::Connecting,
            10000);
        alice.node->disconnectFriend(bob.fingerprint);
        QTRY_VERIFY_WITH_TIMEOUT(alice.friendInfo(bob.fingerprint)->state != State::Connecting
                && alice.friendInfo(bob.fingerprint)->state != State::Reconnecting,
            10000);
        const int punchesBefore = alice.logsContaining(QStringLiteral("punching"));

        Attacker mallory;
        QTRY_VERIFY_WITH_TIMEOUT(mallory.dht.isOnline(), 20000);
        const auto channel
            = Rendezvous::Channel::inviteRequests(code->inviteSecret, code->fingerprint);
        mallory.dht.put(channel.dhtKey(today()),
            Rendezvous::seal(channel, today(), request(bob.fingerprint, 10)), 77);
        // Long enough for the request to arrive (it does within a second or two on loopback).
        QElapsedTimer waited;
        waited.start();
        while (waited.elapsed() < 10000
            && alice.logsContaining(QStringLiteral("punching")) == punchesBefore)
            QTest::qWait(200);
        QCOMPARE(alice.logsContaining(QStringLiteral("punching")), punchesBefore);
        QVERIFY(alice.friendInfo(bob.fingerprint)->state != State::Connecting);
    }

    // A friend (its pair secret known from the saved known peers) turned hostile: a storm of
    // newer presence records restarts the attempt a bounded number of times, not once per record.
    void presenceStormDoesNotRestartPerRecord()
    {
        const QByteArray bobFp = randomBytes(32);
        const QByteArray ours = randomBytes(32);
        const QByteArray theirs = randomBytes(32);
        App alice(AcceptPolicy::Ask, [&](const QString &profile) {
            QDir().mkpath(profile);
            QFile f(QDir(profile).filePath(QStringLiteral("known-peers.json")));
            QVERIFY(f.open(QIODevice::WriteOnly));
            const QJsonObject peer {
                { QStringLiteral("fingerprint"), QString::fromLatin1(bobFp.toHex()) },
                { QStringLiteral("name"), QStringLiteral("Bob") },
                { QStringLiteral("candidates"), QJsonArray { QStringLiteral("127.0.0.1:9") } },
                { QStringLiteral("trust"), QStringLiteral("code") },
                { QStringLiteral("rendezvousOurs"), QString::fromLatin1(ours.toHex()) },
                { QStringLiteral("rendezvousTheirs"), QString::fromLatin1(theirs.toHex()) },
            };
            f.write(QJsonDocument(QJsonObject { { QStringLiteral("peers"), QJsonArray { peer } } })
                        .toJson());
        });
        QVERIFY(alice.waitOnline());
        const QByteArray aliceFp = alice.info().fingerprint;
        const QByteArray secret = FriendFinder::pairSecret(aliceFp, ours, bobFp, theirs);
        const auto channel = Rendezvous::Channel::friendDirection(secret, bobFp, aliceFp);
        Attacker bob;
        QTRY_VERIFY_WITH_TIMEOUT(bob.dht.isOnline(), 20000);
        Rendezvous::Record r;
        r.type = Rendezvous::Record::Presence;
        r.flags = Rendezvous::Record::Online;
        r.name = QStringLiteral("Bob");
        quint64 seq = quint64(QDateTime::currentMSecsSinceEpoch());
        r.seq = seq;
        r.expiresMs = seq + FriendFinder::RecordLifetimeMs;
        r.direct = { Endpoint { QHostAddress(QStringLiteral("127.0.0.1")), 11 } };
        bob.dht.put(channel.dhtKey(today()), Rendezvous::seal(channel, today(), r), 1);
        QTRY_VERIFY_WITH_TIMEOUT(alice.friendInfo(bobFp) && alice.friendInfo(bobFp)->online, 30000);
        QTRY_VERIFY_WITH_TIMEOUT(alice.friendInfo(bobFp)->state == State::Connecting, 10000);
        for (int i = 0; i < 30; ++i) {
            r.seq = ++seq;
            r.expiresMs = seq + FriendFinder::RecordLifetimeMs;
            r.direct = { Endpoint { QHostAddress(QStringLiteral("127.0.0.1")), quint16(12 + i) } };
            bob.dht.put(
                channel.dhtKey(today()), Rendezvous::seal(channel, today(), r), quint64(100 + i));
            QTest::qWait(50);
        }
        QTest::qWait(3000);
        const int restarts = alice.logsContaining(QStringLiteral("new addresses from the friend"));
        QVERIFY2(restarts >= 1, "the newer records were not used at all");
        QVERIFY2(restarts <= 4, qPrintable(QStringLiteral("%1 restarts").arg(restarts)));
    }

    // Connected friends; a forged (or stale, or lying) newer record of Alice's no longer lists the
    // address Bob's session runs to. Bob checks the link with a ping rather than waiting 45 s of
    // silence, but a live link answers: Bob stays connected, nothing is redialed.
    void forgedRecordCostsOnePing()
    {
        App alice(AcceptPolicy::Ask), bob(AcceptPolicy::Ask);
        QVERIFY(alice.waitOnline());
        QVERIFY(bob.waitOnline());
        const QByteArray aliceFp = alice.info().fingerprint;
        const QByteArray bobFp = bob.info().fingerprint;
        // Bob reaches Alice at an address offered as router-mapped: on loopback every path would
        // be "lan" otherwise, and a LAN path is never suspect.
        PeerCode code = *PeerCode::decode(alice.info().code, nullptr);
        code.mapped = code.candidates;
        code.candidates = { Endpoint { QHostAddress(QStringLiteral("127.0.0.9")), 9 } };
        bob.node->connectToPeer(code.encode());
        alice.node->connectToPeer(bob.info().code);
        QTRY_VERIFY_WITH_TIMEOUT(bob.friendInfo(aliceFp)
                && bob.friendInfo(aliceFp)->state == State::Connected && alice.friendInfo(bobFp)
                && alice.friendInfo(bobFp)->state == State::Connected,
            30000);
        QCOMPARE(bob.friendInfo(aliceFp)->path, PathKind::Mapped);

        // The pair secret, from Bob's known peers once both contributions are in.
        QByteArray ours, theirs;
        QTRY_VERIFY_WITH_TIMEOUT(
            [&] {
                QFile f(bob.dir.filePath(QStringLiteral("profile/known-peers.json")));
                if (!f.open(QIODevice::ReadOnly))
                    return false;
                const auto peers = QJsonDocument::fromJson(f.readAll())
                                       .object()
                                       .value(QStringLiteral("peers"))
                                       .toArray();
                for (const auto &v : peers) {
                    const QJsonObject o = v.toObject();
                    if (o.value(QStringLiteral("fingerprint")).toString()
                        != QString::fromLatin1(aliceFp.toHex()))
                        continue;
                    ours = QByteArray::fromHex(
                        o.value(QStringLiteral("rendezvousOurs")).toString().toLatin1());
                    theirs = QByteArray::fromHex(
                        o.value(QStringLiteral("rendezvousTheirs")).toString().toLatin1());
                }
                return ours.size() == 32 && theirs.size() == 32;
            }(),
            10000);
        const QByteArray secret = FriendFinder::pairSecret(bobFp, ours, aliceFp, theirs);
        const auto channel = Rendezvous::Channel::friendDirection(secret, aliceFp, bobFp);

        Attacker mallory;
        QTRY_VERIFY_WITH_TIMEOUT(mallory.dht.isOnline(), 20000);
        Rendezvous::Record r;
        r.type = Rendezvous::Record::Presence;
        r.flags = Rendezvous::Record::Online;
        r.name = QStringLiteral("Alice");
        r.seq = quint64(QDateTime::currentMSecsSinceEpoch()) + 1000;
        r.expiresMs = r.seq + FriendFinder::RecordLifetimeMs; // records v2 carry their expiry
        r.direct = { Endpoint { QHostAddress(QStringLiteral("127.0.0.9")), 10 } };
        const int connectsBefore = bob.logsContaining(QStringLiteral("connected ("));
        const int lostBefore = bob.logsContaining(QStringLiteral("link lost"));
        mallory.dht.put(channel.dhtKey(today()), Rendezvous::seal(channel, today(), r), 4242);
        QTRY_COMPARE_WITH_TIMEOUT(
            bob.logsContaining(QStringLiteral("checking the link")), 1, 20000);
        // Longer than the check's bound: the ping was answered, the session is untouched.
        QTest::qWait(Friend::LinkCheckMinMs + 1000);
        QCOMPARE(bob.friendInfo(aliceFp)->state, State::Connected);
        QCOMPARE(bob.logsContaining(QStringLiteral("link lost")), lostBefore);
        QCOMPARE(bob.logsContaining(QStringLiteral("connected (")), connectsBefore);
        QCOMPARE(bob.logsContaining(QStringLiteral("checking the link")), 1);
    }

    // OpenDHT's thread posts what it hears to the network thread; while that thread is busy, a
    // flood at a listened key must not pile up without bound in its event queue.
    void floodWhileBusyIsBounded()
    {
        DhtClient listener;
        listener.start({ 0, bootstrap(), false });
        Attacker mallory;
        QTRY_VERIFY_WITH_TIMEOUT(listener.isOnline() && mallory.dht.isOnline(), 20000);
        const QByteArray key = randomBytes(DhtClient::KeyBytes);
        QSignalSpy received(&listener, &DhtClient::valuesReceived);
        QVERIFY(listener.listen(key));
        mallory.dht.put(key, QByteArray("first"), 1);
        QTRY_VERIFY_WITH_TIMEOUT(!received.isEmpty(), 20000);
        received.clear();
        // The network thread is busy (blocked) while the values arrive one by one.
        for (int i = 0; i < 300; ++i)
            mallory.dht.put(key, randomBytes(100), quint64(10 + i));
        QThread::sleep(5);
        QTest::qWait(1000);
        qInfo() << "batches delivered" << received.size() << "values dropped"
                << listener.valuesDropped();
        QVERIFY2(received.size() <= DhtClient::MaxQueuedBatches,
            qPrintable(QStringLiteral("%1 batches queued").arg(received.size())));
        QVERIFY(listener.valuesDropped() > 0);
    }
};

QTEST_MAIN(TestFriendFinderHostile)
#include "tst_friendfinder_unit.moc"
