// The window from the keyboard (issue 13, "Also check"): the Tab order through a conversation and
// the add-friend page, and where the focus goes after an action (it stays where the user works).
// The engine's signals are played by the test, so no network is needed.

#include "appsettings.h"
#include "chatinput.h"
#include "chatview.h"
#include "connectbar.h"
#include "conversationlist.h"
#include "engine/node.h"
#include "identity/peercode.h"
#include "mainwindow.h"
#include "noticebar.h"
#include "statusbanner.h"
#include "transferitem.h"

#include <QApplication>
#include <QLineEdit>
#include <QListWidget>
#include <QPushButton>
#include <QStandardPaths>
#include <QTemporaryDir>
#include <QTest>

using namespace Punchline;

namespace {

QByteArray fingerprintOf(char c)
{
    return QByteArray(32, c);
}

QString codeFor(const QString &name, const QByteArray &fingerprint)
{
    PeerCode code;
    code.name = name;
    code.fingerprint = fingerprint;
    code.candidates = { *Endpoint::parse(u"127.0.0.1:40001") };
    return code.encode();
}

FriendInfo friendInfo(const QString &name, const QByteArray &fingerprint, State state)
{
    FriendInfo f;
    f.fingerprint = fingerprint;
    f.name = name;
    f.state = state;
    f.pinnedByCode = true;
    f.lastSeen = QDateTime::currentDateTimeUtc();
    return f;
}

TransferInfo transfer(const QString &id, TransferDirection direction, TransferState state)
{
    TransferInfo t;
    t.id = id;
    t.direction = direction;
    t.name = QStringLiteral("notes.txt");
    t.files = { { QStringLiteral("notes.txt"), 3000 } };
    t.total = 3000;
    t.state = state;
    return t;
}

// The names of the widgets Tab visits from `from`, `count` presses.
QStringList tabWalk(QWidget *from, int count)
{
    from->setFocus(Qt::TabFocusReason);
    QStringList names;
    for (int i = 0; i < count; ++i) {
        QTest::keyClick(QApplication::focusWidget(), Qt::Key_Tab);
        QWidget *w = QApplication::focusWidget();
        names << (w ? w->objectName() : QStringLiteral("<none>"));
    }
    return names;
}

} // namespace

class TestKeyboard : public QObject
{
    Q_OBJECT

private:
    QTemporaryDir m_dir;
    const QByteArray m_sam = fingerprintOf('\x5a');
    const QByteArray m_kim = fingerprintOf('\x6b');

    Settings settingsIn(const QString &sub)
    {
        Settings s = AppSettings::defaults(m_dir.filePath(sub));
        s.portMapping = false; // tests never ask the machine's router
        s.dht = false; // never the public DHT, never multicast (the user's default is on)
        s.dhtBootstrap.clear();
        s.dhtLocalDiscovery = false;
        s.localAddresses = { QStringLiteral("127.0.0.1") };
        s.downloadDir = m_dir.filePath(sub + QStringLiteral("-downloads"));
        QDir().mkpath(s.profileDir);
        QDir().mkpath(s.downloadDir);
        return s;
    }

    static void playReady(Node &node)
    {
        LocalInfo local;
        local.displayName = QStringLiteral("Alex");
        local.fingerprint = fingerprintOf('\x11');
        local.local = { *Endpoint::parse(u"127.0.0.1:40000") };
        local.port = 40000;
        local.code = codeFor(local.displayName, local.fingerprint);
        Q_EMIT node.stateChanged(State::Ready);
        Q_EMIT node.localInfoReady(local);
    }

    void playConnected(Node &node, const QString &name, const QByteArray &fingerprint,
        const QList<FriendInfo> &others = {})
    {
        Q_EMIT node.friendStateChanged(fingerprint, State::Connecting);
        Q_EMIT node.friendStateChanged(fingerprint, State::Connected);
        ConnectionInfo info;
        info.path = PathKind::Direct;
        info.peerName = name;
        info.peerFingerprint = fingerprint;
        info.peerPinnedByCode = true;
        Q_EMIT node.connected(fingerprint, info);
        Q_EMIT node.friendsChanged(
            QList<FriendInfo> { friendInfo(name, fingerprint, State::Connected) } + others);
    }

    // A shown, active window with Sam and Kim connected and Sam's conversation open.
    void openWithTwoFriends(MainWindow &window, Node &node)
    {
        window.resize(900, 600);
        window.show();
        window.activateWindow();
        QVERIFY(QTest::qWaitForWindowActive(&window));
        playReady(node);
        Q_EMIT node.friendsChanged({});
        playConnected(node, QStringLiteral("Sam"), m_sam);
        playConnected(node, QStringLiteral("Kim"), m_kim,
            { friendInfo(QStringLiteral("Sam"), m_sam, State::Connected) });
        window.showConversation(m_sam);
        QCOMPARE(window.shownFriend(), m_sam);
    }

private Q_SLOTS:
    void initTestCase()
    {
        QStandardPaths::setTestModeEnabled(true);
        QVERIFY(m_dir.isValid());
    }

