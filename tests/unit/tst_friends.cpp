// Several friends at once, through the facade, each Node with its real network thread, on
// loopback: every friend gets its own connection and conversation on the one shared port; the
// dispatcher hands each incoming connection to the friend its preamble names; an outsider who
// claims a friend's fingerprint can neither end the attempt nor take over the session; plain
// addresses (trust on first use) become a friend once TLS proves who answered.

#include "engine/node.h"
#include "identity/identity.h"
#include "identity/peercode.h"
#include "punch/preamble.h"
#include "session/tlshandshake.h"
#include "support/loopbacksettings.h"

#include <QElapsedTimer>
#include <QSignalSpy>
#include <QSslSocket>
#include <QStandardPaths>
#include <QTcpSocket>
#include <QTemporaryDir>
#include <QTest>
#include <QTimer>
#include <memory>

using namespace Punchline;

namespace {

// One node with its spies and its own temporary profile.
struct Peer
{
    explicit Peer(const QString &name)
        : connected(&node, &Node::connected)
        , chats(&node, &Node::chatReceived)
        , delivered(&node, &Node::chatDelivered)
        , errors(&node, &Node::errorOccurred)
        , states(&node, &Node::friendStateChanged)
        , friends(&node, &Node::friendsChanged)
    {
        QSignalSpy infoSpy(&node, &Node::localInfoReady);
        node.start(loopbackSettings(dir.path(), name));
        if (infoSpy.wait(10000))
            info = infoSpy.first().first().value<LocalInfo>();
    }
    QByteArray fp() const { return info.fingerprint; }
    Endpoint address() const { return { QHostAddress(QHostAddress::LocalHost), info.port }; }

    // Messages received from one friend, in order.
    QStringList textsFrom(const QByteArray &peer) const
    {
        QStringList out;
        for (const auto &args : chats) {
            if (args.at(0).toByteArray() == peer)
                out << args.at(1).value<ChatMessage>().text;
        }
        return out;
    }
    int connectedTo(const QByteArray &peer) const
    {
        int n = 0;
        for (const auto &args : connected)
            n += args.at(0).toByteArray() == peer ? 1 : 0;
        return n;
    }
    QList<State> statesOf(const QByteArray &peer) const
    {
        QList<State> out;
        for (const auto &args : states) {
            if (args.at(0).toByteArray() == peer)
                out << args.at(1).value<State>();
        }
        return out;
    }
    std::optional<FriendInfo> friendInfo(const QByteArray &peer) const
    {
        if (friends.isEmpty())
            return std::nullopt;
        const auto list = friends.last().first().value<QList<FriendInfo>>();
        for (const FriendInfo &f : list) {
            if (f.fingerprint == peer)
                return f;
        }
        return std::nullopt;
    }

    QTemporaryDir dir;
    Node node;
    LocalInfo info;
    QSignalSpy connected, chats, delivered, errors, states, friends;
};

// An outsider on loopback: connects to a victim's port, claims someone else's fingerprint in the
// clear-text preamble, plays the nomination like Punchline does, and offers TLS 1.3 with its own
// certificate (which cannot hash to the claimed fingerprint).
class Impostor : public QObject
{
public:
    Impostor(const Identity &own, const QByteArray &claimed, const QByteArray &victim, quint16 port)
        : m_own(own)
        , m_claimed(claimed)
        , m_victim(victim)
    {
        m_socket = new QSslSocket(this);
        connect(m_socket, &QSslSocket::connected, this,
            [this] { m_socket->write(Preamble::encode(m_claimed)); });
        connect(m_socket, &QSslSocket::readyRead, this, [this] { onReadable(); });
        connect(m_socket, &QSslSocket::disconnected, this, [this] { closed = true; });
        connect(m_socket, &QSslSocket::errorOccurred, this, [this] { closed = true; });
        m_socket->connectToHost(
            QHostAddress::LocalHost, port, QIODevice::ReadWrite | QIODevice::Unbuffered);
    }
    bool closed = false;
    bool tlsDone = false;
    bool tlsFailed = false;

private:
    void onReadable()
    {
        if (m_handshake)
            return;
        if (m_socket->bytesAvailable() == 0) {
            // Unbuffered: nothing to read means the other side closed.
            char probe = 0;
            if (m_socket->peek(&probe, 1) <= 0 && m_socket->read(&probe, 1) <= 0)
                closed = true;
            return;
        }
        if (!m_gotPreamble) {
            if (m_socket->bytesAvailable() < Preamble::Size)
                return;
            m_socket->read(Preamble::Size);
            m_gotPreamble = true;
            if (m_claimed > m_victim) { // "controller": nominate and open TLS at once
                m_socket->putChar(Preamble::Nominate);
                startTls(false);
                return;
            }
        }
        if (m_socket->bytesAvailable() < 1)
            return;
        char c = 0;
        m_socket->getChar(&c);
        startTls(c == Preamble::Nominate);
    }
    void startTls(bool asServer)
    {
        m_handshake = new TlsHandshake(m_socket, m_own, asServer, m_victim, 5000, this);
        connect(m_handshake, &TlsHandshake::succeeded, this, [this] { tlsDone = true; });
        connect(m_handshake, &TlsHandshake::failed, this, [this] { tlsFailed = true; });
        m_handshake->start();
    }

