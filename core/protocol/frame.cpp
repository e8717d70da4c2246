#include "frame.h"

#include <QtEndian>

namespace Punchline {

QByteArray encodeFrame(quint16 type, QByteArrayView payload)
{
    QByteArray out;
    out.resize(FrameHeaderSize + payload.size());
    char *p = out.data();
    qToBigEndian<quint32>(quint32(payload.size()), p);
    qToBigEndian<quint16>(type, p + 4);
    if (!payload.isEmpty())
        memcpy(p + FrameHeaderSize, payload.data(), size_t(payload.size()));
    return out;
}

FrameDecoder::FrameDecoder(int maxPayload)
    : m_maxPayload(qMax(0, maxPayload))
{
}

void FrameDecoder::setMaxPayload(int bytes)
{
    m_maxPayload = qMax(0, bytes);
}

void FrameDecoder::append(QByteArrayView data)
{
    if (hasError() || data.isEmpty())
        return;
    // Drop consumed bytes before growing, so a long stream does not accumulate.
    if (m_offset > 0 && (m_offset >= m_buffer.size() / 2 || m_offset > qsizetype(64) * 1024)) {
        m_buffer.remove(0, m_offset);
        m_offset = 0;
    }
    m_buffer.append(data.data(), data.size());
}

FrameDecoder::Status FrameDecoder::fail(ErrorCode code, const QString &message, Error *err)
{
    m_error = Error { code, message };
    m_buffer.clear();
    m_offset = 0;
    if (err)
        *err = m_error;
    return Status::Error;
}

FrameDecoder::Status FrameDecoder::next(Frame *out, Error *err)
{
    if (hasError()) {
        if (err)
            *err = m_error;
        return Status::Error;
    }
    const qsizetype available = m_buffer.size() - m_offset;
    if (available < FrameHeaderSize)
        return Status::NeedMore;
    const char *p = m_buffer.constData() + m_offset;
    const quint32 length = qFromBigEndian<quint32>(p);
    const quint16 type = qFromBigEndian<quint16>(p + 4);
    if (length > quint32(m_maxPayload)) {
        return fail(ErrorCode::ProtocolError,
            QStringLiteral("the other side sent a frame of %1 bytes (type %2), more than "
                           "the %3 bytes allowed at this point")
                .arg(length)
                .arg(type)
                .arg(m_maxPayload),
            err);
    }
    if (available - FrameHeaderSize < qsizetype(length))
        return Status::NeedMore;
    if (out) {
        out->type = type;
        out->payload = QByteArray(p + FrameHeaderSize, qsizetype(length));
    }
    m_offset += FrameHeaderSize + qsizetype(length);
    if (m_offset == m_buffer.size()) {
        m_buffer.clear(); // keeps no capacity around for the next burst beyond what it needs
        m_offset = 0;
    }
    return Status::Frame;
}

} // namespace Punchline
