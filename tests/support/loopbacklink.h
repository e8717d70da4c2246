#pragma once
// Two Links joined inside one process, for tests and benchmarks (test support, not shipped). Frames
// go through the real wire format (encodeFrame + FrameDecoder, with the receiver's size limit), are
// delivered from the event loop (never from inside sendFrame), and pendingBytes() grows while the
// "wire" drains at bytesPerTick per event-loop turn, so flow control behaves as over a socket.

#include "protocol/frame.h"
#include "session/link.h"

#include <QPointer>
#include <utility>

namespace Punchline {

class LoopbackLink : public Link
{
    Q_OBJECT
public:
    static constexpr qint64 LowWaterMark = qint64(256) * 1024;

    // Two open links, parentless: the caller owns both (delete with deleteLater()).
    static std::pair<LoopbackLink *, LoopbackLink *> createPair(const QString &name = QString());
    ~LoopbackLink() override;

    void sendFrame(quint16 type, const QByteArray &payload) override;
    qint64 pendingBytes() const override { return m_wire.size() - m_wireOffset; }
    int maxPayload() const override { return m_decoder.maxPayload(); }
    void setMaxPayload(int bytes) override { m_decoder.setMaxPayload(bytes); }
    // Both ends close (like TCP): this one with `why`, the other with PeerLost.
    void close(const Error &why = {}) override;
    bool isOpen() const override { return m_open; }
    QString describe() const override;

    // Test hooks.
    // Bytes moved to the other end per event-loop turn (default 64 KiB).
    void setBytesPerTick(qint64 bytes) { m_bytesPerTick = qMax<qint64>(1, bytes); }
    // A cable cut that nobody notices: everything sent from now on vanishes, nothing closes.
    void setBlackhole(bool on) { m_blackhole = on; }
    // A peer that stops reading (on = false): nothing more moves from the other end to this
    // one, so what the other end sends piles up in its pendingBytes(), as in a full socket.
    void setReading(bool on);
    // Raw bytes onto the wire, bypassing framing (garbage, hand-made frames).
    void sendRaw(const QByteArray &bytes);
    LoopbackLink *peer() const { return m_peer; }

private:
    explicit LoopbackLink(const QString &name);
    void scheduleFlush();
    void flush();
    void receive(QByteArrayView bytes);
    void finish(const Error &why);

    QString m_name;
    QPointer<LoopbackLink> m_peer;
    FrameDecoder m_decoder;
    QByteArray m_wire; // sent, not yet delivered
    qsizetype m_wireOffset = 0;
    qint64 m_bytesPerTick = qint64(64) * 1024;
    bool m_open = true;
    bool m_flushScheduled = false;
    bool m_blackhole = false;
    bool m_reading = true;
    bool m_draining = false; // closed by us; still delivering what was sent before close()
    Error m_peerWhy;
};

} // namespace Punchline