    // Tab during a conversation: the list, the messages, the message box, Send, Files…, then the
    // friend's header buttons; never a widget of the hidden add-friend page.
    void tabOrderInConversation()
    {
        Node node;
        MainWindow window(&node, settingsIn(QStringLiteral("tab-chat")));
        openWithTwoFriends(window, node);
        window.chatInput()->setPlainText(QStringLiteral("hi")); // Send enabled
        const QStringList walk = tabWalk(window.conversationList()->list(), 5);
        QCOMPARE(walk,
            QStringList({ QStringLiteral("chatView"), QStringLiteral("chatInput"),
                QStringLiteral("sendButton"), QStringLiteral("sendFilesButton"),
                QStringLiteral("friendDisconnectButton") }));
        // Shift+Tab goes back the same way.
        QTest::keyClick(QApplication::focusWidget(), Qt::Key_Backtab);
        QCOMPARE(QApplication::focusWidget(),
            window.findChild<QWidget *>(QStringLiteral("sendFilesButton")));
        // Round the window: from the header back to the top of the sidebar and the list.
        const QStringList round
            = tabWalk(window.findChild<QWidget *>(QStringLiteral("friendDisconnectButton")), 3);
        QCOMPARE(round,
            QStringList({ QStringLiteral("sidebarCopyCode"), QStringLiteral("addFriendButton"),
                QStringLiteral("conversationList") }));
    }

    // Tab on the add-friend page: the code box, then Connect.
    void tabOrderOnAddFriendPage()
    {
        Node node;
        MainWindow window(&node, settingsIn(QStringLiteral("tab-add")));
        window.show();
        window.activateWindow();
        QVERIFY(QTest::qWaitForWindowActive(&window));
        playReady(node);
        Q_EMIT node.friendsChanged({});
        window.showAddFriend();
        QCOMPARE(QApplication::focusWidget(), window.connectBar()->field());
        window.connectBar()->field()->setText(codeFor(QStringLiteral("Sam"), m_sam));
        QTest::keyClick(window.connectBar()->field(), Qt::Key_Tab);
        auto *button = qobject_cast<QPushButton *>(QApplication::focusWidget());
        QVERIFY(button);
        QCOMPARE(button->text().remove(QLatin1Char('&')), QStringLiteral("Connect"));
    }

    // Picking another conversation (a click, Enter in the list) puts the keyboard in its message
    // box; browsing the list with the arrow keys leaves it in the list.
    void switchingConversationFocusesItsMessageBox()
    {
        Node node;
        MainWindow window(&node, settingsIn(QStringLiteral("switch")));
        openWithTwoFriends(window, node);
        QListWidget *list = window.conversationList()->list();
        const int kimRow = int(window.conversationList()->order().indexOf(m_kim));
        QVERIFY(kimRow >= 0);
        list->setFocus();
        QTest::mouseClick(list->viewport(), Qt::LeftButton, {},
            list->visualItemRect(list->item(kimRow)).center());
        QCOMPARE(window.shownFriend(), m_kim);
        QCOMPARE(QApplication::focusWidget(), window.chatInput());

        list->setFocus();
        const int samRow = int(window.conversationList()->order().indexOf(m_sam));
        QTest::keyClick(list, samRow > kimRow ? Qt::Key_Down : Qt::Key_Up);
        QCOMPARE(window.shownFriend(), m_sam);
        QCOMPARE(QApplication::focusWidget(), list); // still browsing
        QTest::keyClick(list, Qt::Key_Return);
        QCOMPARE(QApplication::focusWidget(), window.chatInput());

        // Shown from elsewhere (a notification, the demo): the message box too.
        window.findChild<QWidget *>(QStringLiteral("sidebarCopyCode"))->setFocus();
        window.showConversation(m_kim);
        QCOMPARE(QApplication::focusWidget(), window.chatInput());
    }

    // Send (the button or Enter) leaves the keyboard in the message box for the next message.
    void sendKeepsFocusInMessageBox()
    {
        Node node;
        MainWindow window(&node, settingsIn(QStringLiteral("send")));
        openWithTwoFriends(window, node);
        window.chatInput()->setFocus();
        QTest::keyClicks(window.chatInput(), QStringLiteral("hello"));
        auto *send = window.findChild<QPushButton *>(QStringLiteral("sendButton"));
        QTest::mouseClick(send, Qt::LeftButton);
        QCOMPARE(window.chatInput()->toPlainText(), QString());
        QCOMPARE(QApplication::focusWidget(), window.chatInput());
        // From the keyboard: Tab to Send, Space.
        QTest::keyClicks(window.chatInput(), QStringLiteral("again"));
        send->setFocus(Qt::TabFocusReason);
        QTest::keyClick(send, Qt::Key_Space);
        QCOMPARE(window.chatInput()->toPlainText(), QString());
        QCOMPARE(QApplication::focusWidget(), window.chatInput());
    }

