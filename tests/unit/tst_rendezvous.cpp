// The friend finder end to end: two (and more) Nodes, each with its real network thread and its
// own OpenDHT node, meet through a real `dhtnode` bootstrap node. Everything runs in a network
// namespace of this test's own that holds nothing but loopback (the test unshares it first), so
// not a packet of OpenDHT can leave the machine.
//
// Covered: one-way paste (the inviter accepts a request; the requester is pinned by its claimed
// fingerprint, proven by TLS), the pair secret exchanged inside TLS, both apps restarted → they
// reconnect with nobody pressing anything, presence (a friend quitting is seen offline; a
// replayed old "going offline" record does not fake it), declined, revoked and expired codes, and
// junk / oversized / forged values at the invitation key.

#include "engine/node.h"
#include "identity/identity.h"
#include "identity/peercode.h"
#include "rendezvous/dhtclient.h"
#include "rendezvous/friendfinder.h"
#include "rendezvous/record.h"
#include "support/loopbacksettings.h"

#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QProcess>
#include <QRandomGenerator>
#include <QSignalSpy>
#include <QTemporaryDir>
#include <QTest>
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

Settings dhtSettings(const QString &dir, const QString &name, AcceptPolicy accept)
{
    Settings s = loopbackSettings(dir, name);
    s.dht = true;
    s.dhtBootstrap = { QStringLiteral("127.0.0.1:%1").arg(BootstrapPort) };
    s.dhtLocalDiscovery = false;
    s.acceptFriends = accept;
    s.connectTimeoutMs = 60000;
    return s;
}

// One app: a profile folder that outlives restarts, and the Node of the current run.
struct App
{
    App(const QString &name, AcceptPolicy accept = AcceptPolicy::Ask)
        : name(name)
        , accept(accept)
    {
        start();
    }
    void start()
    {
        node = std::make_unique<Node>();
        connected = std::make_unique<QSignalSpy>(node.get(), &Node::connected);
        requests = std::make_unique<QSignalSpy>(node.get(), &Node::friendRequest);
        errors = std::make_unique<QSignalSpy>(node.get(), &Node::errorOccurred);
        friends = std::make_unique<QSignalSpy>(node.get(), &Node::friendsChanged);
        chats = std::make_unique<QSignalSpy>(node.get(), &Node::chatReceived);
        infos = std::make_unique<QSignalSpy>(node.get(), &Node::localInfoReady);
        node->start(dhtSettings(dir.path(), name, accept));
    }
    void stop()
    {
        connected.reset();
        requests.reset();
        errors.reset();
        friends.reset();
        chats.reset();
        infos.reset();
        node.reset(); // leaves the DHT ("going offline" to every friend)
    }
    LocalInfo info() const
    {
        return infos->isEmpty() ? LocalInfo {} : infos->last().first().value<LocalInfo>();
    }
    bool waitOnline(int ms = 20000)
    {
        QElapsedTimer t;
        t.start();
        while (t.elapsed() < ms) {
            if (info().dhtOnline && !info().code.isEmpty())
                return true;
            QTest::qWait(100);
        }
        return false;
    }
    std::optional<ConnectionInfo> connectionTo(const QByteArray &fp) const
    {
        for (const auto &args : *connected) {
            if (args.at(0).toByteArray() == fp)
                return args.at(1).value<ConnectionInfo>();
        }
        return std::nullopt;
    }
    std::optional<FriendInfo> friendInfo(const QByteArray &fp) const
    {
        if (friends->isEmpty())
            return std::nullopt;
        const auto list = friends->last().first().value<QList<FriendInfo>>();
        for (const FriendInfo &f : list) {
            if (f.fingerprint == fp)
                return f;
        }
        return std::nullopt;
    }
    bool hasError(ErrorCode code) const
    {
        for (const auto &args : *errors) {
            if (args.at(1).value<Error>().code == code)
                return true;
        }
        return false;
    }
    // Both rendezvous contributions of a friend, from the saved known peers.
    QByteArray pairSecretWith(const QByteArray &fp, const QByteArray &ownFp) const
    {
        QFile f(dir.filePath(QStringLiteral("profile/known-peers.json")));
        if (!f.open(QIODevice::ReadOnly))
            return {};
        const QJsonArray peers = QJsonDocument::fromJson(f.readAll())
                                     .object()
                                     .value(QStringLiteral("peers"))
                                     .toArray();
        for (const auto &v : peers) {
            const QJsonObject o = v.toObject();
            if (QByteArray::fromHex(o.value(QStringLiteral("fingerprint")).toString().toLatin1())
                != fp)
                continue;
            const auto hex = [&o](const char *k) {
                return QByteArray::fromHex(o.value(QLatin1String(k)).toString().toLatin1());
            };
            return FriendFinder::pairSecret(
                ownFp, hex("rendezvousOurs"), fp, hex("rendezvousTheirs"));
        }
        return {};
    }

