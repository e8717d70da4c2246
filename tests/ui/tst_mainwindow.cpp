// The window on its own: the engine's signals are played by the test (Node's signals are public),
// so these cases need no network. Two real engines on loopback are in tst_twowindows.

#include "appsettings.h"
#include "chathistory.h"
#include "chatinput.h"
#include "chatview.h"
#include "connectbar.h"
#include "conversationlist.h"
#include "engine/node.h"
#include "iconfactory.h"
#include "identity/peercode.h"
#include "mainwindow.h"
#include "messageformat.h"
#include "noticebar.h"
#include "settingsdialog.h"
#include "statusbanner.h"
#include "stuncheck.h"
#include "transferitem.h"

#include <QApplication>
#include <QCheckBox>
#include <QClipboard>
#include <QDir>
#include <QLabel>
#include <QLineEdit>
#include <QListWidget>
#include <QMimeData>
#include <QPlainTextEdit>
#include <QPushButton>
#include <QSettings>
#include <QSignalSpy>
#include <QStandardPaths>
#include <QTemporaryDir>
#include <QTest>
#include <QTreeWidget>
#include <QUrl>

#include <unistd.h>

using namespace Punchline;

namespace {

QByteArray samFingerprint()
{
    return QByteArray(32, '\x5a');
}

QByteArray kimFingerprint()
{
    return QByteArray(32, '\x4b');
}

FriendInfo friendInfo(const QString &name, const QByteArray &fingerprint, State state)
{
    FriendInfo f;
    f.fingerprint = fingerprint;
    f.name = name;
    f.state = state;
    f.pinnedByCode = true;
    if (state == State::Connected) {
        f.pathKnown = true;
        f.path = PathKind::Direct;
    }
    return f;
}

ChatMessage incomingMessage(const QString &id, const QString &text)
{
    ChatMessage m;
    m.id = id;
    m.text = text;
    m.time = QDateTime::currentDateTime();
    return m;
}

QString samCode()
{
    PeerCode code;
    code.name = QStringLiteral("Sam");
    code.fingerprint = samFingerprint();
    code.candidates
        = { *Endpoint::parse(u"127.0.0.1:40001"), *Endpoint::parse(u"192.0.2.7:40001") };
    return code.encode();
}

} // namespace

class TestMainWindow : public QObject
{
    Q_OBJECT

private:
    QTemporaryDir m_dir;
    Settings settingsIn(const QString &sub)
    {
        Settings s;
        s.profileDir = m_dir.filePath(sub);
        s.dht = false; // the friend finder stays off in every test
        s.port = 0;
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
        local.fingerprint = QByteArray(32, '\x11');
        local.local = { *Endpoint::parse(u"127.0.0.1:40000") };
        local.port = 40000;
        local.code = QStringLiteral("PL1-TEST");
        Q_EMIT node.stateChanged(State::Ready);
        Q_EMIT node.localInfoReady(local);
    }

    // Plays "connected to this friend" (the friend list follows, as the engine sends it).
    static void playFriendConnected(
        Node &node, const QString &name, const QByteArray &fingerprint, QList<FriendInfo> *known)
    {
        Q_EMIT node.friendStateChanged(fingerprint, State::Connecting);
        Q_EMIT node.friendStateChanged(fingerprint, State::Securing);
        Q_EMIT node.friendStateChanged(fingerprint, State::Connected);
        ConnectionInfo info;
        info.path = PathKind::Direct;
        info.peerName = name;
        info.peerFingerprint = fingerprint;
        info.peerPinnedByCode = true;
        Q_EMIT node.connected(fingerprint, info);
        known->removeIf([&](const FriendInfo &f) { return f.fingerprint == fingerprint; });
        FriendInfo f = friendInfo(name, fingerprint, State::Connected);
        f.lastSeen = QDateTime::currentDateTimeUtc();
        known->append(f);
        Q_EMIT node.friendsChanged(*known);
    }

    // Plays "discovery done, then connected to Sam".
    static void playConnected(Node &node, const QString &profileDir)
    {
        Q_UNUSED(profileDir)
        playReady(node);
        Q_EMIT node.friendsChanged({});
        QList<FriendInfo> known;
        playFriendConnected(node, QStringLiteral("Sam"), samFingerprint(), &known);
    }

    static QDropEvent *dropOf(const QStringList &paths, QMimeData *mime)
    {
        QList<QUrl> urls;
        for (const QString &p : paths)
            urls << QUrl::fromLocalFile(p);
        mime->setUrls(urls);
        return new QDropEvent(
            QPointF(50, 50), Qt::CopyAction, mime, Qt::LeftButton, Qt::NoModifier);
    }

private Q_SLOTS:
    void initTestCase()
    {
        QStandardPaths::setTestModeEnabled(true);
        QVERIFY(m_dir.isValid());
    }

