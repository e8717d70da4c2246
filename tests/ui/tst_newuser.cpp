// The window as a new user finds it (issue 13): dropping, first start, focus, quitting, names,
// one-run options, sizes, messages, received files and the code. The engine's signals are played
// by the test, so no network is needed.

#include "appsettings.h"
#include "chatinput.h"
#include "chatview.h"
#include "connectbar.h"
#include "conversationlist.h"
#include "engine/node.h"
#include "identity/peercode.h"
#include "localinfopanel.h"
#include "mainwindow.h"
#include "noticebar.h"
#include "settingsdialog.h"
#include "statusbanner.h"
#include "transferitem.h"

#include <QAction>
#include <QApplication>
#include <QClipboard>
#include <QDialog>
#include <QLabel>
#include <QLineEdit>
#include <QListWidget>
#include <QMenu>
#include <QMessageBox>
#include <QMimeData>
#include <QPushButton>
#include <QScreen>
#include <QSettings>
#include <QSplitter>
#include <QStandardPaths>
#include <QTemporaryDir>
#include <QTest>
#include <QTimer>
#include <QUrl>

using namespace Punchline;

namespace {

QByteArray samFingerprint()
{
    return QByteArray(32, '\x5a');
}

QByteArray myFingerprint()
{
    return QByteArray(32, '\x11');
}

QString codeFor(const QString &name, const QByteArray &fingerprint)
{
    PeerCode code;
    code.name = name;
    code.fingerprint = fingerprint;
    code.candidates
        = { *Endpoint::parse(u"127.0.0.1:40001"), *Endpoint::parse(u"192.0.2.7:40001") };
    return code.encode();
}

FriendInfo friendInfo(const QString &name, State state)
{
    FriendInfo f;
    f.fingerprint = samFingerprint();
    f.name = name;
    f.state = state;
    f.pinnedByCode = true;
    f.lastSeen = QDateTime::currentDateTimeUtc();
    return f;
}

TransferInfo incoming(const QString &id, TransferState state, qint64 bytes)
{
    TransferInfo t;
    t.id = id;
    t.direction = TransferDirection::In;
    t.name = QStringLiteral("film.mkv");
    t.files = { { QStringLiteral("film.mkv"), 3000 } };
    t.total = 3000;
    t.bytes = bytes;
    t.state = state;
    return t;
}

// Clicks the button with this object name in the first message box that opens.
void answerNextMessageBox(const QString &button)
{
    QTimer::singleShot(0, qApp, [button] {
        for (QWidget *w : QApplication::topLevelWidgets()) {
            if (auto *box = qobject_cast<QMessageBox *>(w); box && box->isVisible()) {
                if (auto *b = box->findChild<QPushButton *>(button))
                    b->click();
                else
                    box->reject();
                return;
            }
        }
    });
}

} // namespace

class TestNewUser : public QObject
{
    Q_OBJECT

private:
    QTemporaryDir m_dir;

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

    static void playReady(Node &node, const QString &name = QStringLiteral("Alex"))
    {
        LocalInfo local;
        local.displayName = name;
        local.fingerprint = myFingerprint();
        local.local = { *Endpoint::parse(u"127.0.0.1:40000") };
        local.port = 40000;
        local.code = codeFor(name, myFingerprint());
        Q_EMIT node.stateChanged(State::Ready);
        Q_EMIT node.localInfoReady(local);
    }

    static void playConnected(Node &node, const QString &name = QStringLiteral("Sam"))
    {
        playReady(node);
        Q_EMIT node.friendsChanged({});
        Q_EMIT node.friendStateChanged(samFingerprint(), State::Connecting);
        Q_EMIT node.friendStateChanged(samFingerprint(), State::Connected);
        ConnectionInfo info;
        info.path = PathKind::Direct;
        info.peerName = name;
        info.peerFingerprint = samFingerprint();
        info.peerPinnedByCode = true;
        Q_EMIT node.connected(samFingerprint(), info);
        Q_EMIT node.friendsChanged({ friendInfo(name, State::Connected) });
    }

private Q_SLOTS:
    void initTestCase()
    {
        QStandardPaths::setTestModeEnabled(true);
        QVERIFY(m_dir.isValid());
    }

