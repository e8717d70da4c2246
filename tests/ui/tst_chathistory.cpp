// ChatHistory: messages per peer in <profile>/history.sqlite survive a restart, stay apart per
// peer, keep delivery marks, ignore retransmitted ids, and a damaged file is reported, not used.

#include "chathistory.h"

#include <QFile>
#include <QSqlDatabase>
#include <QStandardPaths>
#include <QTemporaryDir>
#include <QTest>

using namespace Punchline;

class TestChatHistory : public QObject
{
    Q_OBJECT

private:
    static QByteArray fingerprint(char c) { return QByteArray(32, c); }
    static ChatMessage message(const QString &id, const QString &text, bool outgoing, qint64 msecs)
    {
        ChatMessage m;
        m.id = id;
        m.text = text;
        m.outgoing = outgoing;
        m.time = QDateTime::fromMSecsSinceEpoch(msecs);
        return m;
    }

private Q_SLOTS:
    void initTestCase() { QStandardPaths::setTestModeEnabled(true); }

    void storeAndReload()
    {
        QTemporaryDir dir;
        QVERIFY(dir.isValid());
        const QByteArray sam = fingerprint('\x01');
        {
            ChatHistory history(dir.path());
            Error error;
            QVERIFY2(history.open(&error), qPrintable(error.message));
            QVERIFY(QFile::exists(dir.filePath(QStringLiteral("history.sqlite"))));
            QVERIFY(history.store(sam,
                message(QStringLiteral("m1"), QStringLiteral("hello\nsecond line"), true, 1000)));
            QVERIFY(history.store(sam,
                message(QStringLiteral("m2"), QStringLiteral("<b>not bold</b> ünïcødé 😀"), false,
                    2000)));
            QVERIFY(history.store(
                sam, message(QStringLiteral("m3"), QStringLiteral("third"), true, 3000)));
            QVERIFY(history.markDelivered(sam, QStringLiteral("m1")));
            QVERIFY(history.rememberPeer(sam, QStringLiteral("Sam")));
            QCOMPARE(history.count(sam), 3);
        }
        // A new instance (the next start) reads the same conversation back, oldest first.
        ChatHistory again(dir.path());
        QVERIFY(again.open());
        const QList<ChatMessage> messages = again.messages(sam);
        QCOMPARE(messages.size(), 3);
        QCOMPARE(messages.at(0).id, QStringLiteral("m1"));
        QCOMPARE(messages.at(0).text, QStringLiteral("hello\nsecond line"));
        QVERIFY(messages.at(0).outgoing);
        QVERIFY(messages.at(0).delivered);
        QCOMPARE(messages.at(0).time.toMSecsSinceEpoch(), 1000);
        QCOMPARE(messages.at(1).text, QStringLiteral("<b>not bold</b> ünïcødé 😀"));
        QVERIFY(!messages.at(1).outgoing);
        QVERIFY(!messages.at(2).delivered);
        QCOMPARE(again.peerName(sam), QStringLiteral("Sam"));
    }

    void peersAreSeparate()
    {
        QTemporaryDir dir;
        ChatHistory history(dir.path());
        QVERIFY(history.open());
        const QByteArray sam = fingerprint('\x01');
        const QByteArray kim = fingerprint('\x02');
        QVERIFY(
            history.store(sam, message(QStringLiteral("a"), QStringLiteral("to Sam"), true, 1)));
        QVERIFY(
            history.store(kim, message(QStringLiteral("b"), QStringLiteral("to Kim"), true, 2)));
        QVERIFY(
            history.store(kim, message(QStringLiteral("c"), QStringLiteral("from Kim"), false, 3)));
        QCOMPARE(history.messages(sam).size(), 1);
        QCOMPARE(history.messages(sam).constFirst().text, QStringLiteral("to Sam"));
        QCOMPARE(history.messages(kim).size(), 2);
        QCOMPARE(history.messages(fingerprint('\x03')).size(), 0);
        // A delivery mark for Kim's message id does not touch Sam's conversation.
        QVERIFY(!history.markDelivered(sam, QStringLiteral("b")));
        QVERIFY(history.markDelivered(kim, QStringLiteral("b")));
        QVERIFY(!history.messages(sam).constFirst().delivered);
    }

    void retransmissionKeptOnce()
    {
        QTemporaryDir dir;
        ChatHistory history(dir.path());
        QVERIFY(history.open());
        const QByteArray sam = fingerprint('\x01');
        QVERIFY(history.store(sam, message(QStringLiteral("x"), QStringLiteral("once"), false, 1)));
        history.store(sam, message(QStringLiteral("x"), QStringLiteral("once"), false, 1));
        QCOMPARE(history.count(sam), 1);
        // The same id in the other direction is a different message.
        QVERIFY(history.store(sam, message(QStringLiteral("x"), QStringLiteral("mine"), true, 2)));
        QCOMPARE(history.count(sam), 2);
    }

    void limitKeepsNewest()
    {
        QTemporaryDir dir;
        ChatHistory history(dir.path());
        QVERIFY(history.open());
        const QByteArray sam = fingerprint('\x01');
        for (int i = 0; i < 30; ++i)
            QVERIFY(history.store(sam, message(QString::number(i), QString::number(i), i % 2, i)));
        const QList<ChatMessage> last = history.messages(sam, 10);
        QCOMPARE(last.size(), 10);
        QCOMPARE(last.constFirst().text, QStringLiteral("20"));
        QCOMPARE(last.constLast().text, QStringLiteral("29"));
    }

    void twoProfilesInOneProcess()
    {
        // Two windows (demo) means two histories open at once: named connections keep them apart.
        QTemporaryDir a;
        QTemporaryDir b;
        ChatHistory ha(a.path());
        ChatHistory hb(b.path());
        QVERIFY(ha.open());
        QVERIFY(hb.open());
        const QByteArray peer = fingerprint('\x05');
        QVERIFY(ha.store(peer, message(QStringLiteral("1"), QStringLiteral("in A"), true, 1)));
        QCOMPARE(ha.count(peer), 1);
        QCOMPARE(hb.count(peer), 0);
        const int connections = int(QSqlDatabase::connectionNames().size());
        {
            ChatHistory temporary(a.path());
            QVERIFY(temporary.open());
            QCOMPARE(temporary.count(peer), 1);
        }
        QCOMPARE(int(QSqlDatabase::connectionNames().size()), connections); // removed again
    }

    void damagedFileIsReported()
    {
        QTemporaryDir dir;
        QFile file(dir.filePath(QStringLiteral("history.sqlite")));
        QVERIFY(file.open(QIODevice::WriteOnly));
        file.write(QByteArray(4096, 'x'));
        file.close();
        ChatHistory history(dir.path());
        Error error;
        QVERIFY(!history.open(&error));
        QVERIFY(!history.isOpen());
        QVERIFY(error.isError());
        QVERIFY2(
            error.message.contains(QStringLiteral("history.sqlite")), qPrintable(error.message));
        QVERIFY(!history.store(
            fingerprint('\x01'), message(QStringLiteral("m"), QStringLiteral("t"), true, 1)));
        // Left as it was: nothing is overwritten.
        QVERIFY(file.open(QIODevice::ReadOnly));
        QCOMPARE(file.readAll(), QByteArray(4096, 'x'));
    }
};

QTEST_GUILESS_MAIN(TestChatHistory)
#include "tst_chathistory.moc"
