#pragma once
// Punchline's framing, kept apart from sockets so it can be unit-tested and fuzzed:
//   u32 big-endian payload length | u16 big-endian frame type | payload
// The declared length is checked against the limit as soon as the 6-byte header is complete,
// before any memory is reserved for the payload.

#include "common/types.h"

#include <QByteArray>
#include <QByteArrayView>

namespace Punchline {

struct Frame
{
    quint16 type = 0;
    QByteArray payload;
};

constexpr int FrameHeaderSize = 6;

// Header + payload, ready for the wire. The caller keeps payloads below the peer's limit.
QByteArray encodeFrame(quint16 type, QByteArrayView payload);

// Incremental decoder: feed bytes as they arrive, then call next() until it returns NeedMore.
class FrameDecoder
{
public:
    enum class Status { NeedMore, Frame, Error };

    static constexpr int DefaultMaxPayload = 8 * 1024;

    explicit FrameDecoder(int maxPayload = DefaultMaxPayload);

    // Applies to frames whose header has not been read yet (also to the one being assembled if
    // its declared length is above the new limit).
    void setMaxPayload(int bytes);
    int maxPayload() const { return m_maxPayload; }

    // Ignored once the decoder is in error.
    void append(QByteArrayView data);
    // Frame: *out holds the next frame. Error: *err says why; every later call returns Error.
    Status next(Frame *out, Error *err = nullptr);

    bool hasError() const { return m_error.isError(); }
    Error error() const { return m_error; }
    // Bytes received but not yet returned as frames.
    qsizetype bufferedBytes() const { return m_buffer.size() - m_offset; }

private:
    Status fail(ErrorCode code, const QString &message, Error *err);

    QByteArray m_buffer;
    qsizetype m_offset = 0; // start of unread data in m_buffer (compacted lazily)
    int m_maxPayload;
    Error m_error;
};

} // namespace Punchline