    // 1. The drop overlay covers the chat and takes part in no layout: nothing moves or grows.
    void dropOverlayTakesNoSpace()
    {
        Node node;
        MainWindow window(&node, settingsIn(QStringLiteral("drop")));
        window.resize(700, 500);
        window.show();
        QVERIFY(QTest::qWaitForWindowExposed(&window));
        playConnected(node);
        auto *splitter = window.findChild<QSplitter *>(QStringLiteral("mainSplitter"));
        QVERIFY(splitter);
        const QRect before = window.geometry();
        const QList<int> sizesBefore = splitter->sizes();

        QTemporaryDir data;
        const QString file = data.filePath(QStringLiteral("photo.jpg"));
        QFile f(file);
        QVERIFY(f.open(QIODevice::WriteOnly));
        f.write("jpeg");
        f.close();
        QMimeData mime;
        mime.setUrls({ QUrl::fromLocalFile(file) });
        QDragEnterEvent enter(QPoint(400, 200), Qt::CopyAction, &mime, Qt::LeftButton, {});
        QApplication::sendEvent(&window, &enter);
        QApplication::processEvents();
        auto *overlay = window.findChild<QLabel *>(QStringLiteral("dropOverlay"));
        QVERIFY(overlay && overlay->isVisible());
        QCOMPARE(splitter->count(), 2); // not a third column
        QCOMPARE(window.geometry(), before);
        QCOMPARE(splitter->sizes(), sizesBefore);
        QCOMPARE(overlay->geometry(), overlay->parentWidget()->rect()); // covers the chat side
        QVERIFY(overlay->parentWidget()->isAncestorOf(window.chatView()));

        QDropEvent drop(QPointF(400, 200), Qt::CopyAction, &mime, Qt::LeftButton, {});
        QApplication::sendEvent(&window, &drop);
        QApplication::processEvents();
        QVERIFY(!overlay->isVisible());
        QCOMPARE(window.geometry(), before);
        QCOMPARE(splitter->count(), 2);
    }

    // 3. "Copy my code" and Ctrl+Shift+C work as soon as there is a code.
    void copyCodeWorksAtFirstStart()
    {
        Node node;
        MainWindow window(&node, settingsIn(QStringLiteral("copy")));
        auto *action = window.findChild<QAction *>(QStringLiteral("copyCodeAction"));
        auto *sidebarCopy = window.findChild<QPushButton *>(QStringLiteral("sidebarCopyCode"));
        QVERIFY(action && sidebarCopy);
        QVERIFY(!action->isEnabled()); // no code yet
        playReady(node);
        QVERIFY(action->isEnabled());
        QVERIFY(sidebarCopy->isEnabled());
        QCOMPARE(action->shortcut(), QKeySequence(Qt::CTRL | Qt::SHIFT | Qt::Key_C));
        QGuiApplication::clipboard()->clear();
        action->trigger();
        QCOMPARE(QGuiApplication::clipboard()->text(), window.localInfo().code);
    }

