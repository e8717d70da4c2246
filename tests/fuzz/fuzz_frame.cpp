// FrameDecoder fed in fuzzer-chosen pieces, and every session payload decoder on every frame.
// Invariants: the decoder never returns a payload above its limit, an error is final, and any
// message a decoder accepts survives encode -> decode unchanged.
#include "protocol/frame.h"
#include "protocol/messages.h"

#include <cstdint>
#include <cstdlib>

using namespace Punchline;

namespace {

void check(bool ok)
{
    if (!ok)
        abort();
}

void decodeAll(quint16 type, const QByteArray &payload)
{
    Error e;
    if (const auto h = decodeHello(payload, &e)) {
        const auto again = decodeHello(encodeHello(*h), &e);
        check(again && again->version == h->version && again->minVersion == h->minVersion
            && again->capabilities == h->capabilities && again->displayName == h->displayName
            && again->sessionId == h->sessionId);
    }
    if (const auto c = decodeChat(payload, &e)) {
        const auto again = decodeChat(encodeChat(*c), &e);
        check(again && again->id == c->id && again->text == c->text
            && again->timestampMs == c->timestampMs);
        check(isValidChatId(c->id));
    }
    if (const auto a = decodeChatAck(payload, &e))
        check(decodeChatAck(encodeChatAck(*a), &e)->id == a->id);
    if (const auto p = decodePing(payload, &e)) {
        const auto again = decodePing(encodePing(*p), &e);
        check(again && again->nonce == p->nonce && again->timeMs == p->timeMs);
    }
    if (const auto b = decodeBye(payload, &e))
        check(decodeBye(encodeBye(*b), &e).has_value());
    decodeDone(payload, &e);
    (void)type;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    // First byte: the size limit (0..8 KiB in steps); second: how the rest is cut into pieces.
    const int maxPayload = int(data[0]) * 32;
    const size_t step = 1 + data[1] % 64;
    const QByteArrayView rest(reinterpret_cast<const char *>(data + 2), qsizetype(size - 2));

    // Every decoder straight on the input, as if it were one frame's payload.
    decodeAll(0, rest.toByteArray());

    FrameDecoder decoder(maxPayload);
    bool failed = false;
    for (qsizetype at = 0; at < rest.size(); at += qsizetype(step)) {
        decoder.append(rest.sliced(at, qMin<qsizetype>(qsizetype(step), rest.size() - at)));
        Frame frame;
        Error error;
        for (;;) {
            const FrameDecoder::Status s = decoder.next(&frame, &error);
            if (s == FrameDecoder::Status::NeedMore)
                break;
            if (s == FrameDecoder::Status::Error) {
                check(error.code == ErrorCode::ProtocolError);
                failed = true;
                break;
            }
            check(!failed);
            check(frame.payload.size() <= maxPayload);
            check(encodeFrame(frame.type, frame.payload).size()
                == frame.payload.size() + FrameHeaderSize);
            decodeAll(frame.type, frame.payload);
        }
        if (failed)
            check(decoder.next(nullptr, nullptr) == FrameDecoder::Status::Error);
    }
    check(decoder.bufferedBytes() <= qsizetype(maxPayload) + FrameHeaderSize + qsizetype(step));
    return 0;
}
