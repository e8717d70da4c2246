// PeerCode::decode and parsePeerInput on arbitrary text (as UTF-8 and as UTF-16, so that odd
// characters appear). Invariant: a code that decodes re-encodes to a code that decodes to the
// same value.
#include "identity/peercode.h"

#include <cstdint>
#include <cstdlib>

using namespace Punchline;

namespace {

void check(bool ok)
{
    if (!ok)
        abort();
}

void run(const QString &text)
{
    Error e;
    const auto code = PeerCode::decode(text, &e);
    if (code) {
        check(e.code == ErrorCode::None);
        check(code->fingerprint.size() == PeerCode::FingerprintBytes);
        check(code->candidates.size() <= PeerCode::MaxCandidates);
        check(code->name.toUtf8().size() <= PeerCode::MaxNameBytes);
        const QString again = code->encode();
        const auto decoded = PeerCode::decode(again, &e);
        check(decoded && *decoded == *code);
    } else {
        check(e.code == ErrorCode::BadCode || e.code == ErrorCode::CodeChecksum
            || e.code == ErrorCode::CodeVersion);
        check(!e.message.isEmpty());
    }
    const PeerInput in = parsePeerInput(text);
    check(in.isValid() == (in.code.has_value() || !in.addresses.isEmpty()));
    check(in.isValid() || !in.error.message.isEmpty());
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 4096)
        return 0;
    run(QString::fromUtf8(reinterpret_cast<const char *>(data), qsizetype(size)));
    if (size % 2 == 0)
        run(QString::fromUtf16(reinterpret_cast<const char16_t *>(data), qsizetype(size / 2)));
    return 0;
}
