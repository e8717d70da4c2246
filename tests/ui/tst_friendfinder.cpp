// The friend finder in the window (issue 11): an incoming friend request (Accept / Decline, queued,
// notified when the window is not in front), the code's validity and "New code" (asks first), the
// friend finder's status line, presence in the conversation list, and the settings round trip.
// The engine's signals are played by the test (the node is never started): no network at all.

#include "appsettings.h"
#include "conversationlist.h"
#include "engine/node.h"
#include "friendrequestbar.h"
#include "identity/identity.h"
#include "localinfopanel.h"
#include "mainwindow.h"
#include "messageformat.h"
#include "settingsdialog.h"

#include <QApplication>
#include <QCheckBox>
#include <QComboBox>
#include <QLabel>
#include <QListWidget>
#include <QLocale>
#include <QMessageBox>
#include <QPlainTextEdit>
#include <QPushButton>
#include <QSignalSpy>
#include <QStandardPaths>
#include <QTemporaryDir>
#include <QTest>
#include <QTimer>

using namespace Punchline;

namespace {

QByteArray fingerprintOf(char c)
{
    return QByteArray(32, c);
}

FriendRequest requestFrom(const QString &name, char c)
{
    return FriendRequest { fingerprintOf(c), name, QDateTime::currentDateTimeUtc() };
}

// Clicks the button with this object name in the first message box that opens, after noting its
// text.
void answerNextMessageBox(const QString &button, QString *text)
{
    QTimer::singleShot(0, qApp, [button, text] {
        for (QWidget *w : QApplication::topLevelWidgets()) {
            if (auto *box = qobject_cast<QMessageBox *>(w); box && box->isVisible()) {
                *text = box->text() + QLatin1Char('\n') + box->informativeText();
                if (box->defaultButton())
                    *text += QStringLiteral("\ndefault: ") + box->defaultButton()->objectName();
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

class TestFriendFinder : public QObject
{
    Q_OBJECT

private:
    QTemporaryDir m_dir;

    Settings settingsIn(const QString &sub)
    {
        Settings s = AppSettings::defaults(m_dir.filePath(sub));
        // Never the public DHT, never multicast, no STUN: the user's defaults are for users.
        s.dht = false;
        s.dhtBootstrap.clear();
        s.dhtLocalDiscovery = false;
        s.stunServers.clear();
        s.ipEchoUrl.clear();
        s.localAddresses = { QStringLiteral("127.0.0.1") };
        s.downloadDir = m_dir.filePath(sub + QStringLiteral("-downloads"));
        QDir().mkpath(s.profileDir);
        QDir().mkpath(s.downloadDir);
        return s;
    }

    static LocalInfo readyInfo()
    {
        LocalInfo local;
        local.displayName = QStringLiteral("Alex");
        local.fingerprint = fingerprintOf('\x11');
        local.local = { *Endpoint::parse(u"127.0.0.1:40000") };
        local.port = 40000;
        local.code = QStringLiteral("PL1-TEST");
        return local;
    }

    static void playReady(Node &node, const LocalInfo &local = readyInfo())
    {
        Q_EMIT node.stateChanged(State::Ready);
        Q_EMIT node.localInfoReady(local);
        Q_EMIT node.friendsChanged({});
    }

private Q_SLOTS:
    void initTestCase()
    {
        QStandardPaths::setTestModeEnabled(true);
        QVERIFY(m_dir.isValid());
    }

    // Requests queue in one strip; Accept adds the friend, shows it and connects; Decline drops
    // the request; a window not in front is notified.
    void requestBannerQueuesAcceptsAndDeclines()
    {
        Node node;
        MainWindow window(&node, settingsIn(QStringLiteral("requests")));
        playReady(node);
        FriendRequestBar *bar = window.requestBar();
        QVERIFY(!bar->isVisibleTo(&window));
        QSignalSpy notified(&window, &MainWindow::notificationShown);

        const QByteArray sam = fingerprintOf('\x5a');
        const QByteArray kim = fingerprintOf('\x6b');
        Q_EMIT node.friendRequest(requestFrom(QStringLiteral("Sam"), '\x5a'));
        Q_EMIT node.friendRequest(requestFrom(QStringLiteral("Kim"), '\x6b'));
        Q_EMIT node.friendRequest(requestFrom(QStringLiteral("Sam"), '\x5a')); // asked again

        QVERIFY(bar->isVisibleTo(&window));
        QCOMPARE(bar->pending().size(), 2);
        QVERIFY(bar->title().contains(QStringLiteral("Sam")));
        QVERIFY(bar->title().contains(QStringLiteral("wants to connect")));
        QVERIFY2(
            bar->detail().contains(Identity::formatFingerprint(sam)), qPrintable(bar->detail()));
        auto *more = bar->findChild<QLabel *>(QStringLiteral("friendRequestMore"));
        QVERIFY(more && more->isVisibleTo(&window));
        QCOMPARE(more->text(), QStringLiteral("1 more request waiting"));
        // The window is not in front: the tray (or the test) hears of each request, once.
        QCOMPARE(notified.size(), 2);
        QVERIFY(
            notified.constFirst().at(0).toString().contains(QStringLiteral("wants to connect")));
        QVERIFY2(window.trayToolTip().contains(QStringLiteral("2 friend requests waiting")),
            qPrintable(window.trayToolTip()));

        // Safety: neither answer is a default, and the strip did not take the keyboard.
        window.show();
        QVERIFY(QTest::qWaitForWindowActive(&window));
        QVERIFY(!bar->acceptButton()->isDefault() && !bar->acceptButton()->autoDefault());
        QVERIFY(!bar->declineButton()->isDefault() && !bar->declineButton()->autoDefault());
        QVERIFY(!bar->acceptButton()->hasFocus() && !bar->declineButton()->hasFocus());
        QCOMPARE(bar->acceptButton()->focusPolicy(), Qt::StrongFocus); // Tab reaches it

        // Accept (by keyboard): Sam is a conversation at once, shown and connecting.
        bar->acceptButton()->setFocus();
        QTest::keyClick(bar->acceptButton(), Qt::Key_Space);
        QVERIFY(window.conversationList()->contains(sam));
        QCOMPARE(window.shownFriend(), sam);
        QCOMPARE(window.friendState(sam), State::Connecting);
        QCOMPARE(window.conversationList()->entry(sam)->info.name, QStringLiteral("Sam"));
        QCOMPARE(window.conversationList()->entry(sam)->info.via, FoundVia::Dht);
        // Kim's request is next; the keyboard stays on the strip.
        QVERIFY(bar->isVisibleTo(&window));
        QVERIFY(bar->title().contains(QStringLiteral("Kim")));
        QVERIFY(!more->isVisibleTo(&window));
        QVERIFY(bar->declineButton()->hasFocus());

        bar->declineButton()->click();
        QVERIFY(!bar->isVisibleTo(&window));
        QVERIFY(!window.conversationList()->contains(kim));
        QVERIFY(bar->pending().isEmpty());

        // The engine confirms Sam (found via the friend finder): the header says so.
        FriendInfo info;
        info.fingerprint = sam;
        info.name = QStringLiteral("Sam");
        info.state = State::Connecting;
        info.via = FoundVia::Dht;
        Q_EMIT node.friendsChanged({ info });
        auto *presence = window.findChild<QLabel *>(QStringLiteral("chatPresence"));
        QVERIFY(presence);
        QVERIFY2(presence->text().contains(QStringLiteral("found via the friend finder")),
            qPrintable(presence->text()));
    }

    // A request from someone who then connects (e.g. also pasted by us) needs no answer.
    void requestGoesWhenConnected()
    {
        Node node;
        MainWindow window(&node, settingsIn(QStringLiteral("connected")));
        playReady(node);
        const QByteArray sam = fingerprintOf('\x5a');
        Q_EMIT node.friendRequest(requestFrom(QStringLiteral("Sam"), '\x5a'));
        QVERIFY(window.requestBar()->isVisibleTo(&window));
        ConnectionInfo c;
        c.peerFingerprint = sam;
        c.peerName = QStringLiteral("Sam");
        c.via = FoundVia::Dht;
        Q_EMIT node.friendStateChanged(sam, State::Connected);
        Q_EMIT node.connected(sam, c);
        QVERIFY(!window.requestBar()->isVisibleTo(&window));
    }

    // A request that expired unanswered (the requester stopped asking) leaves the strip; the
    // others stay.
    void expiredRequestGoes()
    {
        Node node;
        MainWindow window(&node, settingsIn(QStringLiteral("expired")));
        playReady(node);
        Q_EMIT node.friendRequest(requestFrom(QStringLiteral("Sam"), '\x5a'));
        Q_EMIT node.friendRequest(requestFrom(QStringLiteral("Kim"), '\x6b'));
        QCOMPARE(window.requestBar()->pending().size(), 2);
        Q_EMIT node.friendRequestExpired(fingerprintOf('\x5a'));
        QCOMPARE(window.requestBar()->pending().size(), 1);
        QCOMPARE(window.requestBar()->pending().first().name, QStringLiteral("Kim"));
        QVERIFY(window.requestBar()->isVisibleTo(&window));
        Q_EMIT node.friendRequestExpired(fingerprintOf('\x6b'));
        QVERIFY(!window.requestBar()->isVisibleTo(&window));
    }

    // "New code" asks first (Cancel is the default and changes nothing); only with an invitation.
    void newCodeAsksFirst()
    {
        Node node;
        MainWindow window(&node, settingsIn(QStringLiteral("newcode")));
        LocalInfo local = readyInfo();
        playReady(node, local); // friend finder off: no invitation, nothing to revoke
        LocalInfoPanel *panel = window.localPanel();
        QVERIFY(!panel->newCodeButton()->isVisibleTo(&window));
        auto *validity = panel->findChild<QLabel *>(QStringLiteral("myCodeValidity"));
        QVERIFY(validity);
        QVERIFY2(validity->text().contains(QStringLiteral("friend finder is off")),
            qPrintable(validity->text()));

        local.dhtEnabled = true;
        local.dhtOnline = true;
        local.dhtStatus = QStringLiteral("friend finder online");
        local.codeExpires = QDateTime::currentDateTimeUtc().addSecs(3600);
        Q_EMIT node.localInfoReady(local);
        window.showAddFriend();
        QVERIFY(panel->newCodeButton()->isVisibleTo(&window));
        QVERIFY2(validity->text().startsWith(QStringLiteral("Valid until ")),
            qPrintable(validity->text()));

        QSignalSpy asked(panel, &LocalInfoPanel::newCodeRequested);
        QString text;
        answerNextMessageBox(QStringLiteral("newCodeCancelButton"), &text);
        panel->newCodeButton()->click();
        QVERIFY2(
            text.contains(QStringLiteral("Your current code will stop working")), qPrintable(text));
        QVERIFY2(text.contains(QStringLiteral("default: newCodeCancelButton")), qPrintable(text));
        QCOMPARE(asked.size(), 0);

        answerNextMessageBox(QStringLiteral("newCodeConfirmButton"), &text);
        panel->newCodeButton()->click();
        QCOMPARE(asked.size(), 1);
    }

    void validityAndFinderTexts()
    {
        const QDateTime now = QDateTime::currentDateTimeUtc();
        const QString clock
            = QLocale().toString(now.addSecs(60).toLocalTime().time(), QLocale::ShortFormat);
        LocalInfo info;
        info.code = QStringLiteral("PL1-TEST");
        QVERIFY(LocalInfoPanel::validityText(info, now).contains(QStringLiteral("paste")));
        info.dhtEnabled = true;
        info.codeExpires = now.addSecs(60);
        const QString until = MessageFormat::dayAndTime(info.codeExpires, now);
        QVERIFY(until.endsWith(clock));
        QCOMPARE(
            LocalInfoPanel::validityText(info, now), QStringLiteral("Valid until %1.").arg(until));
        info.codeSingleUse = true;
        QCOMPARE(LocalInfoPanel::validityText(info, now),
            QStringLiteral("Valid for one friend, until %1.").arg(until));
        QVERIFY(LocalInfoPanel::validityText(info, now.addSecs(120))
                    .contains(QStringLiteral("expired")));

        info.dhtStatus = QStringLiteral(
            "friend finder offline (no DHT node answers at 192.0.2.1:4222) — paste both codes to "
            "connect");
        QCOMPARE(LocalInfoPanel::finderText(info), info.dhtStatus);
        info.dhtOnline = true;
        info.dhtStatus.clear();
        QVERIFY(LocalInfoPanel::finderText(info).startsWith(QStringLiteral("online")));
        info.dhtEnabled = false;
        QVERIFY(LocalInfoPanel::finderText(info).startsWith(QStringLiteral("off")));

        // The status lines of the panel: shown only with something to say.
        LocalInfoPanel panel;
        panel.show();
        LocalInfo local = readyInfo();
        panel.setLocalInfo(local);
        auto *mapping = panel.findChild<QLabel *>(QStringLiteral("myPortMapping"));
        auto *relay = panel.findChild<QLabel *>(QStringLiteral("myRelay"));
        auto *stun = panel.findChild<QLabel *>(QStringLiteral("myStunServers"));
        auto *finder = panel.findChild<QLabel *>(QStringLiteral("myFriendFinder"));
        QVERIFY(mapping && relay && stun && finder);
        QVERIFY(!mapping->isVisible() && !relay->isVisible() && !stun->isVisible());
        QVERIFY(finder->isVisible());
        local.mappingStatus = QStringLiteral("your router opened port 41002 (UPnP)");
        local.relayStatus = QStringLiteral("relay at 192.0.2.9:3478");
        local.stunAnswered = { QStringLiteral("192.0.2.5:3478") };
        panel.setLocalInfo(local);
        QVERIFY(mapping->isVisible() && relay->isVisible() && stun->isVisible());
        QCOMPARE(mapping->text(), local.mappingStatus);
        QCOMPARE(stun->text(), QStringLiteral("192.0.2.5:3478"));
    }

    void presenceText_data()
    {
        QTest::addColumn<int>("state");
        QTest::addColumn<bool>("online");
        QTest::addColumn<int>("sinceMinutes"); // before now; -1: unknown
        QTest::addColumn<QString>("expected"); // %1: the time from dayAndTime

        QTest::newRow("online, not connected") << int(State::Idle) << true << -1 << "online";
        QTest::newRow("offline since") << int(State::Idle) << false << 5 << "offline since %1";
        QTest::newRow("offline since yesterday")
            << int(State::Idle) << false << 26 * 60 << "offline since %1";
        QTest::newRow("connecting, online")
            << int(State::Connecting) << true << 1 << "online · connecting…";
        QTest::newRow("connected: the path")
            << int(State::Connected) << true << 1 << "connected · direct";
        QTest::newRow("failed, offline since")
            << int(State::Failed) << false << 5 << "could not connect · offline since %1";
        QTest::newRow("nothing known") << int(State::Idle) << false << -1 << "offline";
    }

    void presenceText()
    {
        QFETCH(int, state);
        QFETCH(bool, online);
        QFETCH(int, sinceMinutes);
        QFETCH(QString, expected);
        const QDateTime now = QDateTime::currentDateTime();
        FriendInfo info;
        info.fingerprint = fingerprintOf('\x5a');
        info.state = State(state);
        info.online = online;
        info.pathKnown = info.state == State::Connected;
        info.path = PathKind::Direct;
        if (sinceMinutes >= 0)
            info.presenceSince = now.toUTC().addSecs(-60 * sinceMinutes);
        const QString since = MessageFormat::dayAndTime(info.presenceSince, now);
        if (expected.contains(QStringLiteral("%1")))
            expected = expected.arg(since);
        QCOMPARE(ConversationList::presenceText(info, now), expected);

        // The list shows it (and the tooltip says how the friend was found).
        ConversationList list;
        info.name = QStringLiteral("Sam");
        info.via = FoundVia::Dht;
        list.setFriends({ info });
        const QString spoken = list.list()->item(0)->data(Qt::AccessibleTextRole).toString();
        QVERIFY2(spoken.contains(expected), qPrintable(spoken));
        QVERIFY(list.list()->item(0)->toolTip().contains(QStringLiteral("friend finder")));
    }

    void dayAndTime()
    {
        const QDateTime now(QDate(2024, 3, 12), QTime(12, 0)); // a Tuesday, local time
        const QLocale locale;
        const QString clock = locale.toString(QTime(10, 42), QLocale::ShortFormat);
        QCOMPARE(
            MessageFormat::dayAndTime(QDateTime(QDate(2024, 3, 12), QTime(10, 42)), now), clock);
        QCOMPARE(MessageFormat::dayAndTime(QDateTime(QDate(2024, 3, 11), QTime(10, 42)), now),
            QStringLiteral("yesterday %1").arg(clock));
        QCOMPARE(MessageFormat::dayAndTime(QDateTime(QDate(2024, 3, 13), QTime(10, 42)), now),
            QStringLiteral("tomorrow %1").arg(clock));
        QCOMPARE(MessageFormat::dayAndTime(QDateTime(QDate(2024, 3, 15), QTime(10, 42)), now),
            QStringLiteral("%1 %2").arg(locale.dayName(5, QLocale::ShortFormat), clock));
        QVERIFY(MessageFormat::dayAndTime(QDateTime(), now).isEmpty());
    }

    // Users get the friend finder on (public bootstrap, local discovery, ask); what Settings
    // chooses is saved and read back.
    void settingsRoundTrip()
    {
        const QString dir = m_dir.filePath(QStringLiteral("roundtrip"));
        QDir().mkpath(dir);
        const Settings defaults = AppSettings::defaults(dir);
        QVERIFY(defaults.dht);
        QCOMPARE(defaults.dhtBootstrap, Settings::defaultDhtBootstrap());
        QVERIFY(defaults.dhtLocalDiscovery);
        QCOMPARE(defaults.acceptFriends, AcceptPolicy::Ask);
        const Settings fresh = AppSettings(dir).load();
        QVERIFY(fresh.dht && fresh.dhtLocalDiscovery);
        QCOMPARE(fresh.dhtBootstrap, Settings::defaultDhtBootstrap());

        // The dialog shows the values and reads them back.
        Settings shown = settingsIn(QStringLiteral("roundtrip-dialog"));
        shown.dht = true;
        shown.dhtBootstrap = { QStringLiteral("192.0.2.1:4222") };
        shown.dhtLocalDiscovery = true;
        shown.acceptFriends = AcceptPolicy::All;
        SettingsDialog dialog(shown);
        auto *dht = dialog.findChild<QCheckBox *>(QStringLiteral("dhtEnabled"));
        auto *nodes = dialog.findChild<QPlainTextEdit *>(QStringLiteral("dhtBootstrapField"));
        auto *local = dialog.findChild<QCheckBox *>(QStringLiteral("dhtLocalDiscovery"));
        auto *accept = dialog.findChild<QComboBox *>(QStringLiteral("acceptFriendsField"));
        QVERIFY(dht && nodes && local && accept);
        QVERIFY(dht->isChecked());
        QCOMPARE(nodes->toPlainText(), QStringLiteral("192.0.2.1:4222"));
        QVERIFY(local->isChecked());
        QCOMPARE(AcceptPolicy(accept->currentData().toInt()), AcceptPolicy::All);

        // A bad node is explained and nothing changes.
        nodes->setPlainText(QStringLiteral("192.0.2.1:4222\nhttp://dht.example.org"));
        dialog.accept();
        QVERIFY2(dialog.errorText().contains(QStringLiteral("http://dht.example.org")),
            qPrintable(dialog.errorText()));
        QCOMPARE(dialog.result(), int(QDialog::Rejected));
        // A host alone takes OpenDHT's port.
        nodes->setPlainText(QStringLiteral(" 192.0.2.1:4222 \n\ndht.example.org"));
        local->setChecked(false);
        accept->setCurrentIndex(accept->findData(int(AcceptPolicy::None)));
        dht->setChecked(false);
        QVERIFY(!nodes->isEnabled()); // off: its details are greyed out
        dialog.accept();
        QVERIFY2(dialog.errorText().isEmpty(), qPrintable(dialog.errorText()));
        const Settings chosen = dialog.settings();
        QVERIFY(!chosen.dht);
        QCOMPARE(chosen.dhtBootstrap,
            QStringList({ QStringLiteral("192.0.2.1:4222"), QStringLiteral("dht.example.org") }));
        QVERIFY(!chosen.dhtLocalDiscovery);
        QCOMPARE(chosen.acceptFriends, AcceptPolicy::None);

        // Saved and loaded back; an empty list stays empty (local discovery only).
        QVERIFY(AppSettings(dir).save(chosen));
        Settings loaded = AppSettings(dir).load();
        QCOMPARE(loaded.dht, false);
        QCOMPARE(loaded.dhtBootstrap, chosen.dhtBootstrap);
        QCOMPARE(loaded.dhtLocalDiscovery, false);
        QCOMPARE(loaded.acceptFriends, AcceptPolicy::None);
        Settings lanOnly = chosen;
        lanOnly.dht = true;
        lanOnly.dhtBootstrap.clear();
        lanOnly.acceptFriends = AcceptPolicy::Ask;
        QVERIFY(AppSettings(dir).save(lanOnly));
        loaded = AppSettings(dir).load();
        QVERIFY(loaded.dht);
        QVERIFY(loaded.dhtBootstrap.isEmpty());
        QCOMPARE(loaded.acceptFriends, AcceptPolicy::Ask);
    }

    // --dht none and friends are for this run: used over the saved choice, never saved.
    void commandLineOverridesForOneRun()
    {
        Settings saved = settingsIn(QStringLiteral("onerun"));
        saved.dht = true; // as a user's file says (the window is never started here)
        saved.dhtBootstrap = Settings::defaultDhtBootstrap();
        saved.dhtLocalDiscovery = true;
        Node node;
        MainWindow window(&node, saved);
        NetworkOptions oneRun;
        oneRun.dht = false;
        oneRun.dhtLocalDiscovery = false;
        oneRun.acceptFriends = AcceptPolicy::None;
        oneRun.inviteLifetimeSeconds = 600;
        oneRun.inviteSingleUse = true;
        oneRun.dhtPort = 4333;
        window.setOneRunOptions(oneRun);
        QVERIFY(!window.settings().dht);
        QVERIFY(!window.settings().dhtLocalDiscovery);
        QCOMPARE(window.settings().acceptFriends, AcceptPolicy::None);
        QCOMPARE(window.settings().inviteLifetimeSeconds, 600);
        QVERIFY(window.settings().inviteSingleUse);
        QCOMPARE(window.settings().dhtPort, 4333);
        QCOMPARE(window.settings().profileDir, saved.profileDir);
        QVERIFY(window.savedSettings().dht); // Settings shows and saves the user's own choice
        QVERIFY(window.savedSettings().dhtLocalDiscovery);
    }
};

QTEST_MAIN(TestFriendFinder)
#include "tst_friendfinder.moc"
