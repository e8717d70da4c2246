// TURN relays in the window (issue 12 §2): the Settings dialog's list, checked by core's parser,
// kept by TurnStore in the profile's owner-only turn.json (not punchline.ini), read back at
// start, and the command line's --turn used for one run without being saved. The engine is
// never started: no server is contacted.

#include "appsettings.h"
#include "engine/commandline.h"
#include "engine/node.h"
#include "mainwindow.h"
#include "noticebar.h"
#include "reach/turnstore.h"
#include "settingsdialog.h"

#include <QApplication>
#include <QDir>
#include <QFile>
#include <QLabel>
#include <QPlainTextEdit>
#include <QSettings>
#include <QTemporaryDir>
#include <QTest>
#include <QTimer>

using namespace Punchline;

namespace {

const QString Secret = QStringLiteral("s3cr3t-Pa55word");

QString relay(const QString &host)
{
    return QStringLiteral("turn:friend:%1@%2:3478").arg(Secret, host);
}

void playReady(Node &node)
{
    LocalInfo local;
    local.displayName = QStringLiteral("Alex");
    local.fingerprint = QByteArray(32, '\x11');
    local.local = { *Endpoint::parse(u"127.0.0.1:40000") };
    local.port = 40000;
    Q_EMIT node.stateChanged(State::Ready);
    Q_EMIT node.localInfoReady(local);
}

QString fileOf(const QString &profileDir)
{
    return QDir(profileDir).filePath(QString::fromLatin1(TurnStore::FileName));
}

} // namespace

class TestTurnSettings : public QObject
{
    Q_OBJECT

private:
    QTemporaryDir m_dir;

    Settings settingsIn(const QString &sub)
    {
        Settings s = AppSettings::defaults(m_dir.filePath(sub));
        s.portMapping = false; // tests never ask the machine's router
        s.dht = false;
        s.dhtBootstrap.clear();
        s.dhtLocalDiscovery = false;
        s.localAddresses = { QStringLiteral("127.0.0.1") };
        s.downloadDir = m_dir.filePath(sub + QStringLiteral("-downloads"));
        QDir().mkpath(s.profileDir);
        QDir().mkpath(s.downloadDir);
        return s;
    }

private Q_SLOTS:
    void initTestCase() { QVERIFY(m_dir.isValid()); }

    // Typed into the dialog, saved through the window, kept owner-only outside punchline.ini,
    // read back at the next start and shown again.
    void listRoundTripsThroughDialogAndStore()
    {
        const Settings start = settingsIn(QStringLiteral("roundtrip"));
        QVERIFY(AppSettings(start.profileDir).load().turnServers.isEmpty());
        Node node;
        MainWindow window(&node, start);
        playReady(node);

        bool noteSeen = false;
        QTimer::singleShot(0, &window, [&noteSeen] {
            auto *dialog = qobject_cast<SettingsDialog *>(QApplication::activeModalWidget());
            if (!dialog)
                return;
            auto *field = dialog->findChild<QPlainTextEdit *>(QStringLiteral("turnField"));
            auto *note = dialog->findChild<QLabel *>(QStringLiteral("turnNote"));
            if (field && note && note->text().contains(QStringLiteral("coturn"))
                && note->text().contains(QStringLiteral("only by you")))
                noteSeen = true;
            if (field)
                field->setPlainText(QStringLiteral("  %1\n\nturn:other:pw@relay2.example.org\n")
                                        .arg(relay(QStringLiteral("relay.example.org"))));
            dialog->accept();
        });
        window.openSettings();
        QVERIFY(noteSeen);

        const QStringList expected { relay(QStringLiteral("relay.example.org")),
            QStringLiteral("turn:other:pw@relay2.example.org") };
        QCOMPARE(window.savedSettings().turnServers, expected);
        const QString path = fileOf(start.profileDir);
        QVERIFY(QFile::exists(path));
        constexpr QFileDevice::Permissions ugo = QFileDevice::ReadOwner | QFileDevice::WriteOwner
            | QFileDevice::ExeOwner | QFileDevice::ReadGroup | QFileDevice::WriteGroup
            | QFileDevice::ExeGroup | QFileDevice::ReadOther | QFileDevice::WriteOther
            | QFileDevice::ExeOther;
        QCOMPARE(QFile::permissions(path) & ugo,
            QFileDevice::Permissions(QFileDevice::ReadOwner | QFileDevice::WriteOwner)); // 0600
        QCOMPARE(TurnStore::load(start.profileDir).value_or(QStringList {}), expected);
        // Not in punchline.ini: no line there has the password.
        QFile ini(AppSettings(start.profileDir).path());
        QVERIFY(ini.open(QIODevice::ReadOnly));
        QVERIFY(!ini.readAll().contains(Secret.toUtf8()));
        // Applies at the next start, and the window says so.
        QVERIFY2(window.noticeBar()->text().contains(QStringLiteral("relay servers"))
                && window.noticeBar()->text().contains(QStringLiteral("next time")),
            qPrintable(window.noticeBar()->text()));

        // The next start: the window's Settings carry the list to the engine, the dialog shows it.
        const Settings next = AppSettings(start.profileDir).load();
        QCOMPARE(next.turnServers, expected);
        SettingsDialog dialog(next);
        QCOMPARE(dialog.findChild<QPlainTextEdit *>(QStringLiteral("turnField"))->toPlainText(),
            expected.join(QLatin1Char('\n')));
        dialog.accept();
        QCOMPARE(dialog.result(), int(QDialog::Accepted));
        QCOMPARE(dialog.settings().turnServers, expected);

        // An emptied list removes the file.
        Settings none = window.savedSettings();
        none.turnServers.clear();
        QVERIFY(window.applySettings(none));
        QVERIFY(!QFile::exists(path));
        QVERIFY(AppSettings(start.profileDir).load().turnServers.isEmpty());
    }

