// What the window says about how a friend is reached: the remote address of a connection (IPv6
// in brackets). The engine's signals are played by the test, so no network is used.

#include "engine/node.h"
#include "identity/peercode.h"
#include "mainwindow.h"
#include "statusbanner.h"

#include <QDir>
#include <QStandardPaths>
#include <QTemporaryDir>
#include <QTest>

using namespace Punchline;

namespace {

QByteArray samFingerprint()
{
    return QByteArray(32, '\x5a');
}

LocalInfo readyInfo()
{
    LocalInfo local;
    local.displayName = QStringLiteral("Alex");
    local.fingerprint = QByteArray(32, '\x11');
    local.local = { *Endpoint::parse(u"127.0.0.1:40000") };
    local.port = 40000;
    local.code = QStringLiteral("PL1-TEST");
    return local;
}

} // namespace

class TestReach : public QObject
{
    Q_OBJECT

private:
    QTemporaryDir m_dir;
    Settings settingsIn(const QString &sub)
    {
        Settings s;
        s.profileDir = m_dir.filePath(sub);
        s.port = 0;
        s.localAddresses = { QStringLiteral("127.0.0.1") };
        s.downloadDir = m_dir.filePath(sub + QStringLiteral("-downloads"));
        QDir().mkpath(s.profileDir);
        QDir().mkpath(s.downloadDir);
        return s;
    }

    static void playConnected(Node &node, const Endpoint &remote)
    {
        Q_EMIT node.stateChanged(State::Ready);
        Q_EMIT node.localInfoReady(readyInfo());
        Q_EMIT node.friendsChanged({});
        Q_EMIT node.friendStateChanged(samFingerprint(), State::Connecting);
        Q_EMIT node.friendStateChanged(samFingerprint(), State::Connected);
        ConnectionInfo info;
        info.path = PathKind::Direct;
        info.remote = remote;
        info.peerName = QStringLiteral("Sam");
        info.peerFingerprint = samFingerprint();
        info.peerPinnedByCode = true;
        Q_EMIT node.connected(samFingerprint(), info);
        FriendInfo f;
        f.fingerprint = samFingerprint();
        f.name = QStringLiteral("Sam");
        f.state = State::Connected;
        f.pinnedByCode = true;
        f.pathKnown = true;
        f.path = PathKind::Direct;
        f.remote = remote;
        Q_EMIT node.friendsChanged({ f });
    }

private Q_SLOTS:
    void initTestCase()
    {
        QVERIFY(m_dir.isValid());
        QStandardPaths::setTestModeEnabled(true);
    }

    void ipv6RemoteIsShownInBrackets()
    {
        Node node;
        MainWindow window(&node, settingsIn(QStringLiteral("v6")));
        playConnected(node, *Endpoint::parse(u"[2001:db8:b::10]:42000"));
        QCOMPARE(window.state(), State::Connected);
        const QString detail = window.statusBanner()->detail();
        QVERIFY2(detail.contains(QStringLiteral("to [2001:db8:b::10]:42000 over IPv6")),
            qPrintable(detail));
        QVERIFY2(
            detail.contains(QStringLiteral("directly through both routers")), qPrintable(detail));
    }

    void ipv4RemoteIsShownPlain()
    {
        Node node;
        MainWindow window(&node, settingsIn(QStringLiteral("v4")));
        playConnected(node, *Endpoint::parse(u"203.0.113.18:42000"));
        const QString detail = window.statusBanner()->detail();
        QVERIFY2(detail.contains(QStringLiteral("to 203.0.113.18:42000")), qPrintable(detail));
        QVERIFY2(!detail.contains(QStringLiteral("IPv6")), qPrintable(detail));
    }
};

QTEST_MAIN(TestReach)
#include "tst_reach.moc"