    QString name;
    AcceptPolicy accept;
    QTemporaryDir dir;
    std::unique_ptr<Node> node;
    std::unique_ptr<QSignalSpy> connected, requests, errors, friends, chats, infos;
};

// A FriendFinder alone: no bootstrap node, no local discovery, so it sends nothing; values are
// handed to it as OpenDHT would (DhtClient::valuesReceived).
struct LoneFinder
{
    explicit LoneFinder(const QByteArray &fp = QByteArray(32, 'a'))
        : finder(std::make_unique<FriendFinder>(fp, dir.path()))
    {
        DhtClient::Options o;
        o.localDiscovery = false;
        finder->start(o);
    }
    static qint64 epoch()
    {
        return Rendezvous::epochsAround(QDateTime::currentSecsSinceEpoch()).first();
    }
    void deliver(const QByteArray &key, const QByteArray &value, bool expired = false)
    {
        Q_EMIT finder->dht()->valuesReceived(key, { value }, expired);
    }
    QJsonObject state() const
    {
        QFile f(dir.filePath(QStringLiteral("friend-finder.json")));
        if (!f.open(QIODevice::ReadOnly))
            return {};
        return QJsonDocument::fromJson(f.readAll()).object();
    }

    QTemporaryDir dir;
    std::unique_ptr<FriendFinder> finder;
};

// A request from fp made with the invitation secret, sealed for the inviter.
QByteArray requestValue(const QByteArray &secret, const QByteArray &inviterFp, const QByteArray &fp,
    quint64 seq, quint64 expiresMs = 0)
{
    const auto channel = Rendezvous::Channel::inviteRequests(secret, inviterFp);
    Rendezvous::Record r;
    r.type = Rendezvous::Record::InviteRequest;
    r.seq = seq;
    r.expiresMs = expiresMs ? expiresMs : seq + FriendFinder::RecordLifetimeMs;
    r.flags = Rendezvous::Record::Online;
    r.name = QStringLiteral("Requester");
    r.fingerprint = fp;
    r.requestId = QByteArray(16, 'i');
    r.direct = { *Endpoint::parse(u"203.0.113.30:42000") };
    return Rendezvous::seal(channel, LoneFinder::epoch(), r);
}

} // namespace