    // 4. Accepting a file leaves the keyboard in the chat, never in the friend's-code field.
    void acceptKeepsFocusInChat()
    {
        Node node;
        MainWindow window(&node, settingsIn(QStringLiteral("focus")));
        window.show();
        window.activateWindow();
        QVERIFY(QTest::qWaitForWindowActive(&window));
        playConnected(node);
        window.connectBar()->field()->setText(QStringLiteral("203.0.113.9:4000"));
        Q_EMIT node.transferUpdated(
            samFingerprint(), incoming(QStringLiteral("f-1"), TransferState::Offered, 0));
        TransferItem *item = window.chatView()->transferItem(QStringLiteral("f-1"));
        QVERIFY(item);
        item->acceptButton()->setFocus();
        QTRY_COMPARE(QApplication::focusWidget(), item->acceptButton());
        QTest::keyClick(item->acceptButton(), Qt::Key_Space); // "press" Accept
        Q_EMIT node.transferUpdated(
            samFingerprint(), incoming(QStringLiteral("f-1"), TransferState::Progress, 100));
        QApplication::processEvents();
        QCOMPARE(QApplication::focusWidget(), window.chatInput());
        QTest::keyClicks(QApplication::focusWidget(), QStringLiteral("thanks"));
        QCOMPARE(window.chatInput()->toPlainText(), QStringLiteral("thanks"));
        QCOMPARE(window.connectBar()->field()->text(), QStringLiteral("203.0.113.9:4000"));
    }

    // 5. Quitting while transfers run asks first; "Keep Running" keeps the window.
    void quitAsksWhileTransfersRun()
    {
        Node node;
        MainWindow window(&node, settingsIn(QStringLiteral("quit")));
        window.setCloseToTray(false);
        window.show();
        QVERIFY(QTest::qWaitForWindowExposed(&window));
        playConnected(node);
        Q_EMIT node.transferUpdated(
            samFingerprint(), incoming(QStringLiteral("q-1"), TransferState::Progress, 2000));
        QCOMPARE(window.runningTransferCount(), 1);
        answerNextMessageBox(QStringLiteral("keepRunning"));
        QVERIFY(!window.close());
        QVERIFY(window.isVisible());
        answerNextMessageBox(QStringLiteral("quitAnyway"));
        QVERIFY(window.close());
        QVERIFY(!window.isVisible());
    }

    // 5. The receiver's transfer pauses while the friend is away and continues as one entry,
    // also when the restarted sender offers the same files under a new id.
    void receiverShowsPausedAndOneEntry()
    {
        Node node;
        MainWindow window(&node, settingsIn(QStringLiteral("paused")));
        playConnected(node);
        Q_EMIT node.transferUpdated(
            samFingerprint(), incoming(QStringLiteral("p-1"), TransferState::Progress, 2000));
        TransferItem *item = window.chatView()->transferItem(QStringLiteral("p-1"));
        QVERIFY(item);
        QCOMPARE(item->stateText(), QStringLiteral("Receiving"));
        Q_EMIT node.disconnected(
            samFingerprint(), Error { ErrorCode::PeerClosed, QStringLiteral("Sam left") });
        Q_EMIT node.friendStateChanged(samFingerprint(), State::Disconnected);
        QVERIFY2(
            item->stateText().contains(QStringLiteral("Paused")), qPrintable(item->stateText()));
        QVERIFY(item->stateText().contains(QStringLiteral("Sam")));
        QVERIFY(item->isPaused());

        // The sender restarted: the same files under a new id. One entry, not "Failed" + new.
        Q_EMIT node.friendStateChanged(samFingerprint(), State::Connected);
        Q_EMIT node.transferUpdated(
            samFingerprint(), incoming(QStringLiteral("p-2"), TransferState::Offered, 0));
        TransferInfo superseded = incoming(QStringLiteral("p-1"), TransferState::Failed, 2000);
        superseded.error = { ErrorCode::Canceled,
            QStringLiteral("The sender offered the same files again; continuing there.") };
        Q_EMIT node.transferUpdated(samFingerprint(), superseded);
        QCOMPARE(window.chatView()->transferItems().size(), 1);
        TransferItem *continued = window.chatView()->transferItems().constFirst();
        QCOMPARE(continued->info().id, QStringLiteral("p-2"));
        TransferInfo resumed = incoming(QStringLiteral("p-2"), TransferState::Progress, 2500);
        resumed.resumedFrom = 2000;
        Q_EMIT node.transferUpdated(samFingerprint(), resumed);
        QVERIFY(!continued->stateText().contains(QStringLiteral("Failed")));
        QCOMPARE(window.runningTransferCount(), 1);
    }

