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
    qint64 maxQueueUs = 0; // queueing delay the window let build up, after the first second
    double bytesPerSec = 0; // what got through
};

// Runs `seconds` of simulated time: the sender sends whenever the window allows; each chunk
// reaches the receiver after baseUs/2, waits its turn in the receiver's queue, is consumed at
// `rate` bytes/s, and the acknowledgement takes baseUs/2 back.
Result simulate(FlowWindow &w, qint64 baseUs, double rate, double seconds, qint64 jitterUs = 0)
{
    struct InFlight
    {
        qint64 arriveUs;
        qint64 bytes;
    };
    std::deque<InFlight> toReceiver;
    struct Ack
    {
        qint64 atUs;
        qint64 total;
        qint64 queuedUs;
    };
    std::deque<Ack> acks;
    qint64 consumed = 0;
    qint64 receiverFreeAt = 0;
    Result r;
    const qint64 endUs = qint64(seconds * 1e6);
    qint64 deliveredAfterWarmup = 0;
    for (qint64 now = 0; now < endUs; now += 50) {
        while (!acks.empty() && acks.front().atUs <= now) {
            if (!w.onConsumed(acks.front().total, now, acks.front().queuedUs))
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
            // Network jitter on the way back (deterministic): it delays acknowledgements but is
            // no backlog of the receiver's.
            const qint64 jitter = jitterUs * ((consumed / Chunk * 7919) % 17) / 16;
            acks.push_back({ receiverFreeAt + baseUs / 2 + jitter, consumed, queued });
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
        QVERIFY(w.onConsumed(Chunk, 1000, 0));
        QVERIFY(w.canSend());
        QCOMPARE(w.inFlight(), (qint64(1) << 20) - Chunk);
    }

    void refusesImpossibleAcknowledgements()
    {
        FlowWindow w;
        w.onSent(Chunk, 0);
        QVERIFY(!w.onConsumed(Chunk + 1, 10, 0)); // more than was sent
        QVERIFY(w.onConsumed(Chunk, 10, 0));
        QVERIFY(!w.onConsumed(Chunk - 1, 20, 0)); // going backwards
        QCOMPARE(w.inFlight(), 0);
        w.reset();
        QCOMPARE(w.sentBytes(), 0);
        QVERIFY(!w.onConsumed(1, 30, 0)); // a new link starts from zero
    }

    void fastReceiverShortPathKeepsTheQueueNearTheTarget()
    {
        // RTT ~0 (loopback), receiver at 400 MB/s: the window must keep the receiver busy but
        // its queue near the target (5 ms), not megabytes deep.
        FlowWindow w;
        const Result r = simulate(w, 100, 400e6, 4.0);
        QVERIFY2(r.bytesPerSec > 0.9 * 400e6, qPrintable(QString::number(r.bytesPerSec)));
        QVERIFY2(r.maxQueueUs < 25000, qPrintable(QString::number(r.maxQueueUs)));
        QVERIFY2(r.window < 12'000'000, qPrintable(QString::number(r.window)));
    }

    void longPathGrowsToTheBandwidthDelayProduct()
    {
        // RTT 80 ms at 100 MB/s: the bandwidth-delay product is 8 MB; the initial 1 MiB window
        // would cap the rate at 13 MB/s. It has to grow, and still keep the receiver's queue near
        // the target (5 ms).
        FlowWindow w;
        const Result r = simulate(w, 80'000, 100e6, 6.0);
        QVERIFY2(r.window >= 5'000'000, qPrintable(QString::number(r.window))); // from 1 MiB
        QVERIFY2(r.bytesPerSec > 0.8 * 100e6, qPrintable(QString::number(r.bytesPerSec)));
        QVERIFY2(r.maxQueueUs < 25000, qPrintable(QString::number(r.maxQueueUs)));
    }

    void networkJitterIsNotMistakenForABacklog()
    {
        // 80 ms path with up to 15 ms of jitter on the acknowledgements (in order, so one late
        // acknowledgement holds up the next ones too), a receiver that keeps up (100 MB/s): the
        // window still grows to the bandwidth-delay product. (Jitter beyond a quarter of the
        // base delay is read as queueing: at 30 ms here the rate falls to about a third.)
        FlowWindow w;
        const Result r = simulate(w, 80'000, 100e6, 6.0, 15'000);
        QVERIFY2(r.window >= 8'000'000, qPrintable(QString::number(r.window)));
        QVERIFY2(r.bytesPerSec > 0.8 * 100e6, qPrintable(QString::number(r.bytesPerSec)));
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
            QVERIFY(w.onConsumed(total, now, 0));
            now += 10'000;
        }
        QCOMPARE(w.window(), qint64(1) << 20);
    }
};

QTEST_GUILESS_MAIN(TestFlowWindow)
#include "tst_flowwindow.moc"