    void peerFieldValidatesAsTyped()
    {
        Node node;
        MainWindow window(&node, settingsIn(QStringLiteral("validate")));
        Q_EMIT node.stateChanged(State::Ready);
        auto *field = window.findChild<QLineEdit *>(QStringLiteral("peerField"));
        auto *connect = window.findChild<QPushButton *>(QStringLiteral("connectButton"));
        auto *status = window.findChild<QLabel *>(QStringLiteral("peerFieldStatus"));
        QVERIFY(field && connect && status);
        QVERIFY(!connect->isEnabled()); // nothing pasted yet

        // Paste a valid code, as a user would (clipboard + Ctrl+V).
        const QString code = samCode();
        QGuiApplication::clipboard()->setText(code);
        field->setFocus();
        QTest::keySequence(field, QKeySequence::Paste);
        QCOMPARE(field->text(), code);
        QVERIFY(window.connectBar()->isInputValid());
        QVERIFY(connect->isEnabled());
        QVERIFY2(status->text().contains(QStringLiteral("Sam")), qPrintable(status->text()));
        QVERIFY(status->text().contains(QStringLiteral("valid code")));

        // One character changed on the way: the checksum catches it before Connect.
        QString damaged = code;
        const int at = int(damaged.size()) / 2;
        damaged[at] = damaged.at(at) == QLatin1Char('7') ? QLatin1Char('8') : QLatin1Char('7');
        field->selectAll();
        QGuiApplication::clipboard()->setText(damaged);
        QTest::keySequence(field, QKeySequence::Paste);
        QCOMPARE(field->text(), damaged);
        const PeerInput parsed = parsePeerInput(damaged);
        QVERIFY(!parsed.isValid());
        QVERIFY(!connect->isEnabled());
        QVERIFY(!window.connectBar()->isInputValid());
        QVERIFY2(status->text().startsWith(
                     parsed.error.message.left(1).toUpper() + parsed.error.message.mid(1, 10)),
            qPrintable(status->text()));
        QSignalSpy spy(window.connectBar(), &ConnectBar::connectRequested);
        QTest::keyClick(field, Qt::Key_Return); // Enter in the field does nothing either
        connect->click();
        QCOMPARE(spy.count(), 0);

        // Plain addresses are accepted too (trust on first use), junk is not.
        field->setText(QStringLiteral("203.0.113.9:4000, 198.51.100.2:4100"));
        QVERIFY(connect->isEnabled());
        field->setText(QStringLiteral("hello there"));
        QVERIFY(!connect->isEnabled());
        QVERIFY(!status->text().isEmpty());

        // Our own code is refused with a clear word.
        LocalInfo me;
        me.fingerprint = samFingerprint();
        me.code = code;
        me.displayName = QStringLiteral("Sam");
        Q_EMIT node.localInfoReady(me);
        field->setText(code);
        QVERIFY(!connect->isEnabled());
        QVERIFY2(status->text().contains(QStringLiteral("own code")), qPrintable(status->text()));
    }

