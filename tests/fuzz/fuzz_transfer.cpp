// The file-transfer decoders (core/transfer/transferprotocol.h) on arbitrary payloads, plus the
// path validator on whatever names an offer carries. Invariants: nothing crashes, and every
// offer that decodes only holds names the receiver's path check can judge.
#include "transfer/pathsafety.h"
#include "transfer/transferprotocol.h"

#include <cstdint>
#include <cstdlib>

using namespace Punchline;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const QByteArray payload(reinterpret_cast<const char *>(data), qsizetype(size));
    QString why;
    QByteArray id;
    if (const auto offer = TransferProtocol::decodeOfferPart(payload, &why)) {
        for (const OfferFile &f : offer->files) {
            if (f.size < 0)
                abort(); // the decoder must refuse negative sizes
            const QString normalized = PathSafety::normalizedRelativePath(f.path, &why);
            if (!normalized.isNull()
                && (normalized.startsWith(QLatin1Char('/'))
                    || normalized.split(QLatin1Char('/')).contains(QStringLiteral(".."))))
                abort(); // an accepted name never leaves the download folder
        }
    }
    TransferProtocol::decodeAcceptPart(payload, &why);
    if (const auto consumed = TransferProtocol::decodeConsumed(payload, &why)) {
        if (consumed->totalBytes < 0 || consumed->totalBytes > (qint64(1) << 62)
            || consumed->queueUs < 0)
            abort(); // the decoder must bound the count
    }
    TransferProtocol::decodeIdOnly(payload, &why);
    TransferProtocol::decodeAbort(payload, &why);
    TransferProtocol::decodeFileEnd(payload, &id, &why);
    TransferProtocol::decodeComplete(payload, &id, &why);
    TransferProtocol::decodeDataHeader(payload, &why);
    return 0;
}
