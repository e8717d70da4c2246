// SendBudget: how much file data may wait on the sending side ahead of a chat line, from the rate
// the link drains. Synthetic time, no sockets.

#include "session/sendbudget.h"

#include <QTest>

using namespace Punchline;

namespace {

// Drains at `rate` bytes/s for `seconds`, updating every ms; `backlogged` as given.
qint64 drive(SendBudget &b, double rate, double seconds, bool backlogged, qint64 startUs = 0,
    qint64 startBytes = 0)
{
    qint64 bytes = startBytes;
    for (qint64 t = startUs; t < startUs + qint64(seconds * 1e6); t += 1000) {
        bytes += qint64(rate / 1000);
        b.update(bytes, t, backlogged);
    }
    return bytes;
}

} // namespace

class TestSendBudget : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void startsAtTheMaximum()
    {
        SendBudget b;
        QCOMPARE(b.bytes(), qint64(128) << 10);
        QCOMPARE(b.rate(), 0.0);
    }

    void aSlowLinkGetsASmallBudget()
    {
        // The lab at RTT 80 beside a chat carried 17 MB/s: 128 KiB waiting in the kernel and as
        // much in the link's buffer were 15 ms of a chat line's wait. 3 ms of it is 51 KB.
        SendBudget b;
        drive(b, 17e6, 1.0, true);
        QVERIFY2(qAbs(b.rate() - 17e6) < 1e6, qPrintable(QString::number(b.rate())));
        QVERIFY2(
            b.bytes() >= 45'000 && b.bytes() <= 56'000, qPrintable(QString::number(b.bytes())));
    }

    void neverBelowTheFloorNorAboveTheCeiling()
    {
        SendBudget slow;
        drive(slow, 1e6, 1.0, true);
        QCOMPARE(slow.bytes(), qint64(32) << 10);
        SendBudget fast;
        drive(fast, 1e9, 1.0, true);
        QCOMPARE(fast.bytes(), qint64(128) << 10);
    }

    void anIdleSenderSaysNothingAboutThePath()
    {
        // A user who sends a little (or a flow window that holds the data back) drains slowly;
        // that must not shrink the budget as if the path were slow.
        SendBudget b;
        drive(b, 2e6, 1.0, false);
        QCOMPARE(b.rate(), 0.0);
        QCOMPARE(b.bytes(), qint64(128) << 10);
    }

    void aStallDoesNotShrinkItFurther()
    {
        // The best of the recent intervals counts: one slow interval (the network thread was
        // late, the kernel ran dry) must not halve the budget and so starve the next ones.
        SendBudget b;
        qint64 bytes = drive(b, 20e6, 0.5, true);
        const qint64 before = b.bytes();
        bytes = drive(b, 5e6, 0.06, true, 500'000, bytes);
        QCOMPARE(b.bytes(), before);
    }

    void aNewLinkStartsOver()
    {
        SendBudget b;
        drive(b, 5e6, 1.0, true);
        QVERIFY(b.bytes() < (qint64(128) << 10));
        b.reset();
        QCOMPARE(b.bytes(), qint64(128) << 10);
        QCOMPARE(b.rate(), 0.0);
    }
};

QTEST_GUILESS_MAIN(TestSendBudget)
#include "tst_sendbudget.moc"