    void stateChangesShowInStatusArea()
    {
        Node node;
        MainWindow window(&node, settingsIn(QStringLiteral("status")));
        StatusBanner *banner = window.statusBanner();
        auto *bar = window.findChild<QLabel *>(QStringLiteral("statusBarText"));
        QVERIFY(bar);

        // No friend yet: the page to paste a code is what the window shows.
        QVERIFY(window.isAddFriendShown());
        Q_EMIT node.stateChanged(State::Discovering);
        QVERIFY2(banner->headline().contains(QStringLiteral("Finding your addresses")),
            qPrintable(banner->headline()));
        playReady(node);
        Q_EMIT node.friendsChanged({});
        QVERIFY(window.isAddFriendShown());
        QVERIFY(banner->headline().contains(QStringLiteral("paste your friend's code")));
        auto *title = window.findChild<QLabel *>(QStringLiteral("addFriendTitle"));
        QVERIFY(title && title->isVisibleTo(&window));
        QCOMPARE(title->text(), QStringLiteral("Paste your friend's code"));

        // Pasting a code opens Sam's conversation at once, connecting.
        window.connectBar()->field()->setText(samCode());
        QSignalSpy spy(window.connectBar(), &ConnectBar::connectRequested);
        window.connectBar()->connectButton()->click();
        QCOMPARE(spy.count(), 1);
        QVERIFY(!window.isAddFriendShown());
        QCOMPARE(window.shownFriend(), samFingerprint());
        QVERIFY(window.conversationList()->contains(samFingerprint()));
        Q_EMIT node.friendStateChanged(samFingerprint(), State::Connecting);
        QVERIFY2(banner->headline().contains(QStringLiteral("Waiting for")),
            qPrintable(banner->headline()));
        QVERIFY(banner->headline().contains(QStringLiteral("Sam")));
        Q_EMIT node.connectProgress(samFingerprint(), ConnectProgress { 3, 2, 2500 });
        QVERIFY2(
            banner->detail().contains(QStringLiteral("Attempt 3")), qPrintable(banner->detail()));
        QVERIFY(bar->text().contains(QStringLiteral("attempt 3")));
        QVERIFY(window.findChild<QPushButton *>(QStringLiteral("friendCancelButton"))
                    ->isVisibleTo(&window));
        QVERIFY(!window.findChild<QPushButton *>(QStringLiteral("friendConnectButton"))
                     ->isVisibleTo(&window));

        Q_EMIT node.friendStateChanged(samFingerprint(), State::Securing);
        QVERIFY(banner->headline().contains(QStringLiteral("Securing")));
        Q_EMIT node.friendStateChanged(samFingerprint(), State::Connected);
        ConnectionInfo info;
        info.path = PathKind::Lan;
        info.peerName = QStringLiteral("Sam");
        info.peerFingerprint = samFingerprint();
        info.peerPinnedByCode = true;
        Q_EMIT node.connected(samFingerprint(), info);
        Q_EMIT node.rttMeasured(samFingerprint(), 42);
        QCOMPARE(window.state(), State::Connected);
        QCOMPARE(banner->headline(), QStringLiteral("Connected to \u2068Sam\u2069"));
        QVERIFY2(banner->detail().contains(QStringLiteral("42 ms")), qPrintable(banner->detail()));
        QVERIFY(banner->detail().contains(QStringLiteral("same local network")));
        QVERIFY(bar->text().contains(QStringLiteral("lan")));
        auto *presence = window.findChild<QLabel *>(QStringLiteral("chatPresence"));
        QVERIFY2(presence->text().startsWith(QStringLiteral("connected · lan")),
            qPrintable(presence->text()));
        QVERIFY(window.findChild<QPushButton *>(QStringLiteral("friendDisconnectButton"))
                    ->isVisibleTo(&window));
        QVERIFY(window.windowTitle().contains(QStringLiteral("Sam")));

        Q_EMIT node.disconnected(
            samFingerprint(), Error { ErrorCode::PeerLost, QStringLiteral("no answer for 45 s") });
        Q_EMIT node.friendStateChanged(samFingerprint(), State::Reconnecting);
        QVERIFY2(banner->headline().contains(QStringLiteral("reconnecting to")),
            qPrintable(banner->headline()));
        Q_EMIT node.connectProgress(samFingerprint(), ConnectProgress { 2, 1, 1000 });
        QVERIFY(banner->detail().contains(QStringLiteral("Attempt 2")));
        QVERIFY(window.conversationList()->list()->item(0)->text().contains(
            QStringLiteral("reconnecting…")));

        Q_EMIT node.friendStateChanged(samFingerprint(), State::Failed);
        Q_EMIT node.errorOccurred(samFingerprint(),
            Error { ErrorCode::ReconnectTimeout,
                QStringLiteral("the connection was lost and could not be restored within 600 s") });
        QCOMPARE(banner->headline(), QStringLiteral("Could not connect"));
        QVERIFY2(banner->detail().startsWith(QStringLiteral("The connection was lost")),
            qPrintable(banner->detail()));
        QVERIFY(window.findChild<QPushButton *>(QStringLiteral("friendConnectButton"))
                    ->isVisibleTo(&window)); // can try again

        // "Add friend" is always there and brings the paste box back.
        window.conversationList()->addButton()->click();
        QVERIFY(window.isAddFriendShown());
        QVERIFY(window.shownFriend().isEmpty());
    }

