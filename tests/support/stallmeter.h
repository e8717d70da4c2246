#pragma once
// Measures how responsive the event loop of the current thread is: a precise timer ticks every
// intervalMs and records how late each tick came. The largest lateness is the longest time the
// window could not react to the user. Used by tests and benchmarks (never for assertions by
// default: the figure depends on the machine); test support, not shipped.

#include <QElapsedTimer>
#include <QObject>
#include <QTimer>

namespace Punchline {

class StallMeter : public QObject
{
    Q_OBJECT
public:
    explicit StallMeter(int intervalMs = 10, QObject *parent = nullptr);

    void start(); // also resets the figures
    void stop();
    void reset();
    bool isRunning() const { return m_timer.isActive(); }

    int intervalMs() const { return m_intervalMs; }
    double maxStallMs() const { return m_maxStallNs / 1e6; } // worst lateness of one tick
    double meanStallMs() const { return m_ticks ? double(m_totalStallNs) / m_ticks / 1e6 : 0.0; }
    qint64 ticks() const { return m_ticks; }
    qint64 elapsedMs() const; // measured time (up to stop())

private:
    void onTick();

    QTimer m_timer;
    QElapsedTimer m_clock;
    int m_intervalMs;
    qint64 m_lastNs = 0;
    qint64 m_maxStallNs = 0;
    qint64 m_totalStallNs = 0;
    qint64 m_ticks = 0;
    qint64 m_stoppedAtMs = -1;
};

} // namespace Punchline
