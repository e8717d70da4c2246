#include "loopbackpump.h"

#include <QTimer>

namespace Punchline {

namespace {
constexpr qint64 BytesPerTurn = 8 * 1024 * 1024; // then back to the event loop
}

LoopbackPump::LoopbackPump(TransferHandler *a, TransferHandler *b, QObject *parent)
    : QObject(parent)
    , m_side { a, b }
{
    for (int side = 0; side < 2; ++side) {
        QPointer<LoopbackPump> self(this);
        m_side[side]->setSendControl([self, side](quint16 type, const QByteArray &payload) {
            if (self)
                self->enqueue(side, type, payload);
        });
        m_side[side]->bulkAvailable = [self] {
            if (self)
                self->schedule();
        };
    }
}

LoopbackPump::~LoopbackPump()
{
    for (TransferHandler *handler : m_side) {
        handler->setSendControl(nullptr);
        handler->bulkAvailable = nullptr;
    }
}

void LoopbackPump::setUp(bool up)
{
    if (up == m_up)
        return;
    m_up = up;
    for (int side = 0; side < 2; ++side) {
        m_queue[side].clear();
        m_queuedBytes[side] = 0;
    }
    for (TransferHandler *handler : m_side) {
        if (up) {
            handler->setPeerCapabilities({ QLatin1String(TransferHandler::FlowCapability) });
            handler->onLinkUp();
        } else
            handler->onLinkDown();
    }
    schedule();
}

void LoopbackPump::setBulkPaused(bool paused)
{
    m_paused = paused;
    schedule();
}

void LoopbackPump::enqueue(int from, quint16 type, const QByteArray &payload)
{
    if (!m_up)
        return;
    m_queue[from].push_back({ type, payload });
    m_queuedBytes[from] += payload.size();
    schedule();
}

void LoopbackPump::schedule()
{
    if (m_scheduled)
        return;
    m_scheduled = true;
    QTimer::singleShot(0, this, &LoopbackPump::pump);
}

void LoopbackPump::pump()
{
    m_scheduled = false;
    if (!m_up)
        return;
    bool more = false;
    for (int from = 0; from < 2; ++from) {
        const int to = 1 - from;
        qint64 moved = 0;
        while (moved < BytesPerTurn && m_up) {
            // Like the session: pull file data only while the link has room.
            if (!m_paused && m_queuedBytes[from] < lowWaterMark) {
                if (auto frame = m_side[from]->nextBulkFrame()) {
                    m_queue[from].push_back({ frame->first, std::move(frame->second) });
                    m_queuedBytes[from] += m_queue[from].back().payload.size();
                }
            }
            if (m_queue[from].empty())
                break;
            Frame frame = std::move(m_queue[from].front());
            m_queue[from].pop_front();
            m_queuedBytes[from] -= frame.payload.size();
            moved += frame.payload.size();
            if (filter && !filter(from, frame.type, frame.payload))
                continue;
            m_delivered[to] += frame.payload.size();
            m_side[to]->handleFrame(frame.type, frame.payload);
        }
        if (moved >= BytesPerTurn || !m_queue[from].empty())
            more = true;
    }
    if (more)
        schedule();
}

} // namespace Punchline
