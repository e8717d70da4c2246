#pragma once
// SendBudget: how much file data may wait on the sending side (in the link's buffer, and unsent
// in the kernel: TCP_NOTSENT_LOWAT) ahead of a chat line.
//
// A chat frame cannot overtake bytes already handed to the link or the kernel, so whatever waits
// there is a chat line's wait: 128 KiB in each was 15 ms at the 17 MB/s the lab carried at
// RTT 80 beside a chat (issue 15 target 5), and 0.8 ms at 300 MB/s on loopback. The budget is
// what the link drains in `targetUs` at the measured rate (the best of the last few intervals,
// so a stall that the small budget itself caused does not shrink it further), within
// [minBytes, maxBytes]: enough that the kernel never runs dry while the network thread comes
// back for more, little enough that a chat line waits a few ms at most.
// Pure logic with the clock passed in: unit-tested without sockets.

#include <QtGlobal>
#include <array>

namespace Punchline {

class SendBudget
{
public:
    struct Config
    {
        qint64 targetUs = 3000;
        qint64 minBytes = qint64(32) << 10;
        qint64 maxBytes = qint64(128) << 10;
        qint64 intervalUs = 50'000; // a rate sample per interval of at least this
    };

    SendBudget()
        : SendBudget(Config {})
    {
    }
    explicit SendBudget(const Config &config);

    // A new link: no rate known, the budget is the maximum until measured.
    void reset();
    // `drainedBytes`: bulk bytes the link has passed on (handed to it minus still pending) since
    // reset, at `nowUs`; `backlogged`: the sender had more to send (the budget, not the
    // transfer, was the limit), so the interval measures what the path takes.
    void update(qint64 drainedBytes, qint64 nowUs, bool backlogged);
    qint64 bytes() const { return m_budget; }
    double rate() const; // bytes per second, 0 until measured

private:
    Config m_config;
    qint64 m_budget = 0;
    qint64 m_startUs = -1;
    qint64 m_startBytes = 0;
    bool m_intervalBacklogged = true;
    std::array<double, 4> m_rates {};
    int m_count = 0;
    int m_next = 0;
};

} // namespace Punchline