    // 5 / also check: the tray menu reaches what the window's menus do.
    void trayMenuHasTheEverydayActions()
    {
        Node node;
        MainWindow window(&node, settingsIn(QStringLiteral("tray")));
        QVERIFY(window.trayMenu());
        QStringList texts;
        for (QAction *a : window.trayMenu()->actions())
            texts << a->text().remove(QLatin1Char('&'));
        for (const char *expected : { "Show Punchline", "Add Friend…", "Copy My Code", "Quit" })
            QVERIFY2(texts.contains(QString::fromUtf8(expected)), qPrintable(texts.join(u'|')));
        QVERIFY(AppSettings(window.settings().profileDir).closeToTray()); // default on
    }

    // 6. A new name shows everywhere at once, from one place.
    void renameShowsEverywhere()
    {
        Node node;
        MainWindow window(&node, settingsIn(QStringLiteral("rename")));
        playConnected(node);
        Settings chosen = window.savedSettings();
        chosen.displayName = QStringLiteral("Alexandra");
        chosen.port = -1;
        QVERIFY(window.applySettings(chosen));
        auto *panelName = window.findChild<QLabel *>(QStringLiteral("myName"));
        auto *sidebarName = window.findChild<QLabel *>(QStringLiteral("sidebarMyName"));
        QVERIFY(panelName && sidebarName);
        QCOMPARE(panelName->text(), QStringLiteral("Alexandra"));
        QCOMPARE(sidebarName->text(), QStringLiteral("Alexandra"));
        QVERIFY(window.windowTitle().contains(QStringLiteral("Alexandra")));

        // The friend renames: title, header, banner and transfers follow.
        Q_EMIT node.transferUpdated(
            samFingerprint(), incoming(QStringLiteral("r-1"), TransferState::Offered, 0));
        Q_EMIT node.friendsChanged({ friendInfo(QStringLiteral("Samuel"), State::Connected) });
        auto *chatTitle = window.findChild<QLabel *>(QStringLiteral("chatTitle"));
        QVERIFY(chatTitle->text().contains(QStringLiteral("Samuel")));
        QVERIFY(window.windowTitle().contains(QStringLiteral("Samuel")));
        QVERIFY(window.chatView()
                    ->transferItem(QStringLiteral("r-1"))
                    ->stateText()
                    .contains(QStringLiteral("Samuel")));
        Q_EMIT node.friendStateChanged(samFingerprint(), State::Reconnecting);
        QVERIFY2(window.statusBanner()->headline().contains(QStringLiteral("Samuel")),
            qPrintable(window.statusBanner()->headline()));

        // A new address is not the previous friend.
        window.connectTo(QStringLiteral("203.0.113.9:4000"));
        QVERIFY(window.isAddFriendShown());
        QVERIFY2(!window.statusBanner()->headline().contains(QStringLiteral("Sam")),
            qPrintable(window.statusBanner()->headline()));
    }

    // 6. A first start with the default name asks for one; tests and the demo are not asked.
    void firstStartAsksForName()
    {
        {
            Node node;
            MainWindow window(&node, settingsIn(QStringLiteral("unasked")));
            playReady(node, QStringLiteral("Friend"));
            QTest::qWait(50);
            QVERIFY(!window.findChild<QDialog *>(QStringLiteral("firstStartDialog")));
        }
        Node node;
        MainWindow window(&node, settingsIn(QStringLiteral("firststart")));
        window.setAskForName(true);
        window.show();
        playReady(node, QStringLiteral("Friend"));
        QDialog *dialog = nullptr;
        QTRY_VERIFY((dialog = window.findChild<QDialog *>(QStringLiteral("firstStartDialog"))));
        auto *field = dialog->findChild<QLineEdit *>(QStringLiteral("firstStartName"));
        QVERIFY(field);
        field->setText(QStringLiteral("Robin"));
        dialog->accept();
        QCOMPARE(window.localInfo().displayName, QStringLiteral("Robin"));
        QVERIFY(window.windowTitle().contains(QStringLiteral("Robin")));
        QVERIFY(AppSettings(window.settings().profileDir).nameChosen());
    }