    void manyFriendsEachTheirConversation()
    {
        Node node;
        const Settings settings = settingsIn(QStringLiteral("many"));
        MainWindow window(&node, settings);
        QSignalSpy notified(&window, &MainWindow::notificationShown);
        QSignalSpy sent(&window, &MainWindow::sendRequested);
        playReady(node);
        QList<FriendInfo> known { friendInfo(QStringLiteral("Sam"), samFingerprint(), State::Idle),
            friendInfo(QStringLiteral("Kim"), kimFingerprint(), State::Idle) };
        Q_EMIT node.friendsChanged(known);
        ConversationList *list = window.conversationList();
        QCOMPARE(list->count(), 2);
        QVERIFY(!window.isAddFriendShown()); // friends known: a conversation, not the paste page
        playFriendConnected(node, QStringLiteral("Sam"), samFingerprint(), &known);
        playFriendConnected(node, QStringLiteral("Kim"), kimFingerprint(), &known);
        QCOMPARE(window.friendState(samFingerprint()), State::Connected);
        QCOMPARE(window.friendState(kimFingerprint()), State::Connected);

        window.showConversation(samFingerprint());
        QCOMPARE(window.shownFriend(), samFingerprint());
        const int before = int(notified.count());
        Q_EMIT node.chatReceived(
            samFingerprint(), incomingMessage(QStringLiteral("s1"), QStringLiteral("hi from Sam")));
        Q_EMIT node.chatReceived(
            kimFingerprint(), incomingMessage(QStringLiteral("k1"), QStringLiteral("hi from Kim")));
        Q_EMIT node.chatReceived(kimFingerprint(),
            incomingMessage(QStringLiteral("k2"), QStringLiteral("are you there?")));
        // Sam's message lands in the open conversation; Kim's wait, counted.
        QCOMPARE(window.chatView()->messageCount(), 1);
        QCOMPARE(window.chatView()->messages().constFirst().text, QStringLiteral("hi from Sam"));
        QCOMPARE(list->unreadCount(samFingerprint()), 0);
        QCOMPARE(list->unreadCount(kimFingerprint()), 2);
        QCOMPARE(list->entry(kimFingerprint())->lastText, QStringLiteral("are you there?"));
        QCOMPARE(list->order().constFirst(), kimFingerprint());
        QVERIFY(window.windowTitle().startsWith(QStringLiteral("(2)")));
        QVERIFY2(
            window.trayToolTip().contains(QStringLiteral("Kim")), qPrintable(window.trayToolTip()));
        QCOMPARE(window.history()->count(kimFingerprint()), 2);
        // The notification says who wrote what: "Kim: are you there?".
        QVERIFY(notified.count() >= before + 2);
        QCOMPARE(notified.last().at(1).toString(),
            MessageFormat::isolate(QStringLiteral("Kim")) + QStringLiteral(": are you there?"));

        // A message to Sam goes to Sam.
        const QString id = window.sendChatText(QStringLiteral("hello Sam"));
        QVERIFY(!id.isEmpty());
        QCOMPARE(window.history()->count(samFingerprint()), 2);
        QCOMPARE(window.history()->count(kimFingerprint()), 2);
        Q_EMIT node.chatDelivered(samFingerprint(), id);
        QVERIFY(window.chatView()->messages().constLast().delivered);

        // Picking Kim shows her conversation and clears her count.
        list->list()->setCurrentRow(int(list->order().indexOf(kimFingerprint())));
        QCOMPARE(window.shownFriend(), kimFingerprint());
        QCOMPARE(list->unreadCount(kimFingerprint()), 0);
        QCOMPARE(window.chatView()->messageCount(), 2);
        QCOMPARE(window.chatView()->messages().constFirst().text, QStringLiteral("hi from Kim"));
        QVERIFY(!window.windowTitle().startsWith(QStringLiteral("(")));

        // A file from Sam while Kim is shown: in Sam's conversation, not Kim's; Sam's count rises
        // and the notification names him and the file.
        TransferInfo offer;
        offer.id = QStringLiteral("t-sam");
        offer.direction = TransferDirection::In;
        offer.name = QStringLiteral("report.pdf");
        offer.files = { { QStringLiteral("report.pdf"), 1000 } };
        offer.total = 1000;
        offer.state = TransferState::Offered;
        Q_EMIT node.transferUpdated(samFingerprint(), offer);
        QVERIFY(!window.chatView()->transferItem(offer.id));
        QCOMPARE(list->unreadCount(samFingerprint()), 1);
        QCOMPARE(notified.last().at(0).toString(),
            MessageFormat::isolate(QStringLiteral("Sam")) + QStringLiteral(" sends ")
                + MessageFormat::isolate(QStringLiteral("report.pdf")));
        window.showConversation(samFingerprint());
        TransferItem *item = window.chatView()->transferItem(offer.id);
        QVERIFY(item);
        QVERIFY(item->acceptButton()->isVisibleTo(item));
        QCOMPARE(item->stateText(),
            MessageFormat::isolate(QStringLiteral("Sam")) + QStringLiteral(" offers this"));

        // Accepting asks Node for Sam's transfer; it lands as "report (1).pdf".
        QTemporaryDir downloads;
        const QString landed = downloads.filePath(QStringLiteral("report (1).pdf"));
        QFile out(landed);
        QVERIFY(out.open(QIODevice::WriteOnly));
        out.write(QByteArray(1000, 'r'));
        out.close();
        offer.state = TransferState::Progress;
        offer.bytes = 400;
        offer.rateBytesPerSec = 100;
        offer.etaMs = 6000;
        Q_EMIT node.transferUpdated(samFingerprint(), offer);
        QCOMPARE(window.chatView()->transferItem(offer.id), item); // the same item continues
        QVERIFY2(
            item->detailText().contains(QStringLiteral("left")), qPrintable(item->detailText()));
        offer.state = TransferState::Done;
        offer.bytes = 1000;
        offer.path = landed;
        Q_EMIT node.transferUpdated(samFingerprint(), offer);
        QCOMPARE(window.chatView()->transferItems().size(), 1);
        QCOMPARE(item->findChild<QLabel *>(QStringLiteral("transferName"))->text(),
            QStringLiteral("report (1).pdf"));
        QVERIFY2(item->detailText().contains(QStringLiteral("saved as report (1).pdf")),
            qPrintable(item->detailText()));
        QVERIFY(item->openFileButton()->isVisibleTo(item));
        QVERIFY(item->openFolderButton()->isVisibleTo(item));
        QCOMPARE(TransferItem::fileToOpen(item->info()), landed);

        // Files dropped go to the friend shown.
        QTemporaryDir data;
        const QString file = data.filePath(QStringLiteral("photo.jpg"));
        QFile f(file);
        QVERIFY(f.open(QIODevice::WriteOnly));
        f.write("p");
        f.close();
        QVERIFY(window.sendPaths({ file }));
        QCOMPARE(sent.count(), 1);

        // Kim goes offline: her conversation says so, Sam's stays usable.
        known[1].state = State::Idle;
        known[1].lastSeen = QDateTime::currentDateTimeUtc().addSecs(-120);
        Q_EMIT node.friendStateChanged(kimFingerprint(), State::Idle);
        Q_EMIT node.friendsChanged(known);
        QCOMPARE(window.friendState(kimFingerprint()), State::Idle);
        QCOMPARE(window.friendState(samFingerprint()), State::Connected);
        QVERIFY(list->entry(kimFingerprint())->info.lastSeen.isValid());
        window.showConversation(kimFingerprint());
        QVERIFY(window.sendChatText(QStringLiteral("nobody hears this")).isEmpty());
        QVERIFY(!window.sendPaths({ file }));
        QCOMPARE(sent.count(), 1);

        // Forgetting Kim: gone from the list, her history stays.
        window.forgetFriend(kimFingerprint());
        QVERIFY(!list->contains(kimFingerprint()));
        QCOMPARE(window.shownFriend(), samFingerprint());
        QCOMPARE(window.history()->count(kimFingerprint()), 2);
    }

