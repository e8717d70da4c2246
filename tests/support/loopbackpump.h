#pragma once
// Carries frames between two TransferHandlers in one process the way a Session over a Link
// does: control frames in order, bulk frames pulled only while the "link" holds less than a
// low-water mark. For tests of the transfer module without sockets, TLS or a Session (test
// support, not shipped); bench/transfer runs the real Session over a LoopbackLink instead.

#include "session/transferhandler.h"

#include <QObject>
#include <QPointer>
#include <deque>
#include <functional>

namespace Punchline {

class LoopbackPump : public QObject
{
    Q_OBJECT
public:
    // Side 0 is `a`, side 1 is `b`. Installs itself as both handlers' sender; the link starts
    // down (call setUp(true)).
    LoopbackPump(TransferHandler *a, TransferHandler *b, QObject *parent = nullptr);
    ~LoopbackPump() override;

    // Up: onLinkUp() on both. Down: frames in flight are lost, onLinkDown() on both.
    void setUp(bool up);
    bool isUp() const { return m_up; }
    // Stops pulling bulk frames (control frames still flow); queued frames are still delivered.
    void setBulkPaused(bool paused);
    // Nothing queued in either direction.
    bool isQuiet() const { return m_queue[0].empty() && m_queue[1].empty(); }
    qint64 lowWaterMark = 1024 * 1024;

    // Sees (and may change) every frame before delivery; returning false drops it.
    std::function<bool(int fromSide, quint16 type, QByteArray &payload)> filter;
    qint64 bytesDelivered(int toSide) const { return m_delivered[toSide]; }

private:
    struct Frame
    {
        quint16 type;
        QByteArray payload;
    };
    void enqueue(int from, quint16 type, const QByteArray &payload);
    void schedule();
    void pump();

    TransferHandler *m_side[2];
    std::deque<Frame> m_queue[2]; // frames from side i to the other side
    qint64 m_queuedBytes[2] = { 0, 0 };
    qint64 m_delivered[2] = { 0, 0 };
    bool m_up = false;
    bool m_paused = false;
    bool m_scheduled = false;
};

} // namespace Punchline