    Identity m_own;
    QByteArray m_claimed, m_victim;
    QSslSocket *m_socket = nullptr;
    TlsHandshake *m_handshake = nullptr;
    bool m_gotPreamble = false;
};

// An outsider that claims a friend, plays the nomination byte and then never speaks TLS, from
// several connections at once, reconnecting as soon as one is closed: it tries to hold every
// slot a proof could use.
class Staller : public QObject
{
public:
    Staller(const QByteArray &claimed, const QByteArray &victim, quint16 port, int connections,
        const QHostAddress &from)
        : m_claimed(claimed)
        , m_victim(victim)
        , m_port(port)
        , m_from(from)
    {
        for (int i = 0; i < connections; ++i)
            open();
    }
    int opened = 0;

private:
    void open()
    {
        if (opened >= 3000)
            return; // bounded
        ++opened;
        auto *s = new QTcpSocket(this);
        s->bind(m_from);
        connect(s, &QTcpSocket::connected, s, [this, s] { s->write(Preamble::encode(m_claimed)); });
        connect(s, &QTcpSocket::readyRead, s, [this, s] {
            if (s->bytesAvailable() >= Preamble::Size && m_claimed > m_victim
                && !s->property("n").toBool()) {
                s->setProperty("n", true);
                s->write(QByteArray(1, Preamble::Nominate)); // ... and then no ClientHello
            }
            s->readAll(); // never answers
        });
        connect(s, &QTcpSocket::disconnected, this, [this, s] {
            s->deleteLater();
            QTimer::singleShot(50, this, [this] { open(); });
        });
        s->connectToHost(QHostAddress::LocalHost, m_port);
    }
    QByteArray m_claimed, m_victim;
    quint16 m_port;
    QHostAddress m_from;
};

} // namespace