    void dropMakesOneOffer()
    {
        Node node;
        const Settings settings = settingsIn(QStringLiteral("drop"));
        MainWindow window(&node, settings);
        playConnected(node, settings.profileDir);

        QTemporaryDir data;
        const QString file = data.filePath(QStringLiteral("photo.jpg"));
        QFile f(file);
        QVERIFY(f.open(QIODevice::WriteOnly));
        f.write(QByteArray(1000, 'p'));
        f.close();
        const QString folder = data.filePath(QStringLiteral("album"));
        QVERIFY(QDir().mkpath(folder + QStringLiteral("/inner")));

        QSignalSpy spy(&window, &MainWindow::sendRequested);
        auto *mime = new QMimeData;
        std::unique_ptr<QDropEvent> drop(dropOf({ file, folder }, mime));
        QDragEnterEvent enter(QPoint(50, 50), Qt::CopyAction, mime, Qt::LeftButton, Qt::NoModifier);
        QApplication::sendEvent(&window, &enter);
        QVERIFY(enter.isAccepted());
        QApplication::sendEvent(&window, drop.get());
        QCOMPARE(spy.count(), 1);
        QCOMPARE(spy.at(0).at(0).toStringList(), QStringList({ file, folder }));

        // Dropped on the message box: still an offer, and no path typed into the message.
        // (Qt delivers a drop only to a widget that saw the drag enter, as in real use.)
        QDragEnterEvent enterInput(
            QPoint(5, 5), Qt::CopyAction, mime, Qt::LeftButton, Qt::NoModifier);
        QApplication::sendEvent(window.chatInput()->viewport(), &enterInput);
        QVERIFY(enterInput.isAccepted());
        QApplication::sendEvent(window.chatInput()->viewport(), drop.get());
        QCOMPARE(spy.count(), 2);
        QVERIFY(window.chatInput()->toPlainText().isEmpty());
        delete mime;

        // A folder that is gone (or cannot be read): a clear message and no offer.
        auto *badMime = new QMimeData;
        std::unique_ptr<QDropEvent> bad(
            dropOf({ file, data.filePath(QStringLiteral("vanished")) }, badMime));
        QDragEnterEvent enterBad(
            QPoint(50, 50), Qt::CopyAction, badMime, Qt::LeftButton, Qt::NoModifier);
        QApplication::sendEvent(&window, &enterBad);
        QApplication::sendEvent(&window, bad.get());
        QCOMPARE(spy.count(), 2);
        QVERIFY2(window.noticeBar()->text().contains(QStringLiteral("vanished")),
            qPrintable(window.noticeBar()->text()));
        QVERIFY(window.noticeBar()->text().contains(QStringLiteral("Nothing was sent")));
        delete badMime;

        if (::geteuid() != 0) { // root reads everything
            const QString locked = data.filePath(QStringLiteral("locked"));
            QVERIFY(QDir().mkpath(locked));
            QFile::setPermissions(locked, QFileDevice::Permissions());
            QVERIFY(!window.sendPaths({ locked }));
            QCOMPARE(spy.count(), 2);
            QVERIFY(window.noticeBar()->text().contains(QStringLiteral("cannot be read")));
            QFile::setPermissions(
                locked, QFileDevice::ReadOwner | QFileDevice::WriteOwner | QFileDevice::ExeOwner);
        }

        // Not connected: nothing is offered either.
        Q_EMIT node.friendStateChanged(samFingerprint(), State::Disconnected);
        QVERIFY(!window.sendPaths({ file }));
        QCOMPARE(spy.count(), 2);
    }