    // 7. Command-line choices are for this run: Settings neither shows nor saves them, and says
    // only what changed.
    void oneRunOptionsAreNotSaved()
    {
        Node node;
        const Settings saved = settingsIn(QStringLiteral("onerun"));
        MainWindow window(&node, saved);
        NetworkOptions oneRun;
        oneRun.stunServers = QStringList();
        oneRun.ipEchoUrl = QString();
        window.setOneRunOptions(oneRun);
        QVERIFY(window.settings().stunServers.isEmpty()); // this run: no STUN
        QVERIFY(window.settings().ipEchoUrl.isEmpty());
        playReady(node);

        QTimer::singleShot(0, &window, [] {
            auto *dialog = qobject_cast<SettingsDialog *>(QApplication::activeModalWidget());
            if (!dialog)
                return;
            dialog->findChild<QLineEdit *>(QStringLiteral("displayNameField"))
                ->setText(QStringLiteral("Alexis"));
            auto *note = dialog->findChild<QLabel *>(QStringLiteral("oneRunNote"));
            if (note && note->isVisibleTo(dialog)
                && note->text().contains(QStringLiteral("--stun")))
                dialog->setProperty("noteSeen", true);
            dialog->accept();
        });
        window.openSettings();
        const QSettings ini(AppSettings(saved.profileDir).path(), QSettings::IniFormat);
        QCOMPARE(ini.value(QStringLiteral("network/stunServers")).toStringList(),
            Settings::defaultStunServers());
        QCOMPARE(ini.value(QStringLiteral("network/ipEchoUrl")).toString(),
            Settings::defaultIpEchoUrl());
        QCOMPARE(window.localInfo().displayName, QStringLiteral("Alexis"));
        QVERIFY(window.settings().stunServers.isEmpty()); // still this run's choice
        const bool noticeShown = window.noticeBar()->isVisibleTo(&window);
        QVERIFY2(!noticeShown
                || (!window.noticeBar()->text().contains(QStringLiteral("port"))
                    && !window.noticeBar()->text().contains(QStringLiteral("discovery"))),
            qPrintable(window.noticeBar()->text()));
    }

    // 8. The first size fits the screen (also at 2×: 1400×900 is 700×450 logical).
    void firstSizeFitsTheScreen()
    {
        const QSize at2x = MainWindow::initialSize(QSize(700, 450));
        QVERIFY(at2x.width() <= 700 && at2x.height() <= 450);
        QCOMPARE(MainWindow::initialSize(QSize(1920, 1050)), QSize(1100, 720));
        Node node;
        MainWindow window(&node, settingsIn(QStringLiteral("size")));
        const QRect area = QGuiApplication::primaryScreen()->availableGeometry();
        QVERIFY2(area.contains(window.geometry()),
            qPrintable(QStringLiteral("%1x%2 on %3x%4")
                           .arg(window.width())
                           .arg(window.height())
                           .arg(area.width())
                           .arg(area.height())));
    }

