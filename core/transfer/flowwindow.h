#pragma once
// FlowWindow: how much file data may be on its way to the peer and not yet written there.
//
// Without it the sender fills every buffer on the path (the receiver's kernel queue grows to
// megabytes when its disk or hash is the slower side), and a chat line queued behind that data
// waits tens of milliseconds. The receiver acknowledges what it has consumed (Consumed frames,
// one per chunk); the sender keeps at most window() bytes unacknowledged and steers the window
// by the delay of those acknowledgements, as LEDBAT does (RFC 6817): the lowest delay seen is the
// path's base; queueing is the current delay above it. The window doubles per round trip until
// queueing reaches half the target (slow start), then is set to what the measured delivery rate
// needs for base + target (or half the window, if more); from there it grows by an eighth of
// the window (at least one chunk) per round trip while queueing
// is under the target, and shrinks above it (with a queue of over four targets at once to
// rate x (base + target), so a slow disk does not keep a deep queue for seconds). At RTT 0 that keeps a few milliseconds of data
// queued; on a long path the window covers the bandwidth-delay product.
// Pure logic with the clock passed in: unit-tested without sockets.

#include <QtGlobal>
#include <array>
#include <deque>
#include <utility>

namespace Punchline {

class FlowWindow
{
public:
    struct Config
    {
        qint64 initialBytes = qint64(1) << 20;
        qint64 minBytes = qint64(512) << 10;
        qint64 maxBytes = qint64(64) << 20;
        qint64 targetQueueUs = 2000; // extra delay the transfer may add (a chat line sees it)
        qint64 stepBytes = qint64(128) << 10; // growth per round trip after slow start
    };

    FlowWindow() : FlowWindow(Config {}) { }
    explicit FlowWindow(const Config &config);

    // A new link: nothing in flight, the window and the base delay start over.
    void reset();
    bool canSend() const { return inFlight() < m_window; }
    // A data frame of `bytes` was handed to the link at `nowUs`.
    void onSent(qint64 bytes, qint64 nowUs);
    // The peer has consumed `totalBytes` since the link came up. False if that is impossible
    // (more than was sent, or less than it said before): the caller treats it as a protocol error.
    bool onConsumed(qint64 totalBytes, qint64 nowUs);

    qint64 window() const { return m_window; }
    qint64 inFlight() const { return m_sent - m_acked; }
    qint64 sentBytes() const { return m_sent; }
    qint64 baseDelayUs() const { return m_baseUs; }
    qint64 queueDelayUs() const { return m_queueUs; }
    double deliveryRate() const { return m_rate; } // bytes per second, 0 until measured
    bool inSlowStart() const { return m_slowStart; }

private:
    Config m_config;
    qint64 m_window = 0;
    qint64 m_sent = 0;
    qint64 m_acked = 0;
    bool m_limited = false;                       // a send found the window full since the last ack
    std::deque<std::pair<qint64, qint64>> m_marks; // (end offset, time sent) per data frame
    qint64 m_baseUs = -1;   // min(m_baseOld, m_baseNew): the lowest delay of the last 30-60 s
    qint64 m_baseOld = -1;
    qint64 m_baseNew = -1;
    qint64 m_bucketStartUs = -1;
    static constexpr qint64 BaseBucketUs = 30'000'000; // a changed route is learned within a minute
    std::array<qint64, 4> m_recent {};             // the last delays; their minimum is "current"
    int m_recentCount = 0;
    int m_recentNext = 0;
    qint64 m_queueUs = 0;
    bool m_slowStart = true;
    double m_rate = 0;
    qint64 m_rateStartUs = -1;
    qint64 m_rateStartBytes = 0;
};

} // namespace Punchline
