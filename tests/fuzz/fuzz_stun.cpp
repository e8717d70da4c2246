// The STUN codec (core/stun/stunmessage.h): parse() on arbitrary bytes, peekFrame() on a stream,
// and the accessors of whatever parses. Invariants: peekFrame never claims more bytes than it
// was given, and a message parse() accepts re-encodes to bytes parse() accepts again.
#include "stun/stunmessage.h"

#include <cstdint>
#include <cstdlib>

using namespace Punchline;

namespace {

void check(bool ok)
{
    if (!ok)
        abort();
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const QByteArrayView bytes(reinterpret_cast<const char *>(data), qsizetype(size));

    const StunFrame frame = StunMessage::peekFrame(bytes);
    if (frame.status == StunFrame::Status::Complete) {
        check(frame.size > 0 && frame.size <= bytes.size() && frame.size <= StunMessage::maxSize);
        StunMessage::parse(bytes.first(frame.size));
    }

    const StunParseResult result = StunMessage::parse(bytes);
    check(result.ok() == (result.error == StunParseError::None));
    if (!result.ok())
        return 0;
    const StunMessage &m = *result.message;
    check(m.transactionId().size() == StunMessage::transactionIdSize);
    (void)m.xorMappedAddress();
    (void)m.mappedAddress();
    (void)m.reflexiveAddress();
    (void)m.errorAttribute();
    (void)m.software();
    (void)m.unknownRequiredAttributes();
    (void)m.isResponseTo(StunMessage::bindingRequest());

    // Rebuilt without the original FINGERPRINT (toBytes adds a fresh one if asked).
    StunMessage copy(m.messageClass(), m.method(), m.transactionId());
    for (const StunMessage::Attribute &a : m.attributes()) {
        if (a.type != StunAttribute::Fingerprint)
            copy.addAttribute(a.type, a.value);
    }
    const QByteArray encoded = copy.toBytes(true);
    if (encoded.size() <= StunMessage::maxSize) {
        const StunParseResult again = StunMessage::parse(encoded);
        check(again.ok());
        check(again.message->transactionId() == m.transactionId());
    }
    return 0;
}
