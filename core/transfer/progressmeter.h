#pragma once
// Rate and ETA for one transfer, and the throttle that keeps progress updates at ten a second.

#include <QElapsedTimer>
#include <QList>
#include <QtGlobal>

namespace Punchline {

class ProgressMeter
{
public:
    static constexpr qint64 IntervalMs = 100; // at most 10 updates per second
    static constexpr qint64 WindowMs = 3000; // rate over the last few seconds

    // (Re)starts measuring at `bytes` (the rate window is cleared, e.g. after a reconnect).
    void start(qint64 bytes);
    // True when an update should be shown now (first call after start, then every IntervalMs).
    bool tick(qint64 bytes);
    double rateBytesPerSec() const { return m_rate; }
    qint64 etaMs(qint64 remaining) const;
    qint64 elapsedMs() const { return m_clock.isValid() ? m_clock.elapsed() : 0; }
    // Average since start(): the honest figure for a finished transfer.
    double averageRate(qint64 bytes) const;

private:
    struct Sample
    {
        qint64 ms;
        qint64 bytes;
    };
    QElapsedTimer m_clock;
    QList<Sample> m_samples;
    qint64 m_startBytes = 0;
    qint64 m_lastTickMs = -1;
    double m_rate = 0;
};

} // namespace Punchline
