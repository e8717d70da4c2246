#include "progressmeter.h"

namespace Punchline {

void ProgressMeter::start(qint64 bytes)
{
    m_clock.start();
    m_samples.clear();
    m_samples.append({ 0, bytes });
    m_startBytes = bytes;
    m_lastTickMs = -1;
    m_rate = 0;
}

bool ProgressMeter::tick(qint64 bytes)
{
    if (!m_clock.isValid())
        start(bytes);
    const qint64 now = m_clock.elapsed();
    if (m_lastTickMs >= 0 && now - m_lastTickMs < IntervalMs)
        return false;
    m_lastTickMs = now;
    m_samples.append({ now, bytes });
    while (m_samples.size() > 2 && now - m_samples.at(1).ms >= WindowMs)
        m_samples.removeFirst();
    const Sample &oldest = m_samples.first();
    if (now > oldest.ms)
        m_rate = double(bytes - oldest.bytes) * 1000.0 / double(now - oldest.ms);
    return true;
}

qint64 ProgressMeter::etaMs(qint64 remaining) const
{
    if (m_rate <= 0)
        return -1;
    return qint64(double(remaining) * 1000.0 / m_rate);
}

double ProgressMeter::averageRate(qint64 bytes) const
{
    const qint64 ms = elapsedMs();
    return ms > 0 ? double(bytes - m_startBytes) * 1000.0 / double(ms) : 0;
}

} // namespace Punchline
