#include "stallmeter.h"

#include <algorithm>

namespace Punchline {

StallMeter::StallMeter(int intervalMs, QObject *parent)
    : QObject(parent)
    , m_intervalMs(std::max(1, intervalMs))
{
    m_timer.setTimerType(Qt::PreciseTimer);
    m_timer.setInterval(m_intervalMs);
    connect(&m_timer, &QTimer::timeout, this, &StallMeter::onTick);
}

void StallMeter::start()
{
    reset();
    m_timer.start();
}

void StallMeter::stop()
{
    if (m_timer.isActive())
        m_stoppedAtMs = m_clock.elapsed();
    m_timer.stop();
}

qint64 StallMeter::elapsedMs() const
{
    if (m_stoppedAtMs >= 0)
        return m_stoppedAtMs;
    return m_clock.isValid() ? m_clock.elapsed() : 0;
}

void StallMeter::reset()
{
    m_clock.start();
    m_lastNs = 0;
    m_maxStallNs = 0;
    m_totalStallNs = 0;
    m_ticks = 0;
    m_stoppedAtMs = -1;
}

void StallMeter::onTick()
{
    const qint64 now = m_clock.nsecsElapsed();
    const qint64 late = std::max<qint64>(0, now - m_lastNs - qint64(m_intervalMs) * 1000000);
    m_lastNs = now;
    m_maxStallNs = std::max(m_maxStallNs, late);
    m_totalStallNs += late;
    ++m_ticks;
}

} // namespace Punchline