    void chatEnterSendsShiftEnterBreaksLine()
    {
        Node node;
        const Settings settings = settingsIn(QStringLiteral("chat"));
        MainWindow window(&node, settings);
        playConnected(node, settings.profileDir);
        QVERIFY(window.history() && window.history()->isOpen());

        ChatInput *input = window.chatInput();
        input->setFocus();
        QTest::keyClicks(input, QStringLiteral("first line"));
        QTest::keyClick(input, Qt::Key_Return, Qt::ShiftModifier);
        QTest::keyClicks(input, QStringLiteral("second line"));
        QCOMPARE(window.chatView()->messageCount(), 0);
        QTest::keyClick(input, Qt::Key_Return);
        QCOMPARE(window.chatView()->messageCount(), 1);
        QCOMPARE(window.chatView()->messages().constFirst().text,
            QStringLiteral("first line\nsecond line"));
        QVERIFY(input->toPlainText().isEmpty());
        QVERIFY(!window.chatView()->messages().constFirst().delivered);
        QCOMPARE(window.history()->count(samFingerprint()), 1);

        // The delivered mark arrives later by id.
        const QString id = window.chatView()->messages().constFirst().id;
        Q_EMIT node.chatDelivered(samFingerprint(), id);
        QVERIFY(window.chatView()->messages().constFirst().delivered);
        QVERIFY(window.history()->messages(samFingerprint()).constFirst().delivered);

        // Peer text is never markup: shown literally, links clickable.
        ChatMessage incoming;
        incoming.id = QStringLiteral("p1");
        incoming.text = QStringLiteral("<b>bold?</b> <img src=x> see https://example.org");
        incoming.time = QDateTime::currentDateTime();
        Q_EMIT node.chatReceived(samFingerprint(), incoming);
        QCOMPARE(window.chatView()->messageCount(), 2);
        const QString shown = window.chatView()->toPlainText();
        QVERIFY2(shown.contains(QStringLiteral("<b>bold?</b> <img src=x>")), qPrintable(shown));
        QVERIFY(
            window.chatView()->toHtml().contains(QStringLiteral("href=\"https://example.org\"")));
        QCOMPARE(window.history()->count(samFingerprint()), 2);

        // Too long for one message: kept in the box, explained.
        input->setPlainText(QString(70 * 1024, QLatin1Char('x')));
        QTest::keyClick(input, Qt::Key_Return);
        QCOMPARE(window.chatView()->messageCount(), 2);
        QVERIFY(!input->toPlainText().isEmpty());
        QVERIFY(window.noticeBar()->text().contains(QStringLiteral("too long")));
    }

    void historyShownAgainForSamePeer()
    {
        const Settings settings = settingsIn(QStringLiteral("history"));
        {
            Node node;
            MainWindow window(&node, settings);
            playConnected(node, settings.profileDir);
            QVERIFY(!window.sendChatText(QStringLiteral("kept for later")).isEmpty());
        }
        Node node;
        MainWindow window(&node, settings); // the next start
        playConnected(node, settings.profileDir);
        QCOMPARE(window.chatView()->messageCount(), 1);
        QCOMPARE(window.chatView()->messages().constFirst().text, QStringLiteral("kept for later"));
    }

    void incomingOfferAndPeerLeaving()
    {
        Node node;
        const Settings settings = settingsIn(QStringLiteral("offer"));
        MainWindow window(&node, settings);
        playConnected(node, settings.profileDir);
        QSignalSpy notified(&window, &MainWindow::notificationShown);

        TransferInfo offer;
        offer.id = QStringLiteral("t-1");
        offer.direction = TransferDirection::In;
        offer.name = QStringLiteral("holiday");
        offer.files = { { QStringLiteral("holiday/a.jpg"), 2000000 },
            { QStringLiteral("holiday/b.jpg"), 3000000 },
            { QStringLiteral("holiday/<i>c</i>.txt"), 12 } };
        offer.total = 5000012;
        offer.state = TransferState::Offered;
        Q_EMIT node.transferUpdated(samFingerprint(), offer);
        TransferItem *item = window.chatView()->transferItem(offer.id);
        QVERIFY(item);
        QVERIFY(item->isVisibleTo(&window)); // inside the conversation
        QVERIFY(item->acceptButton()->isVisibleTo(item));
        auto *files = item->findChild<QTreeWidget *>(QStringLiteral("transferFiles"));
        QVERIFY(files && files->isVisibleTo(item)); // the full list, before deciding
        QCOMPARE(files->topLevelItemCount(), 3);
        QCOMPARE(files->topLevelItem(2)->text(0), QStringLiteral("holiday/<i>c</i>.txt"));
        QVERIFY(!files->topLevelItem(0)->text(1).isEmpty());
        if (!window.isActiveWindow())
            QCOMPARE(notified.count(), 1);

        // Progress, then the friend leaves: accepting now is refused with a reason.
        offer.state = TransferState::Progress;
        offer.bytes = 1000000;
        offer.rateBytesPerSec = 500000;
        offer.etaMs = 8000;
        Q_EMIT node.transferUpdated(samFingerprint(), offer);
        QVERIFY2(
            item->detailText().contains(QStringLiteral("left")), qPrintable(item->detailText()));
        offer.state = TransferState::Failed;
        offer.error = { ErrorCode::PeerClosed,
            QStringLiteral("the peer closed the connection during the transfer") };
        Q_EMIT node.transferUpdated(samFingerprint(), offer);
        QCOMPARE(item->stateText(), QStringLiteral("Failed"));
        QVERIFY2(item->detailText().contains(QStringLiteral("The peer closed the connection")),
            qPrintable(item->detailText()));

        TransferInfo second = offer;
        second.id = QStringLiteral("t-2");
        second.state = TransferState::Offered;
        second.error = {};
        Q_EMIT node.transferUpdated(samFingerprint(), second);
        Q_EMIT node.disconnected(samFingerprint(),
            Error { ErrorCode::PeerClosed, QStringLiteral("Sam closed the connection") });
        Q_EMIT node.friendStateChanged(samFingerprint(), State::Disconnected);
        QCOMPARE(window.statusBanner()->headline(),
            MessageFormat::isolate(QStringLiteral("Sam"))
                + QStringLiteral(" closed the connection"));
        window.answerOffer(second.id, true);
        QVERIFY2(window.noticeBar()->text().contains(QStringLiteral("cannot be accepted now")),
            qPrintable(window.noticeBar()->text()));

        // A resumed transfer says so.
        TransferInfo resumed = offer;
        resumed.id = QStringLiteral("t-3");
        resumed.state = TransferState::Progress;
        resumed.resumedFrom = 1000000;
        resumed.error = {};
        Q_EMIT node.transferUpdated(samFingerprint(), resumed);
        QVERIFY(window.chatView()
                    ->transferItem(resumed.id)
                    ->stateText()
                    .contains(QStringLiteral("resumed")));
        QVERIFY(window.chatView()
                    ->transferItem(resumed.id)
                    ->detailText()
                    .contains(QStringLiteral("resumed at")));
        // Every transfer of the conversation sits in its stream, none in a separate panel.
        QCOMPARE(window.chatView()->transferItems().size(), 3);
    }

