// The window on its own: the engine's signals are played by the test (Node's signals are public),
// so these cases need no network. Two real engines on loopback are in tst_twowindows.

#include "chathistory.h"
#include "chatinput.h"
#include "chatview.h"
#include "connectbar.h"
#include "engine/node.h"
#include "iconfactory.h"
#include "identity/peercode.h"
#include "mainwindow.h"
#include "noticebar.h"
#include "settingsdialog.h"
#include "statusbanner.h"
#include "transferitem.h"
#include "transferlist.h"

#include <QApplication>
#include <QClipboard>
#include <QDir>
#include <QLabel>
#include <QLineEdit>
#include <QMimeData>
#include <QPlainTextEdit>
#include <QPushButton>
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
        s.port = 0;
        s.localAddresses = { QStringLiteral("127.0.0.1") };
        s.downloadDir = m_dir.filePath(sub + QStringLiteral("-downloads"));
        QDir().mkpath(s.profileDir);
        QDir().mkpath(s.downloadDir);
        return s;
    }

    // Plays "discovery done, then connected to Sam" on the window's node.
    static void playConnected(Node &node, const QString &profileDir)
    {
        LocalInfo local;
        local.displayName = QStringLiteral("Alex");
        local.fingerprint = QByteArray(32, '\x11');
        local.local = { *Endpoint::parse(u"127.0.0.1:40000") };
        local.code = QStringLiteral("PL1-TEST");
        Q_UNUSED(profileDir)
        Q_EMIT node.stateChanged(State::Ready);
        Q_EMIT node.localInfoReady(local);
        Q_EMIT node.stateChanged(State::Connecting);
        Q_EMIT node.stateChanged(State::Securing);
        Q_EMIT node.stateChanged(State::Connected);
        ConnectionInfo info;
        info.path = PathKind::Direct;
        info.peerName = QStringLiteral("Sam");
        info.peerFingerprint = samFingerprint();
        info.peerPinnedByCode = true;
        Q_EMIT node.connected(info);
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

        Q_EMIT node.stateChanged(State::Discovering);
        QVERIFY2(banner->headline().contains(QStringLiteral("Finding your addresses")),
            qPrintable(banner->headline()));
        Q_EMIT node.stateChanged(State::Ready);
        QVERIFY(banner->headline().contains(QStringLiteral("paste your friend's code")));

        window.connectBar()->field()->setText(samCode());
        QSignalSpy spy(window.connectBar(), &ConnectBar::connectRequested);
        window.connectBar()->connectButton()->click();
        QCOMPARE(spy.count(), 1);
        Q_EMIT node.stateChanged(State::Connecting);
        QVERIFY2(banner->headline().contains(QStringLiteral("Waiting for Sam")),
            qPrintable(banner->headline()));
        Q_EMIT node.connectProgress(ConnectProgress { 3, 2, 2500 });
        QVERIFY2(
            banner->detail().contains(QStringLiteral("Attempt 3")), qPrintable(banner->detail()));
        QVERIFY(bar->text().contains(QStringLiteral("attempt 3")));
        QVERIFY(
            window.findChild<QPushButton *>(QStringLiteral("cancelButton"))->isVisibleTo(&window));
        QVERIFY(!window.findChild<QPushButton *>(QStringLiteral("connectButton"))
                     ->isVisibleTo(&window));

        Q_EMIT node.stateChanged(State::Securing);
        QVERIFY(banner->headline().contains(QStringLiteral("Securing")));
        Q_EMIT node.stateChanged(State::Connected);
        ConnectionInfo info;
        info.path = PathKind::Lan;
        info.peerName = QStringLiteral("Sam");
        info.peerFingerprint = samFingerprint();
        info.peerPinnedByCode = true;
        Q_EMIT node.connected(info);
        Q_EMIT node.rttMeasured(42);
        QCOMPARE(banner->headline(), QStringLiteral("Connected to Sam"));
        QVERIFY2(banner->detail().contains(QStringLiteral("42 ms")), qPrintable(banner->detail()));
        QVERIFY(banner->detail().contains(QStringLiteral("same local network")));
        QVERIFY(bar->text().contains(QStringLiteral("lan")));
        QVERIFY(window.findChild<QPushButton *>(QStringLiteral("disconnectButton"))
                    ->isVisibleTo(&window));
        QVERIFY(window.windowTitle().contains(QStringLiteral("Sam")));

        Q_EMIT node.disconnected(
            Error { ErrorCode::PeerLost, QStringLiteral("no answer for 45 s") });
        Q_EMIT node.stateChanged(State::Reconnecting);
        QVERIFY2(banner->headline().contains(QStringLiteral("reconnecting to Sam")),
            qPrintable(banner->headline()));
        Q_EMIT node.connectProgress(ConnectProgress { 2, 1, 1000 });
        QVERIFY(banner->detail().contains(QStringLiteral("Attempt 2")));

        Q_EMIT node.stateChanged(State::Failed);
        Q_EMIT node.errorOccurred(Error { ErrorCode::ReconnectTimeout,
            QStringLiteral("the connection was lost and could not be restored within 600 s") });
        QCOMPARE(banner->headline(), QStringLiteral("Could not connect"));
        QVERIFY2(banner->detail().startsWith(QStringLiteral("The connection was lost")),
            qPrintable(banner->detail()));
        QVERIFY(banner->detail().contains(QStringLiteral("Reconnect from your friends list")));
        QVERIFY(window.connectBar()->connectButton()->isEnabled()); // can try again

        Q_EMIT node.stateChanged(State::Disconnected);
        QVERIFY(!banner->headline().isEmpty());
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
        Q_EMIT node.stateChanged(State::Disconnected);
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
        Q_EMIT node.chatDelivered(id);
        QVERIFY(window.chatView()->messages().constFirst().delivered);
        QVERIFY(window.history()->messages(samFingerprint()).constFirst().delivered);

        // Peer text is never markup: shown literally, links clickable.
        ChatMessage incoming;
        incoming.id = QStringLiteral("p1");
        incoming.text = QStringLiteral("<b>bold?</b> <img src=x> see https://example.org");
        incoming.time = QDateTime::currentDateTime();
        Q_EMIT node.chatReceived(incoming);
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
        Q_EMIT node.transferUpdated(offer);
        TransferItem *item = window.transferList()->item(offer.id);
        QVERIFY(item);
        QVERIFY(window.transferList()->isVisibleTo(&window));
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
        Q_EMIT node.transferUpdated(offer);
        QVERIFY2(
            item->detailText().contains(QStringLiteral("left")), qPrintable(item->detailText()));
        offer.state = TransferState::Failed;
        offer.error = { ErrorCode::PeerClosed,
            QStringLiteral("the peer closed the connection during the transfer") };
        Q_EMIT node.transferUpdated(offer);
        QCOMPARE(item->stateText(), QStringLiteral("Failed"));
        QVERIFY2(item->detailText().contains(QStringLiteral("The peer closed the connection")),
            qPrintable(item->detailText()));

        TransferInfo second = offer;
        second.id = QStringLiteral("t-2");
        second.state = TransferState::Offered;
        second.error = {};
        Q_EMIT node.transferUpdated(second);
        Q_EMIT node.disconnected(
            Error { ErrorCode::PeerClosed, QStringLiteral("Sam closed the connection") });
        Q_EMIT node.stateChanged(State::Disconnected);
        QVERIFY(window.statusBanner()->headline().contains(
            QStringLiteral("Sam closed the connection")));
        window.answerOffer(second.id, true);
        QVERIFY2(window.noticeBar()->text().contains(QStringLiteral("cannot be accepted now")),
            qPrintable(window.noticeBar()->text()));

        // A resumed transfer says so.
        TransferInfo resumed = offer;
        resumed.id = QStringLiteral("t-3");
        resumed.state = TransferState::Progress;
        resumed.resumedFrom = 1000000;
        resumed.error = {};
        Q_EMIT node.transferUpdated(resumed);
        QVERIFY(window.transferList()
                    ->item(resumed.id)
                    ->stateText()
                    .contains(QStringLiteral("resumed")));
        QVERIFY(window.transferList()
                    ->item(resumed.id)
                    ->detailText()
                    .contains(QStringLiteral("resumed at")));
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
        Q_EMIT node.chatReceived(reply);
        TransferInfo offer;
        offer.id = QStringLiteral("d-1");
        offer.direction = TransferDirection::In;
        offer.name = QStringLiteral("notes.txt");
        offer.files = { { QStringLiteral("notes.txt"), 1234 } };
        offer.total = 1234;
        Q_EMIT node.transferUpdated(offer);

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
