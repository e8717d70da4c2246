#include "flowwindow.h"

#include <algorithm>

namespace Punchline {

FlowWindow::FlowWindow(const Config &config)
    : m_config(config)
{
    reset();
}

void FlowWindow::reset()
{
    m_window = std::clamp(m_config.initialBytes, m_config.minBytes, m_config.maxBytes);
    m_sent = 0;
    m_acked = 0;
    m_limited = false;
    m_marks.clear();
    m_baseUs = -1;
    m_baseOld = -1;
    m_baseNew = -1;
    m_bucketStartUs = -1;
    m_recentCount = 0;
    m_recentNext = 0;
    m_queueUs = 0;
    m_slowStart = true;
    m_rate = 0;
    m_rateStartUs = -1;
    m_rateStartBytes = 0;
}

void FlowWindow::onSent(qint64 bytes, qint64 nowUs)
{
    m_sent += bytes;
    m_marks.emplace_back(m_sent, nowUs);
    if (inFlight() >= m_window)
        m_limited = true;
}

bool FlowWindow::onConsumed(qint64 totalBytes, qint64 nowUs, qint64 receiverQueueUs)
{
    if (totalBytes < m_acked || totalBytes > m_sent)
        return false;
    const qint64 newly = totalBytes - m_acked;
    m_acked = totalBytes;
    qint64 sentAt = -1;
    while (!m_marks.empty() && m_marks.front().first <= totalBytes) {
        sentAt = m_marks.front().second;
        m_marks.pop_front();
    }
    if (sentAt < 0 || newly == 0)
        return true; // inside a frame (cannot happen with one ack per frame): no delay sample
    const qint64 delay = std::max<qint64>(0, nowUs - sentAt);
    if (m_bucketStartUs < 0 || nowUs - m_bucketStartUs >= BaseBucketUs) {
        m_baseOld = m_baseNew;
        m_baseNew = -1;
        m_bucketStartUs = nowUs;
    }
    m_baseNew = m_baseNew < 0 ? delay : std::min(m_baseNew, delay);
    m_baseUs = m_baseOld < 0 ? m_baseNew : std::min(m_baseOld, m_baseNew);
    // Queueing, two ways, each the least of the last 8 samples (so jitter is not read as a
    // queue): the delay above the base (sender buffers, network, the receiver's kernel buffer:
    // what a chat line queues behind), and the receiver's reported wait in its own queue.
    m_recentPath[size_t(m_recentNext)] = delay - m_baseUs;
    m_recentRx[size_t(m_recentNext)] = std::max<qint64>(0, receiverQueueUs);
    m_recentNext = (m_recentNext + 1) % int(m_recentRx.size());
    m_recentCount = std::min(m_recentCount + 1, int(m_recentRx.size()));
    const qint64 pathQueue
        = *std::min_element(m_recentPath.begin(), m_recentPath.begin() + m_recentCount);
    const qint64 rxQueue
        = *std::min_element(m_recentRx.begin(), m_recentRx.begin() + m_recentCount);
    m_queueUs = std::max(pathQueue, rxQueue);

    // Delivery rate over intervals of at least a base delay (and 5 ms).
    if (m_rateStartUs < 0) {
        m_rateStartUs = nowUs;
        m_rateStartBytes = m_acked;
    } else if (nowUs - m_rateStartUs >= std::max<qint64>(m_baseUs, 5000)) {
        m_rate = double(m_acked - m_rateStartBytes) * 1e6 / double(nowUs - m_rateStartUs);
        m_rateStartUs = nowUs;
        m_rateStartBytes = m_acked;
    }
    // The target, but never under two chunks' worth of service time: at 100 MB/s one 128 KiB
    // chunk alone takes 1.3 ms, and a window cannot be finer than a chunk.
    qint64 target = m_config.targetQueueUs;
    if (m_rate > 0)
        target = std::max(target, qint64(2e6 * double(m_config.stepBytes) / m_rate));
    const auto fitted = [&] { return qint64(m_rate * double(m_baseUs + target) / 1e6); };
    // The path may queue a quarter of its base delay if that is more than the target: on a long
    // path jitter of a few ms is normal and must not hold the window down.
    const qint64 pathTarget = std::max(target, m_baseUs / 4);
    // off_target in [-1, 1]: +1 with empty queues, 0 at a target, -1 at twice a target.
    const double load
        = std::max(double(pathQueue) / double(pathTarget), double(rxQueue) / double(target));
    const double offTarget = std::clamp(1.0 - load, -1.0, 1.0);
    if (m_slowStart) {
        if (offTarget > 0 || m_rate <= 0) { // the first burst always queues a little
            if (m_limited)
                m_window += newly; // doubles per round trip
        } else {
            m_slowStart = false;
            m_window = std::max(m_rate > 0 ? fitted() : 0, m_window / 2);
        }
    } else if (offTarget >= 0) {
        // Grow only when the window was what held the sender back (not the disk or an idle
        // user): per round trip at an empty queue, an eighth of the window or stepBytes.
        const double step = double(std::max(m_config.stepBytes, m_window / 8));
        if (m_limited)
            m_window += qint64(offTarget * step * double(newly) / double(m_window));
    } else {
        m_window += qint64(offTarget * 0.5 * double(newly)); // halves per round trip at 2x target
        if (m_rate > 0 && m_queueUs > DeepQueueUs)
            m_window = std::min(m_window, fitted()); // a deep queue (slow disk): cut at once
    }
    m_window = std::clamp(m_window, m_config.minBytes, m_config.maxBytes);
    m_limited = inFlight() >= m_window;
    return true;
}

} // namespace Punchline
