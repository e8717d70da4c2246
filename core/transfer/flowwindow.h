#pragma once
// FlowWindow: how much file data may be on its way to the peer and not yet written there.
//
// Without it the sender fills every buffer on the path (the receiver's kernel queue grew to 4 MB
// on loopback when its disk and hash were the slower side), and a chat line queued behind that
// data waited 18 ms. The receiver takes file data off the link at once and writes it from a
// queue, in slices (so a chat frame that has been read is handled at once), acknowledges every
// chunk it has written (Consumed) and says how long the chunk waited in that queue. The sender
// keeps at most window() bytes unacknowledged and steers the window by queueing, as LEDBAT does
// (RFC 6817): the lowest acknowledgement delay of the last 30-60 s is the base; queueing is the
// delay above it (what a chat line waits behind: sender buffers, network, the receiver's kernel
// buffer), against a target of max(5 ms, base / 4) so a long path's jitter does not hold the
// window down, and the receiver's reported wait, against 5 ms; each the least of the last 8
// samples. The window doubles per round trip while both are under target (slow start), then
// grows by an eighth of the window (at least one chunk) per round trip under target and shrinks
// above it; a queue over 100 ms (a slow disk) cuts it at once to what the measured delivery
// rate needs for base delay + target.
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
        qint64 maxBytes = qint64(32) << 20;
        qint64 targetQueueUs = 5000; // extra delay the transfer may add (a chat line sees it)
        qint64 stepBytes = qint64(128) << 10; // growth per round trip after slow start
    };

    FlowWindow()
        : FlowWindow(Config {})
    {
    }
    explicit FlowWindow(const Config &config);

    // A new link: nothing in flight, the window and the base delay start over.
    void reset();
    bool canSend() const { return inFlight() < m_window; }
    // A data frame of `bytes` was handed to the link at `nowUs`.
    void onSent(qint64 bytes, qint64 nowUs);
    // The peer has consumed `totalBytes` since the link came up; the last chunk waited
    // `receiverQueueUs` in its queue. False if that is impossible (more than was sent, or less
    // than it said before): the caller ignores it.
    bool onConsumed(qint64 totalBytes, qint64 nowUs, qint64 receiverQueueUs);

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
    bool m_limited = false; // a send found the window full since the last ack
    std::deque<std::pair<qint64, qint64>> m_marks; // (end offset, time sent) per data frame
    qint64 m_baseUs = -1; // min(m_baseOld, m_baseNew): the lowest delay of the last 30-60 s
    qint64 m_baseOld = -1;
    qint64 m_baseNew = -1;
    qint64 m_bucketStartUs = -1;
    static constexpr qint64 DeepQueueUs = 100'000; // over this, the rate-fitted cut
    static constexpr qint64 BaseBucketUs = 30'000'000; // a changed route is learned within a minute
    std::array<qint64, 8> m_recentPath {}; // recent delays above the base
    std::array<qint64, 8> m_recentRx {}; // the receiver's recent reported waits
    int m_recentCount = 0;
    int m_recentNext = 0;
    qint64 m_queueUs = 0;
    bool m_slowStart = true;
    double m_rate = 0;
    qint64 m_rateStartUs = -1;
    qint64 m_rateStartBytes = 0;
};

} // namespace Punchline