    void darkPaletteIsFollowed()
    {
        // No colour is hard-coded: a dark palette shows up in the chat's HTML and in the glyphs.
        const QPalette previous = QApplication::palette();
        QPalette dark;
        dark.setColor(QPalette::Window, QColor(0x2b, 0x2b, 0x2b));
        dark.setColor(QPalette::WindowText, QColor(0xe6, 0xe6, 0xe6));
        dark.setColor(QPalette::Base, QColor(0x1e, 0x1e, 0x1e));
        dark.setColor(QPalette::AlternateBase, QColor(0x33, 0x33, 0x33));
        dark.setColor(QPalette::Text, QColor(0xe6, 0xe6, 0xe6));
        dark.setColor(QPalette::Button, QColor(0x3a, 0x3a, 0x3a));
        dark.setColor(QPalette::ButtonText, QColor(0xe6, 0xe6, 0xe6));
        dark.setColor(QPalette::Highlight, QColor(0x3d, 0x7a, 0xed));
        dark.setColor(QPalette::HighlightedText, Qt::white);
        dark.setColor(QPalette::Link, QColor(0x6f, 0xa8, 0xff));
        dark.setColor(QPalette::PlaceholderText, QColor(0x9a, 0x9a, 0x9a));
        dark.setColor(QPalette::Disabled, QPalette::ButtonText, QColor(0x70, 0x70, 0x70));
        QApplication::setPalette(dark);

        Node node;
        const Settings settings = settingsIn(QStringLiteral("dark"));
        MainWindow window(&node, settings);
        playConnected(node, settings.profileDir);
        window.sendChatText(QStringLiteral("dark mode works? https://example.org"));
        ChatMessage reply;
        reply.id = QStringLiteral("r1");
        reply.text = QStringLiteral("yes");
        reply.time = QDateTime::currentDateTime();
        Q_EMIT node.chatReceived(samFingerprint(), reply);
        TransferInfo offer;
        offer.id = QStringLiteral("d-1");
        offer.direction = TransferDirection::In;
        offer.name = QStringLiteral("notes.txt");
        offer.files = { { QStringLiteral("notes.txt"), 1234 } };
        offer.total = 1234;
        Q_EMIT node.transferUpdated(samFingerprint(), offer);

        const QString html = window.chatView()->toHtml();
        QVERIFY2(html.contains(QStringLiteral("#6fa8ff")), "own name in the palette's link colour");
        QVERIFY(html.contains(QStringLiteral("#9a9a9a"))); // times in the placeholder colour
        const QImage glyph = IconFactory::pixmap(QStringLiteral("accept"), dark, 24).toImage();
        QVERIFY(!glyph.isNull());
        bool tinted = false;
        for (int y = 0; y < glyph.height() && !tinted; ++y) {
            for (int x = 0; x < glyph.width() && !tinted; ++x) {
                const QColor c = glyph.pixelColor(x, y);
                tinted = c.alpha() == 255 && c.rgb() == dark.color(QPalette::WindowText).rgb();
            }
        }
        QVERIFY2(tinted, "glyphs are drawn in the palette's text colour");

        // For a look by eye: PUNCHLINE_UI_GRAB_DIR=/some/dir saves the window.
        const QString grabDir = qEnvironmentVariable("PUNCHLINE_UI_GRAB_DIR");
        if (!grabDir.isEmpty()) {
            window.resize(900, 640);
            window.show();
            QVERIFY(QTest::qWaitForWindowExposed(&window));
            window.grab().save(QDir(grabDir).filePath(QStringLiteral("ui-dark.png")));
        }
        QApplication::setPalette(previous);
    }