    // 8. At 700×500 the conversation gets the space; the sidebar gives way and can collapse.
    void smallWindowGivesChatTheSpace()
    {
        Node node;
        MainWindow window(&node, settingsIn(QStringLiteral("small")));
        window.resize(700, 500);
        window.show();
        QVERIFY(QTest::qWaitForWindowExposed(&window));
        playConnected(node);
        QApplication::processEvents();
        auto *splitter = window.findChild<QSplitter *>(QStringLiteral("mainSplitter"));
        const QList<int> sizes = splitter->sizes();
        QVERIFY2(sizes.at(0) <= 700 * 3 / 10 + 1, qPrintable(QString::number(sizes.at(0))));
        QVERIFY(sizes.at(1) > 2 * sizes.at(0));
        QVERIFY2(window.chatView()->height() >= 180,
            qPrintable(QString::number(window.chatView()->height())));
        auto *toggle = window.findChild<QAction *>(QStringLiteral("sidebarAction"));
        QVERIFY(toggle && toggle->isChecked());
        toggle->trigger();
        QCOMPARE(splitter->sizes().at(0), 0);
        toggle->trigger();
        QVERIFY(splitter->sizes().at(0) > 0);
    }

    // 9. One short sentence for a damaged code and for garbage; old notices go.
    void shortMessagesAndNoStaleNotices()
    {
        Node node;
        MainWindow window(&node, settingsIn(QStringLiteral("messages")));
        playConnected(node);
        QString damaged = codeFor(QStringLiteral("Sam"), samFingerprint());
        const int at = int(damaged.size()) / 2;
        damaged[at] = damaged.at(at) == QLatin1Char('7') ? QLatin1Char('8') : QLatin1Char('7');
        window.showAddFriend();
        window.connectBar()->field()->setText(damaged);
        const QString text = window.connectBar()->validationText();
        QCOMPARE(text.count(QLatin1Char('.')), 1); // one sentence
        window.connectBar()->field()->setText(QStringLiteral("hello there, this is not it"));
        const QString garbage = window.connectBar()->validationText();
        QVERIFY2(garbage.size() < 110 && garbage.count(QLatin1Char('.')) == 1, qPrintable(garbage));

        // "Too long" goes once the box is cleared.
        window.showConversation(samFingerprint());
        window.chatInput()->setPlainText(QString(70 * 1024, QLatin1Char('x')));
        QVERIFY(window.sendChatText(window.chatInput()->toPlainText()).isEmpty());
        QVERIFY(window.noticeBar()->isVisibleTo(&window));
        window.chatInput()->clear();
        QVERIFY(!window.noticeBar()->isVisibleTo(&window));

        // The list says "reconnecting", not "connected", while reconnecting.
        Q_EMIT node.friendStateChanged(samFingerprint(), State::Reconnecting);
        const QString entry = window.conversationList()
                                  ->findChild<QListWidget *>()
                                  ->item(0)
                                  ->data(Qt::AccessibleTextRole)
                                  .toString();
        QVERIFY2(entry.contains(QStringLiteral("reconnecting")), qPrintable(entry));
    }

    // 10. "Open folder" without a file manager says so and shows the path.
    void openFolderWithoutFileManagerSaysWhere()
    {
        if (!QStandardPaths::findExecutable(QStringLiteral("xdg-open")).isEmpty())
            QSKIP("a desktop opener is installed; it would open a real file manager");
        Node node;
        MainWindow window(&node, settingsIn(QStringLiteral("open")));
        playConnected(node);
        const QString landed = window.settings().downloadDir + QStringLiteral("/small (1).txt");
        QFile f(landed);
        QVERIFY(f.open(QIODevice::WriteOnly));
        f.write("x");
        f.close();
        TransferInfo done = incoming(QStringLiteral("o-1"), TransferState::Done, 1);
        done.name = QStringLiteral("small.txt");
        done.files = { { QStringLiteral("small.txt"), 1 } };
        done.total = 1;
        done.path = landed;
        Q_EMIT node.transferUpdated(samFingerprint(), done);
        TransferItem *item = window.chatView()->transferItem(QStringLiteral("o-1"));
        QVERIFY(item->findChild<QLabel *>(QStringLiteral("transferName"))
                    ->text()
                    .contains(QStringLiteral("small (1).txt")));
        QVERIFY(item->openFileButton()->isVisibleTo(item));
        item->openFolderButton()->click();
        QVERIFY2(window.noticeBar()->text().contains(
                     QDir::toNativeSeparators(window.settings().downloadDir)),
            qPrintable(window.noticeBar()->text()));
    }

