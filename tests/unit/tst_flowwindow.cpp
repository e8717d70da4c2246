// FlowWindow: the sender's bound on unacknowledged file data, steered by acknowledgement delay.
// A simulated path (fixed base delay, a receiver that consumes at a fixed rate) drives it with
// synthetic time: no sockets, no clocks, deterministic.

#include "transfer/flowwindow.h"

#include <QTest>
#include <deque>

using namespace Punchline;

namespace {

constexpr qint64 Chunk = 128 * 1024;

struct Result
{
    qint64 window = 0;
    qint64 maxQueueUs = 0;   // queueing delay the window let build up, after the first second
    double bytesPerSec = 0;  // what got through
};

// Runs `seconds` of simulated time: the sender sends whenever the window allows; each chunk
// reaches the receiver after baseUs/2, waits its turn in the receiver's queue, is consumed at
// `rate` bytes/s, and the acknowledgement takes baseUs/2 back.
Result simulate(FlowWindow &w, qint64 baseUs, double rate, double seconds)
{
    struct InFlight { qint64 arriveUs; qint64 bytes; };
    std::deque<InFlight> toReceiver;
    std::deque<std::pair<qint64, qint64>> acks; // (time the ack arrives, total consumed)
    qint64 consumed = 0;
    qint64 receiverFreeAt = 0;
    Result r;
    const qint64 endUs = qint64(seconds * 1e6);
    qint64 deliveredAfterWarmup = 0;
    for (qint64 now = 0; now < endUs; now += 50) {
        while (!acks.empty() && acks.front().first <= now) {
            if (!w.onConsumed(acks.front().second, now))
                return {};
            acks.pop_front();
        }
        while (w.canSend()) {
            w.onSent(Chunk, now);
            toReceiver.push_back({ now + baseUs / 2, Chunk });
        }
        // The receiver consumes one chunk at a time, in order.
        while (!toReceiver.empty() && toReceiver.front().arriveUs <= now && receiverFreeAt <= now) {
            const qint64 start = qMax(receiverFreeAt, toReceiver.front().arriveUs);
            const qint64 queued = start - toReceiver.front().arriveUs;
            if (now > 1'000'000)
                r.maxQueueUs = qMax(r.maxQueueUs, queued);
            receiverFreeAt = start + qint64(double(Chunk) / rate * 1e6);
            consumed += Chunk;
            if (now > 1'000'000)
                deliveredAfterWarmup += Chunk;
            acks.emplace_back(receiverFreeAt + baseUs / 2, consumed);
            toReceiver.pop_front();
        }
    }
    r.window = w.window();
    r.bytesPerSec = double(deliveredAfterWarmup) / (seconds - 1.0);
    qInfo("base %lld us, receiver %.0f MB/s: window %lld, got %.1f MB/s, max queue %lld us", baseUs,
          rate / 1e6, r.window, r.bytesPerSec / 1e6, r.maxQueueUs);
    return r;
}

} // namespace

class TestFlowWindow : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void startsAtTheInitialWindow()
    {
        FlowWindow w;
        QCOMPARE(w.window(), qint64(1) << 20);
        QCOMPARE(w.inFlight(), 0);
        QVERIFY(w.canSend());
        w.onSent(qint64(1) << 20, 0);
        QVERIFY(!w.canSend());
        QVERIFY(w.onConsumed(Chunk, 1000));
        QVERIFY(w.canSend());
        QCOMPARE(w.inFlight(), (qint64(1) << 20) - Chunk);
    }

    void refusesImpossibleAcknowledgements()
    {
        FlowWindow w;
        w.onSent(Chunk, 0);
        QVERIFY(!w.onConsumed(Chunk + 1, 10)); // more than was sent
        QVERIFY(w.onConsumed(Chunk, 10));
        QVERIFY(!w.onConsumed(Chunk - 1, 20)); // going backwards
        QCOMPARE(w.inFlight(), 0);
        w.reset();
        QCOMPARE(w.sentBytes(), 0);
        QVERIFY(!w.onConsumed(1, 30)); // a new link starts from zero
    }

    void fastReceiverShortPathKeepsTheQueueNearTheTarget()
    {
        // RTT ~0 (loopback), receiver at 400 MB/s: the window must keep the receiver busy but
        // not queue more than about the target (2 ms) in front of a chat line.
        FlowWindow w;
        const Result r = simulate(w, 100, 400e6, 4.0);
        QVERIFY2(r.bytesPerSec > 0.9 * 400e6, qPrintable(QString::number(r.bytesPerSec)));
        QVERIFY2(r.maxQueueUs < 6000, qPrintable(QString::number(r.maxQueueUs)));
    }

    void longPathGrowsToTheBandwidthDelayProduct()
    {
        // RTT 80 ms at 100 MB/s: the bandwidth-delay product is 8 MB; the initial 1 MiB window
        // would cap the rate at 13 MB/s. It has to grow, and still not build a large queue.
        FlowWindow w;
        const Result r = simulate(w, 80'000, 100e6, 6.0);
        QVERIFY2(r.window >= 7'000'000, qPrintable(QString::number(r.window)));
        QVERIFY2(r.bytesPerSec > 0.8 * 100e6, qPrintable(QString::number(r.bytesPerSec)));
        QVERIFY2(r.maxQueueUs < 15000, qPrintable(QString::number(r.maxQueueUs)));
    }

    void slowReceiverShrinksTheWindowToTheMinimum()
    {
        // The receiver writes to a slow disk (5 MB/s) on a short path: the window comes down to
        // its floor instead of parking megabytes in the receiver's queue.
        FlowWindow::Config c;
        c.initialBytes = qint64(16) << 20;
        FlowWindow w(c);
        const Result r = simulate(w, 500, 5e6, 6.0);
        QCOMPARE(r.window, c.minBytes);
        QVERIFY2(r.bytesPerSec > 0.9 * 5e6, qPrintable(QString::number(r.bytesPerSec)));
    }

    void doesNotGrowWhileTheSenderHasLittleToSend()
    {
        FlowWindow w;
        qint64 now = 0;
        qint64 total = 0;
        for (int i = 0; i < 1000; ++i) { // one chunk at a time, acknowledged before the next
            w.onSent(Chunk, now);
            total += Chunk;
            now += 100;
            QVERIFY(w.onConsumed(total, now));
            now += 10'000;
        }
        QCOMPARE(w.window(), qint64(1) << 20);
    }
};

QTEST_GUILESS_MAIN(TestFlowWindow)
#include "tst_flowwindow.moc"
