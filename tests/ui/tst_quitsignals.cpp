// SIGTERM and SIGINT (kill, logout, Ctrl-C) end both programs the polite way: from the event
// loop, through Node's destructor (Bye to every friend, the exit close), with exit code 0,
// instead of the default action that kills the process before it can say anything.
#include <QDir>
#include <QFileInfo>
#include <QProcess>
#include <QTemporaryDir>
#include <QTest>
#include <csignal>

class TestQuitSignals : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void endsPolitely_data()
    {
        QTest::addColumn<QString>("program");
        QTest::addColumn<int>("signal");
        QTest::addColumn<int>("exitCode");
        QTest::newRow("window, TERM") << QStringLiteral("punchline") << int(SIGTERM) << 0;
        QTest::newRow("window, INT") << QStringLiteral("punchline") << int(SIGINT) << 0;
        // Interrupted before any friend connected: the CLI's "other" exit code, but no crash.
        QTest::newRow("cli, TERM") << QStringLiteral("punchline-cli") << int(SIGTERM) << 1;
    }

    void endsPolitely()
    {
        QFETCH(QString, program);
        QFETCH(int, signal);
        QFETCH(int, exitCode);
        const QString binary
            = qEnvironmentVariable("PUNCHLINE_BINARY_DIR") + QStringLiteral("/app/") + program;
        if (!QFileInfo(binary).isExecutable())
            QSKIP("the programs are not built");
        QTemporaryDir dir;
        const QString profile = dir.filePath(QStringLiteral("profile"));
        QProcess p;
        QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
        env.insert(QStringLiteral("QT_QPA_PLATFORM"), QStringLiteral("offscreen"));
        env.insert(QStringLiteral("HOME"), dir.path());
        env.insert(QStringLiteral("XDG_CONFIG_HOME"), dir.filePath(QStringLiteral("config")));
        p.setProcessEnvironment(env);
        // Nothing leaves the machine: no STUN, no IP echo, no DHT, no router asked.
        QStringList args { QStringLiteral("--profile"), profile, QStringLiteral("--port"),
            QStringLiteral("0"), QStringLiteral("--stun"), QStringLiteral("none"),
            QStringLiteral("--ip-echo"), QStringLiteral("none"), QStringLiteral("--dht"),
            QStringLiteral("none"), QStringLiteral("--port-mapping"), QStringLiteral("off") };
        if (program == QStringLiteral("punchline-cli"))
            args << QStringLiteral("--name") << QStringLiteral("Ann");
        p.start(binary, args);
        QVERIFY(p.waitForStarted(10000));
        // Up: the engine has made the profile (the handler is in place before that).
        QTRY_VERIFY_WITH_TIMEOUT(
            !QDir(profile).entryList(QDir::Files | QDir::NoDotAndDotDot).isEmpty(), 30000);
        QTest::qWait(300);
        ::kill(pid_t(p.processId()), signal);
        QVERIFY2(p.waitForFinished(15000), qPrintable(program));
        QCOMPARE(p.exitStatus(), QProcess::NormalExit);
        QCOMPARE(p.exitCode(), exitCode);
    }
};

QTEST_GUILESS_MAIN(TestQuitSignals)
#include "tst_quitsignals.moc"