    // A bad line is refused, named by its number, without its password; nothing is stored.
    void badLineRefusedWithoutPassword()
    {
        Settings s = settingsIn(QStringLiteral("bad"));
        s.turnServers = { relay(QStringLiteral("relay.example.org")) };
        SettingsDialog dialog(s);
        auto *field = dialog.findChild<QPlainTextEdit *>(QStringLiteral("turnField"));
        QVERIFY(field);
        const QStringList bad {
            QStringLiteral("turn:friend:%1@relay.example.org:99999").arg(Secret),
            QStringLiteral("stun:friend:%1@relay.example.org:3478").arg(Secret),
            QStringLiteral("turn:friend:%1@").arg(Secret),
            QStringLiteral("turn:friend:%1@relay.example.org?transport=udp").arg(Secret)
        };
        for (const QString &line : bad) {
            field->setPlainText(relay(QStringLiteral("ok.example.org")) + QLatin1Char('\n') + line);
            dialog.accept();
            QCOMPARE(dialog.result(), int(QDialog::Rejected));
            const QString error = dialog.errorText();
            QVERIFY2(error.contains(QStringLiteral("line 2")), qPrintable(error));
            QVERIFY2(!error.contains(Secret), qPrintable(error));
            QVERIFY(!SettingsDialog::checkTurnServers({ line }).isEmpty());
            QVERIFY(!SettingsDialog::checkTurnServers({ line }).contains(Secret));
        }
        QCOMPARE(dialog.settings().turnServers, s.turnServers); // unchanged
        QVERIFY(!QFile::exists(fileOf(s.profileDir)));
        QVERIFY(SettingsDialog::checkTurnServers({ relay(QStringLiteral("relay.example.org")),
                                                     QStringLiteral("turns:a:b@[2001:db8::1]") })
                    .isEmpty());
    }

    // --turn is for this run: the engine gets it, Settings neither shows nor saves it.
    void oneRunTurnIsUsedNotSaved()
    {
        const Settings start = settingsIn(QStringLiteral("onerun"));
        const QStringList stored { relay(QStringLiteral("stored.example.org")) };
        QVERIFY(TurnStore::save(start.profileDir, stored));
        const Settings loaded = AppSettings(start.profileDir).load();
        QCOMPARE(loaded.turnServers, stored);

        Node node;
        MainWindow window(&node, loaded);
        NetworkOptions oneRun;
        const QStringList given { QStringLiteral("turn:once:pw@oneshot.example.org:3478") };
        oneRun.turnServers = given;
        window.setOneRunOptions(oneRun);
        QCOMPARE(window.settings().turnServers, given); // what the engine starts with
        QCOMPARE(window.savedSettings().turnServers, stored);
        playReady(node);

        bool shownSaved = false;
        QTimer::singleShot(0, &window, [stored, &shownSaved] {
            auto *dialog = qobject_cast<SettingsDialog *>(QApplication::activeModalWidget());
            if (!dialog)
                return;
            auto *field = dialog->findChild<QPlainTextEdit *>(QStringLiteral("turnField"));
            auto *note = dialog->findChild<QLabel *>(QStringLiteral("oneRunNote"));
            if (field && field->toPlainText() == stored.join(QLatin1Char('\n')) && note
                && note->isVisibleTo(dialog) && note->text().contains(QStringLiteral("--turn")))
                shownSaved = true;
            dialog->accept();
        });
        window.openSettings();
        QVERIFY(shownSaved); // the dialog shows the stored list and names --turn
        QCOMPARE(TurnStore::load(start.profileDir).value_or(QStringList {}), stored);
        QCOMPARE(window.settings().turnServers, given); // still this run's choice

        // A "--turn none" run: no relay this run, the stored list stays.
        NetworkOptions noRelay;
        noRelay.turnServers = QStringList();
        window.setOneRunOptions(noRelay);
        QVERIFY(window.settings().turnServers.isEmpty());
        Settings chosen = window.savedSettings();
        chosen.keepaliveIntervalMs = 30000;
        QVERIFY(window.applySettings(chosen));
        QCOMPARE(TurnStore::load(start.profileDir).value_or(QStringList {}), stored);
        QVERIFY(window.settings().turnServers.isEmpty());
    }
};

QTEST_MAIN(TestTurnSettings)
#include "tst_turnsettings.moc"