class TestRendezvous : public QObject
{
    Q_OBJECT

private:
    QTemporaryDir m_tmp;
    QProcess m_bootstrap;
    std::unique_ptr<App> m_alice;
    std::unique_ptr<App> m_bob;
    QString m_aliceFirstCode;

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
        m_alice.reset();
        m_bob.reset();
        m_bootstrap.kill();
        m_bootstrap.waitForFinished(3000);
    }

    // OpenDHT says a friend's newest record expired: each update is a new value (new id), and
    // the node that drops the replaced one may say "expired" before the new one arrives. That
    // must not flash the friend offline (the lab's hostile test saw it at every restart); only
    // an expiry no newer record follows within ExpiredGraceMs means gone.
    void expiredThenNewerIsNoOffline()
    {
        QTemporaryDir dir;
        const QByteArray ours(32, 'a');
        const QByteArray theirs(32, 'b');
        const QByteArray secret(32, 's');
        FriendFinder finder(ours, dir.path());
        DhtClient::Options o; // no bootstrap, no local discovery: a node alone, sends nothing
        o.localDiscovery = false;
        finder.start(o);
        finder.setFriend(theirs, secret);
        QSignalSpy seen(&finder, &FriendFinder::friendSeen);
        QSignalSpy gone(&finder, &FriendFinder::friendGone);
        const auto channel = Rendezvous::Channel::friendDirection(secret, theirs, ours);
        const qint64 epoch = Rendezvous::epochsAround(QDateTime::currentSecsSinceEpoch()).first();
        const QByteArray key = channel.dhtKey(epoch);
        QVERIFY(finder.dht()->isListening(key));
        const auto record = [&](quint64 seq) {
            Rendezvous::Record r;
            r.type = Rendezvous::Record::Presence;
            r.seq = seq;
            r.expiresMs = seq + FriendFinder::RecordLifetimeMs;
            r.flags = Rendezvous::Record::Online;
            r.name = QStringLiteral("Bob");
            r.direct = { *Endpoint::parse(u"203.0.113.18:42000") };
            return Rendezvous::seal(channel, epoch, r);
        };
        const quint64 now = quint64(QDateTime::currentMSecsSinceEpoch());
        Q_EMIT finder.dht()->valuesReceived(key, { record(now) }, false);
        QCOMPARE(seen.count(), 1);
        // The update: the old value's expiry first, the new value a moment later.
        Q_EMIT finder.dht()->valuesReceived(key, { record(now) }, true);
        QTest::qWait(300);
        Q_EMIT finder.dht()->valuesReceived(key, { record(now + 1000) }, false);
        QCOMPARE(seen.count(), 2);
        QTest::qWait(FriendFinder::ExpiredGraceMs + 500);
        QCOMPARE(gone.count(), 0);
        // The newest record expires and nothing follows: gone, once.
        Q_EMIT finder.dht()->valuesReceived(key, { record(now + 1000) }, true);
        Q_EMIT finder.dht()->valuesReceived(key, { record(now + 1000) }, true);
        QCOMPARE(gone.count(), 0);
        QTRY_COMPARE_WITH_TIMEOUT(gone.count(), 1, FriendFinder::ExpiredGraceMs + 2000);
        QCOMPARE(gone.at(0).at(0).toByteArray(), theirs);
        QTest::qWait(500);
        QCOMPARE(gone.count(), 1);
        finder.stop();
    }

    // A captured presence record is worth nothing later: one whose own expiry has passed is
    // ignored (even on the same day's key, where the seal still opens), and the friend's last
    // record, once it expired and the friend counted as gone, cannot bring the friend back.
    void replayedPresenceIsIgnored()
    {
        LoneFinder lone;
        const QByteArray ours(32, 'a');
        const QByteArray theirs(32, 'b');
        const QByteArray secret(32, 's');
        FriendFinder &finder = *lone.finder;
        finder.setFriend(theirs, secret);
        QSignalSpy seen(&finder, &FriendFinder::friendSeen);
        QSignalSpy gone(&finder, &FriendFinder::friendGone);
        const auto channel = Rendezvous::Channel::friendDirection(secret, theirs, ours);
        const QByteArray key = channel.dhtKey(LoneFinder::epoch());
        const auto record = [&](quint64 seq, quint64 expires) {
            Rendezvous::Record r;
            r.type = Rendezvous::Record::Presence;
            r.seq = seq;
            r.expiresMs = expires;
            r.flags = Rendezvous::Record::Online;
            r.direct = { *Endpoint::parse(u"203.0.113.18:42000") };
            return Rendezvous::seal(channel, LoneFinder::epoch(), r);
        };
        const quint64 now = quint64(QDateTime::currentMSecsSinceEpoch());
        // Made 40 minutes ago, expired 10 minutes ago (more than the clock skew allowed).
        const int droppedBefore = finder.droppedValues();
        lone.deliver(key, record(now - 40 * 60000, now - 10 * 60000));
        QCOMPARE(seen.count(), 0);
        QCOMPARE(finder.droppedValues(), droppedBefore + 1);

        // The friend's current record, then its expiry: gone. The same record replayed then
        // changes nothing.
        const QByteArray current = record(now, now + FriendFinder::RecordLifetimeMs);
        lone.deliver(key, current);
        QCOMPARE(seen.count(), 1);
        lone.deliver(key, current, true);
        QTRY_COMPARE_WITH_TIMEOUT(gone.count(), 1, FriendFinder::ExpiredGraceMs + 2000);
        lone.deliver(key, current);
        QCOMPARE(seen.count(), 1);
        // A newer record is the friend back.
        lone.deliver(key, record(now + 1, now + FriendFinder::RecordLifetimeMs));
        QCOMPARE(seen.count(), 2);
        finder.stop();
    }

    // Whoever holds our invitation code can write at the reply key too: only a reply signed by
    // the inviter (the certificate pinned from the code), for this very request, counts.
    // Anything else is dropped and counted and never ends the attempt.
    void forgedRepliesAreDropped()
    {
        QTemporaryDir inviterDir;
        QTemporaryDir malloryDir;
        const auto inviter = Identity::loadOrCreate(inviterDir.path(), nullptr);
        const auto mallory = Identity::loadOrCreate(malloryDir.path(), nullptr);
        QVERIFY(inviter && mallory);
        const QByteArray ours(32, 'b');
        const QByteArray secret(16, 'k');
        LoneFinder lone(ours);
        FriendFinder &finder = *lone.finder;
        finder.request(inviter->fingerprint(), secret);
        const QByteArray requestId = finder.requestId(inviter->fingerprint());
        QCOMPARE(requestId.size(), Rendezvous::Record::RequestIdBytes);
        QSignalSpy replies(&finder, &FriendFinder::replyReceived);
        const auto channel
            = Rendezvous::Channel::inviteReplies(secret, inviter->fingerprint(), ours);
        const QByteArray key = channel.dhtKey(LoneFinder::epoch());
        QVERIFY(finder.dht()->isListening(key));
        quint64 seq = quint64(QDateTime::currentMSecsSinceEpoch());
        const auto declined = [&]() {
            Rendezvous::Record r;
            r.type = Rendezvous::Record::InviteReply;
            r.status = Rendezvous::Record::Declined;
            r.seq = ++seq;
            r.expiresMs = r.seq + FriendFinder::RecordLifetimeMs;
            return r;
        };
        const auto signer = [](const Identity &id) {
            return Rendezvous::ReplySigner::fromIdentity(
                id.certificate().toDer(), id.privateKey().toPem());
        };
        const Rendezvous::ReplyBinding binding { inviter->fingerprint(), ours, requestId };
        const int droppedBefore = finder.droppedValues();

        lone.deliver(key, Rendezvous::seal(channel, LoneFinder::epoch(), declined())); // unsigned
        lone.deliver(key,
            Rendezvous::sealReply(
                channel, LoneFinder::epoch(), declined(), signer(*mallory), binding));
        Rendezvous::ReplyBinding earlier = binding;
        earlier.requestId = QByteArray(16, 'e'); // the inviter's answer to an earlier attempt
        lone.deliver(key,
            Rendezvous::sealReply(
                channel, LoneFinder::epoch(), declined(), signer(*inviter), earlier));
        QCOMPARE(replies.count(), 0);
        QCOMPARE(finder.droppedValues(), droppedBefore + 3);

        lone.deliver(key,
            Rendezvous::sealReply(
                channel, LoneFinder::epoch(), declined(), signer(*inviter), binding));
        QCOMPARE(replies.count(), 1);
        QCOMPARE(replies.at(0).at(0).toByteArray(), inviter->fingerprint());
        QCOMPARE(replies.at(0).at(1).value<FriendFinder::ReplyStatus>(),
            FriendFinder::ReplyStatus::Declined);
        finder.stop();
    }

    // friend-finder.json is not rewritten per request value: writes are coalesced, and what is
    // pending is written at shutdown.
    void stateWritesAreCoalesced()
    {
        QByteArray inviterFp(32, 'a');
        LoneFinder lone(inviterFp);
        FriendFinder &finder = *lone.finder;
        const FriendFinder::Invitation inv = finder.currentInvitation(3600, false);
        const QByteArray key = Rendezvous::Channel::inviteRequests(inv.secret, inviterFp)
                                   .dhtKey(LoneFinder::epoch());
        QVERIFY(finder.dht()->isListening(key));
        const int writesBefore = finder.stateWrites();
        const quint64 now = quint64(QDateTime::currentMSecsSinceEpoch());
        for (int i = 0; i < 40; ++i)
            lone.deliver(
                key, requestValue(inv.secret, inviterFp, QByteArray(32, char(i)), now + i));
        QVERIFY2(finder.stateWrites() - writesBefore <= 1,
            qPrintable(QString::number(finder.stateWrites() - writesBefore)));
        QTRY_VERIFY_WITH_TIMEOUT(
            lone.state().value(QStringLiteral("requestSeq")).toObject().size() == 40,
            FriendFinder::SaveDelayMs + 2000);
        QVERIFY(finder.stateWrites() - writesBefore <= 2);

        // One more, then shutdown at once: it is on disk all the same.
        lone.deliver(key, requestValue(inv.secret, inviterFp, QByteArray(32, 'z'), now + 100));
        finder.stop();
        lone.finder.reset();
        QCOMPARE(lone.state().value(QStringLiteral("requestSeq")).toObject().size(), 41);
    }

    // A request nobody answers does not wait for ever: it expires with the requester's own
    // record (the requester republishes it while it is still asking), and the engine is told.
    void pendingRequestsExpire()
    {
        QByteArray inviterFp(32, 'a');
        LoneFinder lone(inviterFp);
        FriendFinder &finder = *lone.finder;
        const FriendFinder::Invitation inv = finder.currentInvitation(3600, false);
        const QByteArray key = Rendezvous::Channel::inviteRequests(inv.secret, inviterFp)
                                   .dhtKey(LoneFinder::epoch());
        QSignalSpy received(&finder, &FriendFinder::requestReceived);
        QSignalSpy expired(&finder, &FriendFinder::requestExpired);
        const qint64 now = QDateTime::currentMSecsSinceEpoch();
        const QByteArray asker(32, 'q');
        const QByteArray patient(32, 'p');
        // Made 10 minutes ago; its expiry (with the clock skew we allow) is 1.5 s from now.
        lone.deliver(key,
            requestValue(inv.secret, inviterFp, asker, quint64(now - 10 * 60000),
                quint64(now - Rendezvous::Record::ClockSkewMs + 1500)));
        lone.deliver(key, requestValue(inv.secret, inviterFp, patient, quint64(now)));
        QCOMPARE(received.count(), 2);
        QTRY_COMPARE_WITH_TIMEOUT(expired.count(), 1, 5000);
        QCOMPARE(expired.at(0).at(0).toByteArray(), asker);
        QTest::qWait(1000);
        QCOMPARE(expired.count(), 1); // the other one is still asking
        // Asking again (a newer request) is a new request.
        lone.deliver(key, requestValue(inv.secret, inviterFp, asker, quint64(now + 1)));
        QCOMPARE(received.count(), 3);
        finder.stop();
    }

    // Bob pastes Alice's code; Alice pastes nothing and accepts the request she is shown.
    void oneWayPaste()
    {
        m_alice = std::make_unique<App>(QStringLiteral("Alice"));
        m_bob = std::make_unique<App>(QStringLiteral("Bob"));
        QVERIFY2(m_alice->waitOnline(), qPrintable(m_alice->info().dhtStatus));
        QVERIFY2(m_bob->waitOnline(), qPrintable(m_bob->info().dhtStatus));
        const LocalInfo a = m_alice->info();
        const LocalInfo b = m_bob->info();
        QVERIFY(a.codeExpires > QDateTime::currentDateTimeUtc().addSecs(23 * 3600));
        const auto code = PeerCode::decode(a.code, nullptr);
        QVERIFY(code && code->hasInvitation());
        m_aliceFirstCode = a.code;

        m_bob->node->connectToPeer(a.code);
        QTRY_COMPARE_WITH_TIMEOUT(m_alice->requests->size(), 1, 30000);
        const auto request = m_alice->requests->first().first().value<FriendRequest>();
        QCOMPARE(request.fingerprint, b.fingerprint);
        QCOMPARE(request.name, QStringLiteral("Bob"));
        m_alice->node->answerRequest(b.fingerprint, true);

        QTRY_VERIFY_WITH_TIMEOUT(m_alice->connectionTo(b.fingerprint).has_value(), 30000);
        QTRY_VERIFY_WITH_TIMEOUT(m_bob->connectionTo(a.fingerprint).has_value(), 30000);
        const ConnectionInfo atAlice = *m_alice->connectionTo(b.fingerprint);
        const ConnectionInfo atBob = *m_bob->connectionTo(a.fingerprint);
        QCOMPARE(atAlice.via, FoundVia::Dht);
        QVERIFY(!atAlice.peerPinnedByCode); // first use: Alice is shown Bob's fingerprint
        QCOMPARE(atAlice.peerFingerprint, b.fingerprint);
        QCOMPARE(atBob.via, FoundVia::Paste);
        QVERIFY(atBob.peerPinnedByCode);

        m_bob->node->sendChat(a.fingerprint, QStringLiteral("found you"));
        QTRY_COMPARE_WITH_TIMEOUT(m_alice->chats->size(), 1, 10000);
        // The pair secret is made inside TLS, the same on both sides, and only there.
        QTRY_VERIFY_WITH_TIMEOUT(
            !m_alice->pairSecretWith(b.fingerprint, a.fingerprint).isEmpty(), 10000);
        QTRY_VERIFY_WITH_TIMEOUT(
            !m_bob->pairSecretWith(a.fingerprint, b.fingerprint).isEmpty(), 10000);
        QCOMPARE(m_alice->pairSecretWith(b.fingerprint, a.fingerprint),
            m_bob->pairSecretWith(a.fingerprint, b.fingerprint));
    }

    // Both quit and start again: nobody pastes or presses anything, they find each other.
    void bothRestartedReconnect()
    {
        QVERIFY(m_alice && m_bob);
        const QByteArray a = m_alice->info().fingerprint;
        const QByteArray b = m_bob->info().fingerprint;
        m_alice->stop();
        m_bob->stop();
        m_alice->start();
        m_bob->start();
        QElapsedTimer t;
        t.start();
        QTRY_VERIFY_WITH_TIMEOUT(m_alice->connectionTo(b).has_value(), 60000);
        QTRY_VERIFY_WITH_TIMEOUT(m_bob->connectionTo(a).has_value(), 60000);
        qInfo("reconnected by themselves %lld ms after both started", t.elapsed());
        QCOMPARE(m_alice->connectionTo(b)->via, FoundVia::Dht);
        QCOMPARE(m_bob->connectionTo(a)->via, FoundVia::Dht);
        QVERIFY(m_alice->friendInfo(b).has_value());
        QTRY_VERIFY_WITH_TIMEOUT(m_alice->friendInfo(b)->online, 10000);
    }

    // Bob quits: Alice sees him offline (his "going offline" record). A replay of that record
    // after he is back does not make him look offline again.
    void presenceAndReplay()
    {
        const QByteArray a = m_alice->info().fingerprint;
        const QByteArray b = m_bob->info().fingerprint;
        const QByteArray secret = m_alice->pairSecretWith(b, a);
        QVERIFY(!secret.isEmpty());
        // An eavesdropper on the DHT who happens to know where Bob publishes (the worst case:
        // only the two friends can compute the key) records every value there.
        const auto channel = Rendezvous::Channel::friendDirection(secret, b, a);
        const QByteArray key
            = channel.dhtKey(Rendezvous::epochOf(QDateTime::currentSecsSinceEpoch()));
        DhtClient spy;
        spy.start({ 0, { QStringLiteral("127.0.0.1:%1").arg(BootstrapPort) }, false });
        QList<QByteArray> captured;
        connect(&spy, &DhtClient::valuesReceived, this,
            [&captured](const QByteArray &, const QList<QByteArray> &values, bool expired) {
                if (!expired)
                    captured += values;
            });
        QTRY_VERIFY_WITH_TIMEOUT(spy.isOnline(), 20000);
        QVERIFY(spy.listen(key));
        QTRY_VERIFY_WITH_TIMEOUT(!captured.isEmpty(), 20000); // Bob's "online" record

        m_bob->stop();
        QTRY_VERIFY_WITH_TIMEOUT(m_alice->friendInfo(b) && !m_alice->friendInfo(b)->online, 30000);
        const QDateTime offlineSince = m_alice->friendInfo(b)->presenceSince;
        QVERIFY(offlineSince.isValid());
        // The going-offline record is the newest value captured.
        const int before = captured.size();
        QTRY_VERIFY_WITH_TIMEOUT(captured.size() > before || before >= 2, 10000);
        const QByteArray goingOffline = captured.last();
        std::optional<Rendezvous::Record> r = Rendezvous::open(channel,
            Rendezvous::epochOf(QDateTime::currentSecsSinceEpoch()), goingOffline, nullptr);
        QVERIFY(r.has_value());
        QVERIFY(r->flags & Rendezvous::Record::GoingOffline);
        // The eavesdropper cannot read it without the secret: it is not even the same bytes as
        // any other record.
        QVERIFY(!goingOffline.contains(b) && !goingOffline.contains("Bob"));

        m_bob->start();
        QTRY_VERIFY_WITH_TIMEOUT(m_alice->friendInfo(b) && m_alice->friendInfo(b)->online, 60000);
        QTRY_VERIFY_WITH_TIMEOUT(m_bob->connectionTo(a).has_value(), 60000);
        // Replay: the old "going offline" value, put again under another value id.
        spy.put(key, goingOffline, 0x1234567);
        QTest::qWait(3000);
        QVERIFY(m_alice->friendInfo(b)->online);
        spy.stop();
    }

    void declined()
    {
        App carol(QStringLiteral("Carol"));
        QVERIFY(carol.waitOnline());
        carol.node->connectToPeer(m_alice->info().code);
        QTRY_VERIFY_WITH_TIMEOUT(!m_alice->requests->isEmpty(), 30000);
        const auto request = m_alice->requests->last().first().value<FriendRequest>();
        QCOMPARE(request.name, QStringLiteral("Carol"));
        m_alice->node->answerRequest(request.fingerprint, false);
        QTRY_VERIFY_WITH_TIMEOUT(carol.hasError(ErrorCode::RequestDeclined), 30000);
        QVERIFY(!m_alice->connectionTo(request.fingerprint));
    }

    void revokedAndExpired()
    {
        // Expired: refused on the pasting side at once, with the date.
        auto code = PeerCode::decode(m_alice->info().code, nullptr);
        QVERIFY(code);
        code->inviteExpires = QDateTime::currentSecsSinceEpoch() - 60;
        App dave(QStringLiteral("Dave"));
        QVERIFY(dave.waitOnline());
        dave.node->connectToPeer(code->encode());
        QTRY_VERIFY_WITH_TIMEOUT(dave.hasError(ErrorCode::CodeExpired), 5000);

        // Revoked: Alice makes a new code; the old one is answered "revoked".
        const QString old = m_alice->info().code;
        m_alice->node->newCode();
        QTRY_VERIFY_WITH_TIMEOUT(m_alice->info().code != old, 10000);
        const int requestsBefore = m_alice->requests->size();
        dave.node->connectToPeer(old);
        QTRY_VERIFY_WITH_TIMEOUT(dave.hasError(ErrorCode::CodeRevoked), 30000);
        QCOMPARE(m_alice->requests->size(), requestsBefore); // Alice is not even asked
    }

    // Junk, oversized and forged values at Alice's invitation key cost nothing and change
    // nothing; a real request still gets through afterwards.
    void junkAtTheInvitationKey()
    {
        const auto code = PeerCode::decode(m_alice->info().code, nullptr);
        QVERIFY(code && code->hasInvitation());
        const auto channel
            = Rendezvous::Channel::inviteRequests(code->inviteSecret, code->fingerprint);
        const QByteArray key
            = channel.dhtKey(Rendezvous::epochOf(QDateTime::currentSecsSinceEpoch()));
        DhtClient attacker;
        attacker.start({ 0, { QStringLiteral("127.0.0.1:%1").arg(BootstrapPort) }, false });
        QTRY_VERIFY_WITH_TIMEOUT(attacker.isOnline(), 20000);
        auto *rng = QRandomGenerator::global();
        for (int i = 0; i < 40; ++i) {
            QByteArray junk(int(rng->bounded(1, 1024)), Qt::Uninitialized);
            for (char &c : junk)
                c = char(rng->bounded(256));
            attacker.put(key, junk, quint64(1000 + i));
        }
        // Sealed with another channel's key (someone who guessed the key but not the secret).
        Rendezvous::Record forged;
        forged.type = Rendezvous::Record::InviteRequest;
        forged.seq = quint64(QDateTime::currentMSecsSinceEpoch());
        forged.name = QStringLiteral("Mallory");
        forged.fingerprint = QByteArray(32, '\x66');
        const auto wrong
            = Rendezvous::Channel::inviteRequests(QByteArray(16, '\x01'), code->fingerprint);
        attacker.put(key,
            Rendezvous::seal(
                wrong, Rendezvous::epochOf(QDateTime::currentSecsSinceEpoch()), forged),
            2000);
        const int requestsBefore = m_alice->requests->size();
        QTest::qWait(3000);
        QCOMPARE(m_alice->requests->size(), requestsBefore);

        App erin(QStringLiteral("Erin"));
        QVERIFY(erin.waitOnline());
        erin.node->connectToPeer(m_alice->info().code);
        QTRY_VERIFY_WITH_TIMEOUT(m_alice->requests->size() > requestsBefore, 30000);
        QCOMPARE(
            m_alice->requests->last().first().value<FriendRequest>().name, QStringLiteral("Erin"));
        attacker.stop();
    }

    // The same through the real DHT: a code holder's forged "declined" at Frank's reply key
    // does not end Frank's attempt; Alice's real answer still counts.
    void forgedDeclineThroughTheDht()
    {
        App frank(QStringLiteral("Frank"));
        QVERIFY(frank.waitOnline());
        const auto code = PeerCode::decode(m_alice->info().code, nullptr);
        QVERIFY(code && code->hasInvitation());
        const int requestsBefore = m_alice->requests->size();
        frank.node->connectToPeer(m_alice->info().code);
        QTRY_VERIFY_WITH_TIMEOUT(m_alice->requests->size() > requestsBefore, 30000);

        const QByteArray frankFp = frank.info().fingerprint;
        const auto channel
            = Rendezvous::Channel::inviteReplies(code->inviteSecret, code->fingerprint, frankFp);
        const qint64 epoch = Rendezvous::epochOf(QDateTime::currentSecsSinceEpoch());
        Rendezvous::Record forged;
        forged.type = Rendezvous::Record::InviteReply;
        forged.status = Rendezvous::Record::Declined;
        forged.seq = quint64(QDateTime::currentMSecsSinceEpoch()) + 60000;
        forged.expiresMs = forged.seq + 60000;
        forged.name = QStringLiteral("Alice");
        DhtClient mallory;
        mallory.start({ 0, { QStringLiteral("127.0.0.1:%1").arg(BootstrapPort) }, false });
        QTRY_VERIFY_WITH_TIMEOUT(mallory.isOnline(), 20000);
        mallory.put(channel.dhtKey(epoch), Rendezvous::seal(channel, epoch, forged), 4242);
        QTest::qWait(4000);
        QVERIFY(!frank.hasError(ErrorCode::RequestDeclined));

        m_alice->node->answerRequest(frankFp, true);
        QTRY_VERIFY_WITH_TIMEOUT(frank.connectionTo(code->fingerprint).has_value(), 30000);
        mallory.stop();
    }

    // A request that nobody answers and whose requester stopped asking leaves the window and
    // the CLI (Node::friendRequestExpired).
    void unansweredRequestExpires()
    {
        const auto code = PeerCode::decode(m_alice->info().code, nullptr);
        QVERIFY(code && code->hasInvitation());
        QSignalSpy expired(m_alice->node.get(), &Node::friendRequestExpired);
        const auto channel
            = Rendezvous::Channel::inviteRequests(code->inviteSecret, code->fingerprint);
        const qint64 epoch = Rendezvous::epochOf(QDateTime::currentSecsSinceEpoch());
        const qint64 now = QDateTime::currentMSecsSinceEpoch();
        Rendezvous::Record r;
        r.type = Rendezvous::Record::InviteRequest;
        r.seq = quint64(now - 10 * 60000);
        r.expiresMs = quint64(now - Rendezvous::Record::ClockSkewMs + 4000);
        r.name = QStringLiteral("Gone");
        r.fingerprint = QByteArray(32, '\x47');
        r.requestId = QByteArray(16, '\x01');
        r.direct = { *Endpoint::parse(u"203.0.113.40:42000") };
        const int requestsBefore = m_alice->requests->size();
        DhtClient requester;
        requester.start({ 0, { QStringLiteral("127.0.0.1:%1").arg(BootstrapPort) }, false });
        QTRY_VERIFY_WITH_TIMEOUT(requester.isOnline(), 20000);
        requester.put(channel.dhtKey(epoch), Rendezvous::seal(channel, epoch, r), 4343);
        QTRY_VERIFY_WITH_TIMEOUT(m_alice->requests->size() > requestsBefore, 20000);
        QCOMPARE(
            m_alice->requests->last().first().value<FriendRequest>().fingerprint, r.fingerprint);
        QTRY_COMPARE_WITH_TIMEOUT(expired.size(), 1, 15000);
        QCOMPARE(expired.first().first().toByteArray(), r.fingerprint);
        requester.stop();
    }
};

QTEST_MAIN(TestRendezvous)
#include "tst_rendezvous.moc"
