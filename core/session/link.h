#pragma once
// The transport seam (KDE Connect's DeviceLink): a session talks to a Link that carries whole
// frames. TlsLink runs over the punched TCP connection; LoopbackLink (tests/support) pairs two
// sessions in one process for tests; a relay link can come later without touching the session.

#include "common/types.h"

#include <QByteArray>
#include <QObject>

namespace Punchline {

class Link : public QObject
{
    Q_OBJECT
public:
    using QObject::QObject;
    ~Link() override = default;

    // Queues one frame; never blocks. Ignored after close().
    virtual void sendFrame(quint16 type, const QByteArray &payload) = 0;
    // Bytes queued locally and not yet handed to the network: the session uses this for flow
    // control (bulk data is only pulled while this is below a low-water mark).
    virtual qint64 pendingBytes() const = 0;
    // Largest payload the link accepts/delivers (frames above it are a protocol error).
    virtual int maxPayload() const = 0;
    virtual void setMaxPayload(int bytes) = 0;
    // Closes the link; closed() is emitted once (also for closes initiated by the peer/network).
    virtual void close(const Error &why = {}) = 0;
    virtual bool isOpen() const = 0;
    virtual QString describe() const = 0; // e.g. "tls 203.0.113.2:4000 -> 203.0.113.18:4001"
    // Keep at most about this many bytes unsent below the link (the kernel's send buffer:
    // TCP_NOTSENT_LOWAT), since a chat frame waits behind them; the session sets it to what the
    // link drains in a few ms (SendBudget). A no-op for a link without such a buffer.
    virtual void setUnsentLimit(qint64 bytes) { Q_UNUSED(bytes); }

Q_SIGNALS:
    void frameReceived(quint16 type, const QByteArray &payload);
    void writable(); // pendingBytes() dropped below the low-water mark
    void closed(const Punchline::Error &why);
};

} // namespace Punchline