    // The "You" panel says what the router said to port mapping; the row is hidden while port
    // mapping is off (no status).
    void routerPortMappingShown()
    {
        Node node;
        MainWindow window(&node, settingsIn(QStringLiteral("mapping")));
        window.show();
        playReady(node);
        auto *panel = window.findChild<LocalInfoPanel *>();
        QVERIFY(panel);
        auto *label = panel->findChild<QLabel *>(QStringLiteral("myPortMapping"));
        QVERIFY(label);
        QVERIFY(!label->isVisibleTo(panel));
        LocalInfo local = panel->localInfo();
        local.mappingStatus = QStringLiteral("your router opened port 41002 (UPnP)");
        local.mappedEndpoint = *Endpoint::parse(u"203.0.113.2:41002");
        Q_EMIT node.localInfoReady(local);
        QVERIFY(label->isVisibleTo(panel));
        QCOMPARE(label->text(), QStringLiteral("your router opened port 41002 (UPnP)"));
    }

    // 11. The code is shown whole (wrapped, monospace, grouped), copied in one click, shared as
    // a sentence; both paste back.
    void codeShownWholeAndShared()
    {
        Node node;
        MainWindow window(&node, settingsIn(QStringLiteral("code")));
        playReady(node);
        auto *panel = window.findChild<LocalInfoPanel *>();
        QVERIFY(panel);
        auto *shown = panel->findChild<QLabel *>(QStringLiteral("myCode"));
        QVERIFY(shown && shown->wordWrap());
        QVERIFY(QFontInfo(shown->font()).fixedPitch());
        const QString grouped = panel->shownCode();
        QVERIFY(grouped.contains(QLatin1Char(' ')));
        QVERIFY(grouped.section(QLatin1Char(' '), 1, 1).size() == 5);
        const PeerInput back = parsePeerInput(grouped);
        QVERIFY2(back.isValid(), qPrintable(back.error.message));
        QCOMPARE(back.code->fingerprint, myFingerprint());

        panel->copyButton()->click();
        QCOMPARE(QGuiApplication::clipboard()->text(), window.localInfo().code);
        QVERIFY(panel->shareButton()->isEnabled());
        panel->shareButton()->click();
        const QString sentence = QGuiApplication::clipboard()->text();
        QVERIFY(sentence.startsWith(QStringLiteral("Add me on Punchline: paste this code")));
        QVERIFY(sentence.endsWith(window.localInfo().code));

        // A friend pastes the whole sentence: the code in it is used.
        Node other;
        MainWindow friendWindow(&other, settingsIn(QStringLiteral("code-friend")));
        Q_EMIT other.stateChanged(State::Ready);
        friendWindow.connectBar()->field()->setText(sentence);
        QVERIFY2(friendWindow.connectBar()->isInputValid(),
            qPrintable(friendWindow.connectBar()->validationText()));
        friendWindow.connectBar()->field()->setText(grouped);
        QVERIFY(friendWindow.connectBar()->isInputValid());
    }

    // Also check: Esc stops connecting.
    void escapeStopsConnecting()
    {
        Node node;
        MainWindow window(&node, settingsIn(QStringLiteral("esc")));
        playReady(node);
        window.connectTo(codeFor(QStringLiteral("Sam"), samFingerprint()));
        QCOMPARE(window.friendState(samFingerprint()), State::Connecting);
        QAction *stop = nullptr;
        for (QAction *a : window.findChildren<QAction *>()) {
            if (a->shortcut() == QKeySequence(Qt::Key_Escape))
                stop = a;
        }
        QVERIFY(stop && stop->isEnabled());
    }
};

QTEST_MAIN(TestNewUser)
#include "tst_newuser.moc"