class TestFriends : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void initTestCase() { QStandardPaths::setTestModeEnabled(true); }

    void threeFriendsEachInTheirOwnConversation()
    {
        Peer a(QStringLiteral("Ann")), b(QStringLiteral("Ben")), c(QStringLiteral("Cai"));
        QVERIFY(!a.info.code.isEmpty() && !b.info.code.isEmpty() && !c.info.code.isEmpty());
        a.node.connectToPeer(b.info.code);
        a.node.connectToPeer(c.info.code);
        b.node.connectToPeer(a.info.code);
        c.node.connectToPeer(a.info.code);
        QTRY_COMPARE_WITH_TIMEOUT(a.connectedTo(b.fp()), 1, 20000);
        QTRY_COMPARE_WITH_TIMEOUT(a.connectedTo(c.fp()), 1, 20000);
        QTRY_COMPARE_WITH_TIMEOUT(b.connectedTo(a.fp()), 1, 20000);
        QTRY_COMPARE_WITH_TIMEOUT(c.connectedTo(a.fp()), 1, 20000);
        // One port for both: the friends see the same address of A.
        QCOMPARE(b.connected.first().at(1).value<ConnectionInfo>().remote.port, a.info.port);
        QCOMPARE(c.connected.first().at(1).value<ConnectionInfo>().remote.port, a.info.port);

        // Each message goes to its own friend only, and comes back keyed by the sender.
        a.node.sendChat(b.fp(), QStringLiteral("for Ben"));
        a.node.sendChat(c.fp(), QStringLiteral("for Cai"));
        b.node.sendChat(a.fp(), QStringLiteral("from Ben"));
        c.node.sendChat(a.fp(), QStringLiteral("from Cai"));
        QTRY_COMPARE_WITH_TIMEOUT(
            b.textsFrom(a.fp()), QStringList { QStringLiteral("for Ben") }, 5000);
        QTRY_COMPARE_WITH_TIMEOUT(
            c.textsFrom(a.fp()), QStringList { QStringLiteral("for Cai") }, 5000);
        QTRY_COMPARE_WITH_TIMEOUT(
            a.textsFrom(b.fp()), QStringList { QStringLiteral("from Ben") }, 5000);
        QTRY_COMPARE_WITH_TIMEOUT(
            a.textsFrom(c.fp()), QStringList { QStringLiteral("from Cai") }, 5000);
        QTRY_COMPARE_WITH_TIMEOUT(a.delivered.count(), 2, 5000);

        // The conversation list: both friends, connected, on the LAN path, named by their hello.
        QTRY_VERIFY_WITH_TIMEOUT(a.friendInfo(b.fp()) && a.friendInfo(c.fp())
                && a.friendInfo(b.fp())->state == State::Connected
                && a.friendInfo(c.fp())->state == State::Connected,
            5000);
        QCOMPARE(a.friendInfo(b.fp())->name, QStringLiteral("Ben"));
        QVERIFY(a.friendInfo(b.fp())->pathKnown);
        QCOMPARE(a.friendInfo(b.fp())->path, PathKind::Lan);
        QVERIFY(a.friendInfo(b.fp())->pinnedByCode);

        // One explicit state machine per friend: the usual way up, in order.
        QCOMPARE(a.statesOf(b.fp()).first(), State::Connecting);
        QCOMPARE(a.statesOf(b.fp()).last(), State::Connected);
        QVERIFY(a.statesOf(b.fp()).contains(State::Securing));

        // Ann renames herself: both friends see the new name at once, and her code carries it.
        QSignalSpy newInfo(&a.node, &Node::localInfoReady);
        a.node.updateSettings(loopbackSettings(a.dir.path(), QStringLiteral("Annie")));
        QTRY_VERIFY_WITH_TIMEOUT(
            b.friendInfo(a.fp()) && b.friendInfo(a.fp())->name == QStringLiteral("Annie"), 5000);
        QTRY_VERIFY_WITH_TIMEOUT(
            c.friendInfo(a.fp()) && c.friendInfo(a.fp())->name == QStringLiteral("Annie"), 5000);
        QTRY_COMPARE_WITH_TIMEOUT(newInfo.count(), 1, 5000);
        QCOMPARE(newInfo.first().first().value<LocalInfo>().displayName, QStringLiteral("Annie"));
        QCOMPARE(parsePeerInput(newInfo.first().first().value<LocalInfo>().code).code->name,
            QStringLiteral("Annie"));

        // Ben leaves: only Ben's conversation changes.
        const auto cStatesBefore = a.statesOf(c.fp());
        b.node.disconnectFriend(a.fp());
        QTRY_VERIFY_WITH_TIMEOUT(
            !a.statesOf(b.fp()).isEmpty() && a.statesOf(b.fp()).last() == State::Disconnected,
            5000);
        a.node.sendChat(c.fp(), QStringLiteral("still here"));
        QTRY_COMPARE_WITH_TIMEOUT(c.textsFrom(a.fp()).size(), 2, 5000);
        QCOMPARE(a.statesOf(c.fp()), cStatesBefore);
        QTRY_VERIFY_WITH_TIMEOUT(a.friendInfo(b.fp())
                && a.friendInfo(b.fp())->state == State::Disconnected
                && a.friendInfo(b.fp())->lastSeen.isValid(),
            5000);
    }

    void outsiderClaimingAFriendCannotEndTheAttempt()
    {
        // A waits for B (pinned by B's code) before B has pasted A's. An outsider claims to be B
        // and completes its side of TLS with its own certificate, again and again.
        Peer a(QStringLiteral("Ann"));
        QTemporaryDir bDir;
        Settings bs = loopbackSettings(bDir.path(), QStringLiteral("Ben"));
        QTemporaryDir mDir;
        Error e;
        const auto outsider = Identity::loadOrCreate(mDir.path(), &e);
        QVERIFY(outsider.has_value());

        // B's identity and code exist before B runs: start it once to write its profile.
        LocalInfo bInfo;
        {
            Node b;
            QSignalSpy info(&b, &Node::localInfoReady);
            bs.port = 0;
            b.start(bs);
            QVERIFY(info.wait(10000));
            bInfo = info.first().first().value<LocalInfo>();
        }
        a.node.connectToPeer(bInfo.code);
        QTRY_VERIFY_WITH_TIMEOUT(a.statesOf(bInfo.fingerprint).contains(State::Connecting), 5000);

        std::vector<std::unique_ptr<Impostor>> impostors;
        for (int i = 0; i < 3; ++i) {
            const qsizetype before = a.statesOf(bInfo.fingerprint).count(State::Securing);
            impostors.push_back(
                std::make_unique<Impostor>(*outsider, bInfo.fingerprint, a.fp(), a.info.port));
            // A took the connection for a proof, the proof failed, and A goes on trying.
            QTRY_VERIFY_WITH_TIMEOUT(a.statesOf(bInfo.fingerprint).count(State::Securing) > before
                    && a.statesOf(bInfo.fingerprint).last() == State::Connecting,
                10000);
            // (The outsider's own TLS client may finish: TLS 1.3 checks the client's
            // certificate after the client is done. What counts is that A never accepted it.)
        }
        // Each failed proof closed only its own connection: A still tries to reach B.
        QTest::qWait(200);
        const auto states = a.statesOf(bInfo.fingerprint);
        QVERIFY(!states.contains(State::Failed));
        QVERIFY(states.last() == State::Connecting || states.last() == State::Securing);
        QCOMPARE(a.connectedTo(bInfo.fingerprint), 0);
        // Reported once for the address, not once per attempt, and never as the end of it.
        int mismatches = 0;
        for (const auto &args : std::as_const(a.errors)) {
            const Error err = args.at(1).value<Error>();
            if (err.code == ErrorCode::PeerIdentityMismatch)
                ++mismatches;
            QVERIFY2(err.code != ErrorCode::ConnectTimeout, qPrintable(err.message));
        }
        QCOMPARE(mismatches, 1);

        // The real B now comes, on its own port, while another outsider keeps trying.
        Impostor late(*outsider, bInfo.fingerprint, a.fp(), a.info.port);
        bs.port = bInfo.port;
        Node b;
        QSignalSpy bConnected(&b, &Node::connected);
        b.start(bs);
        b.connectToPeer(a.info.code);
        QTRY_COMPARE_WITH_TIMEOUT(a.connectedTo(bInfo.fingerprint), 1, 20000);
        QTRY_COMPARE_WITH_TIMEOUT(bConnected.count(), 1, 20000);
        // The connection A accepted is B's own: from B's port, carrying B's messages.
        QCOMPARE(a.connected.last().at(1).value<ConnectionInfo>().remote.port, bInfo.port);
        b.sendChat(a.fp(), QStringLiteral("the real Ben"));
        QTRY_COMPARE_WITH_TIMEOUT(
            a.textsFrom(bInfo.fingerprint), QStringList { QStringLiteral("the real Ben") }, 5000);
        QTest::qWait(300);
        QCOMPARE(a.connectedTo(bInfo.fingerprint), 1);
    }

    void stallingOutsidersCannotHoldTheFriendOut()
    {
        Peer a(QStringLiteral("Ann"));
        QTemporaryDir bDir;
        Settings bs = loopbackSettings(bDir.path(), QStringLiteral("Ben"));
        LocalInfo bInfo;
        {
            Node b;
            QSignalSpy info(&b, &Node::localInfoReady);
            b.start(bs);
            QVERIFY(info.wait(10000));
            bInfo = info.first().first().value<LocalInfo>();
        }
        a.node.connectToPeer(bInfo.code);
        QTRY_VERIFY_WITH_TIMEOUT(a.statesOf(bInfo.fingerprint).contains(State::Connecting), 5000);
        // Six stalled connections from one host, and three from another.
        Staller s1(
            bInfo.fingerprint, a.fp(), a.info.port, 6, QHostAddress(QStringLiteral("127.0.0.2")));
        Staller s2(
            bInfo.fingerprint, a.fp(), a.info.port, 3, QHostAddress(QStringLiteral("127.0.0.3")));
        QTest::qWait(1500);
        bs.port = bInfo.port;
        Node b;
        QSignalSpy bConnected(&b, &Node::connected);
        QElapsedTimer t;
        t.start();
        b.start(bs);
        b.connectToPeer(a.info.code);
        // A stalled proof holds the friend back by at most the parking time (2 s), never for the
        // whole attempt.
        QTRY_COMPARE_WITH_TIMEOUT(a.connectedTo(bInfo.fingerprint), 1, 10000);
        QTRY_COMPARE_WITH_TIMEOUT(bConnected.count(), 1, 10000);
        qInfo("the friend got in %lld ms after it started, %d + %d stalled connections so far",
            t.elapsed(), s1.opened, s2.opened);
        QVERIFY2(t.elapsed() < 8000, qPrintable(QString::number(t.elapsed())));
    }

    void outsiderCannotTakeOverALiveSession()
    {
        Peer a(QStringLiteral("Ann")), b(QStringLiteral("Ben"));
        // Plain addresses on A's side: trust on first use.
        a.node.connectToPeer(b.address().toString());
        b.node.connectToPeer(a.info.code);
        QTRY_COMPARE_WITH_TIMEOUT(a.connectedTo(b.fp()), 1, 20000);
        QVERIFY(!a.connected.first().at(1).value<ConnectionInfo>().peerPinnedByCode);
        QTRY_VERIFY_WITH_TIMEOUT(a.friendInfo(b.fp()).has_value(), 5000);
        QVERIFY(!a.friendInfo(b.fp())->pinnedByCode);

        // An outsider claims B's fingerprint while the session is up: refused at once.
        QTemporaryDir mDir;
        Error e;
        const auto outsider = Identity::loadOrCreate(mDir.path(), &e);
        QVERIFY(outsider.has_value());
        Impostor m(*outsider, b.fp(), a.fp(), a.info.port);
        QTRY_VERIFY_WITH_TIMEOUT(m.closed, 10000);
        QVERIFY(!m.tlsDone);
        // The session is B's, untouched.
        b.node.sendChat(a.fp(), QStringLiteral("it is really Ben"));
        QTRY_COMPARE_WITH_TIMEOUT(
            a.textsFrom(b.fp()), QStringList { QStringLiteral("it is really Ben") }, 5000);
        QCOMPARE(a.connectedTo(b.fp()), 1);
        QCOMPARE(a.statesOf(b.fp()).last(), State::Connected);
        // Someone with another fingerprint (nobody's) gets nowhere either.
        Impostor stranger(*outsider, QByteArray(32, '\x01'), a.fp(), a.info.port);
        QTRY_VERIFY_WITH_TIMEOUT(stranger.closed, 10000);
        QVERIFY(!stranger.tlsDone);
        QCOMPARE(a.friends.last().first().value<QList<FriendInfo>>().size(), 1);
    }
};

QTEST_GUILESS_MAIN(TestFriends)
#include "tst_friends.moc"
