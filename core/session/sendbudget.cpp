#include "sendbudget.h"

#include <algorithm>

namespace Punchline {

SendBudget::SendBudget(const Config &config)
    : m_config(config)
{
    reset();
}

void SendBudget::reset()
{
    m_budget = m_config.maxBytes;
    m_startUs = -1;
    m_startBytes = 0;
    m_intervalBacklogged = true;
    m_count = 0;
    m_next = 0;
}

double SendBudget::rate() const
{
    if (m_count == 0)
        return 0;
    return *std::max_element(m_rates.begin(), m_rates.begin() + m_count);
}

void SendBudget::update(qint64 drainedBytes, qint64 nowUs, bool backlogged)
{
    if (m_startUs < 0 || drainedBytes < m_startBytes) {
        m_startUs = nowUs;
        m_startBytes = drainedBytes;
        m_intervalBacklogged = backlogged;
        return;
    }
    m_intervalBacklogged = m_intervalBacklogged && backlogged;
    if (nowUs - m_startUs < m_config.intervalUs)
        return;
    // Only an interval the sender kept busy all along says what the path takes; an idle one
    // (the user, the disk or the flow window held the data back) says nothing about it.
    if (m_intervalBacklogged) {
        m_rates[size_t(m_next)]
            = double(drainedBytes - m_startBytes) * 1e6 / double(nowUs - m_startUs);
        m_next = (m_next + 1) % int(m_rates.size());
        m_count = std::min(m_count + 1, int(m_rates.size()));
        m_budget = std::clamp(
            qint64(rate() * double(m_config.targetUs) / 1e6), m_config.minBytes, m_config.maxBytes);
    }
    m_startUs = nowUs;
    m_startBytes = drainedBytes;
    m_intervalBacklogged = backlogged;
}

} // namespace Punchline