    // Decline and Cancel take their button away: the keyboard goes back to the message box.
    void declineAndCancelKeepFocusInChat()
    {
        Node node;
        MainWindow window(&node, settingsIn(QStringLiteral("decline")));
        openWithTwoFriends(window, node);
        Q_EMIT node.transferUpdated(
            m_sam, transfer(QStringLiteral("in-1"), TransferDirection::In, TransferState::Offered));
        TransferItem *offer = window.chatView()->transferItem(QStringLiteral("in-1"));
        QVERIFY(offer);
        QPushButton *decline = nullptr;
        for (QPushButton *b : offer->findChildren<QPushButton *>()) {
            if (b->isVisibleTo(offer)
                && b->text().remove(QLatin1Char('&')) == QStringLiteral("Decline"))
                decline = b;
        }
        QVERIFY(decline);
        decline->setFocus();
        QTest::keyClick(decline, Qt::Key_Space);
        Q_EMIT node.transferUpdated(m_sam,
            transfer(QStringLiteral("in-1"), TransferDirection::In, TransferState::Declined));
        QApplication::processEvents();
        QCOMPARE(QApplication::focusWidget(), window.chatInput());

        Q_EMIT node.transferUpdated(m_sam,
            transfer(QStringLiteral("out-1"), TransferDirection::Out, TransferState::Progress));
        TransferItem *sending = window.chatView()->transferItem(QStringLiteral("out-1"));
        QVERIFY(sending);
        QPushButton *cancel = nullptr;
        for (QPushButton *b : sending->findChildren<QPushButton *>()) {
            if (b->isVisibleTo(sending)
                && b->text().remove(QLatin1Char('&')) == QStringLiteral("Cancel"))
                cancel = b;
        }
        QVERIFY(cancel);
        cancel->setFocus();
        QTest::keyClick(cancel, Qt::Key_Space);
        Q_EMIT node.transferUpdated(m_sam,
            transfer(QStringLiteral("out-1"), TransferDirection::Out, TransferState::Canceled));
        QApplication::processEvents();
        QCOMPARE(QApplication::focusWidget(), window.chatInput());
    }

    // Connect from the add page: once connected, the keyboard is in the new conversation's
    // message box (never left in the code field, where typing would change the code).
    void connectLeadsToTheMessageBox()
    {
        Node node;
        MainWindow window(&node, settingsIn(QStringLiteral("connect")));
        window.show();
        window.activateWindow();
        QVERIFY(QTest::qWaitForWindowActive(&window));
        playReady(node);
        Q_EMIT node.friendsChanged({});
        window.showAddFriend();
        window.connectBar()->field()->setText(codeFor(QStringLiteral("Sam"), m_sam));
        QTest::keyClick(window.connectBar()->field(), Qt::Key_Return);
        playConnected(node, QStringLiteral("Sam"), m_sam);
        QCOMPARE(window.shownFriend(), m_sam);
        QCOMPARE(QApplication::focusWidget(), window.chatInput());
    }

    // A failure the banner explains is not said a second time in the notice above it, whichever
    // of the engine's signals comes first.
    void failureSaidOnce_data()
    {
        QTest::addColumn<bool>("errorFirst");
        QTest::newRow("error, then Failed") << true;
        QTest::newRow("Failed, then error") << false;
    }

    void failureSaidOnce()
    {
        QFETCH(bool, errorFirst);
        Node node;
        MainWindow window(&node, settingsIn(QStringLiteral("failed")));
        window.show();
        QVERIFY(QTest::qWaitForWindowExposed(&window));
        playReady(node);
        Q_EMIT node.friendsChanged({});
        window.connectTo(codeFor(QStringLiteral("Dana"), m_sam));
        Q_EMIT node.friendStateChanged(m_sam, State::Connecting);
        const Error error { ErrorCode::ConnectTimeout,
            QStringLiteral("No direct connection could be made") };
        const QByteArray about = m_sam;
        if (errorFirst)
            Q_EMIT node.errorOccurred(about, error);
        Q_EMIT node.friendStateChanged(m_sam, State::Failed);
        if (!errorFirst)
            Q_EMIT node.errorOccurred(about, error);
        QApplication::processEvents();
        QVERIFY(window.statusBanner()->isVisible());
        QVERIFY(window.statusBanner()->detail().contains(QStringLiteral("No direct connection")));
        const bool noticeShown = window.noticeBar()->isVisibleTo(&window);
        QVERIFY2(!noticeShown
                || !window.noticeBar()->text().contains(QStringLiteral("No direct connection")),
            qPrintable(window.noticeBar()->text()));
    }
};

QTEST_MAIN(TestKeyboard)
#include "tst_keyboard.moc"