    void nameAndPortBelongToTheProfile()
    {
        const Settings settings = settingsIn(QStringLiteral("owner"));
        // An ini from an older version with a name and a port: not read any more.
        {
            QSettings old(AppSettings(settings.profileDir).path(), QSettings::IniFormat);
            old.setValue(QStringLiteral("profile/displayName"), QStringLiteral("Stale"));
            old.setValue(QStringLiteral("network/port"), 4444);
        }
        const Settings loaded = AppSettings(settings.profileDir).load();
        QCOMPARE(loaded.port, -1);
        QVERIFY(loaded.displayName.isEmpty());

        Node node;
        MainWindow window(&node, settings);
        playReady(node);
        Settings chosen = window.settings();
        chosen.displayName = QStringLiteral("Alexandra");
        chosen.port = 40100;
        chosen.keepaliveIntervalMs = 20000;
        QVERIFY(window.applySettings(chosen));
        // The window shows the new name; its own file keeps only what it owns.
        QCOMPARE(window.localInfo().displayName, QStringLiteral("Alexandra"));
        QVERIFY(window.windowTitle().contains(QStringLiteral("Alexandra")));
        const QSettings ini(AppSettings(settings.profileDir).path(), QSettings::IniFormat);
        QCOMPARE(ini.value(QStringLiteral("network/keepaliveSeconds")).toInt(), 20);
        QCOMPARE(
            ini.value(QStringLiteral("profile/displayName")).toString(), QStringLiteral("Stale"));
        QCOMPARE(ini.value(QStringLiteral("network/port")).toInt(), 4444); // untouched, unread
        QCOMPARE(window.settings().port, settings.port); // this run's port is the engine's
        QVERIFY2(window.noticeBar()->text().contains(QStringLiteral("next time")),
            qPrintable(window.noticeBar()->text()));

        // The dialog shows the profile's name and port (LocalInfo) and says when a port applies.
        Settings shown = window.settings();
        shown.displayName = window.localInfo().displayName;
        shown.port = window.localInfo().port;
        SettingsDialog dialog(shown);
        QCOMPARE(dialog.findChild<QLineEdit *>(QStringLiteral("displayNameField"))->text(),
            QStringLiteral("Alexandra"));
        auto *note = dialog.findChild<QLabel *>(QStringLiteral("portNote"));
        QVERIFY(note && note->text().contains(QStringLiteral("next time")));
    }

    void portMappingCheckbox()
    {
        Settings s = settingsIn(QStringLiteral("mapping"));
        s.downloadDir = m_dir.filePath(QStringLiteral("mapping-downloads"));
        QDir().mkpath(s.downloadDir);
        s.portMapping = true;
        SettingsDialog dialog(s);
        auto *box = dialog.findChild<QCheckBox *>(QStringLiteral("portMappingEnabled"));
        QVERIFY(box);
        QVERIFY(box->isChecked());
        box->setChecked(false);
        dialog.accept();
        QCOMPARE(dialog.result(), int(QDialog::Accepted));
        QVERIFY(!dialog.settings().portMapping);
        // Saved and read back like every other network setting.
        QVERIFY(AppSettings(s.profileDir).save(dialog.settings()));
        QVERIFY(!AppSettings(s.profileDir).load().portMapping);
    }

    void settingsRefuseBadValues()
    {
        Settings s = settingsIn(QStringLiteral("settings"));
        s.stunServers = { QStringLiteral("stun.example.org:3478") };
        s.downloadDir = m_dir.filePath(QStringLiteral("settings-downloads"));
        SettingsDialog dialog(s);
        auto *downloads = dialog.findChild<QLineEdit *>(QStringLiteral("downloadDirField"));
        QVERIFY(downloads);

        // A file where a folder should be: explained, dialog stays, nothing changes.
        const QString notAFolder = m_dir.filePath(QStringLiteral("plain-file"));
        QFile f(notAFolder);
        QVERIFY(f.open(QIODevice::WriteOnly));
        f.close();
        downloads->setText(notAFolder);
        dialog.accept();
        QCOMPARE(dialog.result(), int(QDialog::Rejected));
        QVERIFY2(dialog.errorText().contains(QStringLiteral("not a folder")),
            qPrintable(dialog.errorText()));
        QCOMPARE(dialog.settings().downloadDir, s.downloadDir);

        downloads->setText(s.downloadDir);
        auto *stun = dialog.findChild<QPlainTextEdit *>(QStringLiteral("stunField"));
        stun->setPlainText(QStringLiteral("stun.example.org:3478\nnot a server"));
        dialog.accept();
        QCOMPARE(dialog.result(), int(QDialog::Rejected));
        QVERIFY(dialog.errorText().contains(QStringLiteral("not a server")));

        // The dialog checks with core's parser: what it accepts, the engine can use.
        stun->setPlainText(QStringLiteral("user@stun.example.org:3478"));
        dialog.accept();
        QCOMPARE(dialog.result(), int(QDialog::Rejected));
        QVERIFY2(dialog.errorText().contains(QStringLiteral("is not a STUN server")),
            qPrintable(dialog.errorText()));
        QVERIFY(!checkStunServer(QStringLiteral("10.1:3478")).isEmpty());
        QVERIFY(checkStunServer(QStringLiteral("[2001:db8::1]:3478")).isEmpty());

        stun->setPlainText(QStringLiteral("stun.example.org:3478\n\nstun2.example.org:443"));
        dialog.accept();
        QCOMPARE(dialog.result(), int(QDialog::Accepted));
        QCOMPARE(dialog.settings().stunServers,
            QStringList({ QStringLiteral("stun.example.org:3478"),
                QStringLiteral("stun2.example.org:443") }));

        QVERIFY(SettingsDialog::checkDownloadDir(QStringLiteral("/proc/definitely/not/here")).size()
            > 0);
    }
};

QTEST_MAIN(TestMainWindow)
#include "tst_mainwindow.moc"
