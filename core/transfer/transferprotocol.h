#pragma once
// The file-transfer wire format (frame types 0x0100-0x01FF), as pure functions from values to
// payloads and back so it can be unit tested and fuzzed apart from any file or socket code.
//
// Control frames are CBOR maps; every field's type and range is checked on decode. Data chunks
// are a 28-byte big-endian header followed by raw bytes:
//   Offer    0x0100 {v:1, id:bytes16, count:uint, total:uint, first:uint,
//                    files:[{p:text, s:uint, m:int}]}       (split into parts, in order)
//   Accept   0x0101 {id, count:uint, first:uint, entries:[{i:uint, o:uint, h:bytes32, c:bool}]}
//   Decline  0x0102 {id}
//   Cancel   0x0103 {id}
//   Abort    0x0104 {id, code:text, msg:text}
//   FileEnd  0x0105 {id, i:uint, h:bytes32}                  (sent in the bulk stream)
//   Complete 0x0106 {id, h:bytes32}
//   Consumed 0x0107 u64 bytes processed since link up | u32 queue wait us (receiver -> sender)
//   Data     0x0110 id[16] | index u32 | offset u64 | bytes

#include "common/types.h"

#include <QByteArray>
#include <QList>
#include <QString>
#include <optional>

namespace Punchline {

struct OfferFile
{
    QString path; // relative, '/'-separated (validated by the receiver)
    qint64 size = 0;
    qint64 mtimeMs = 0; // sender's modification time: part of the file's identity for resume
};

struct OfferPart
{
    QByteArray id;
    int count = 0; // files in the whole offer
    qint64 total = 0; // bytes in the whole offer
    int first = 0; // index of files[0] in the whole offer
    QList<OfferFile> files;
};

// What the receiver already has of one file: `offset` bytes whose SHA-256 is `prefixHash`;
// `complete` when the file is already verified and in place (then offset == size).
struct ResumeEntry
{
    int index = 0;
    qint64 offset = 0;
    QByteArray prefixHash;
    bool complete = false;
};

struct AcceptPart
{
    QByteArray id;
    int count = 0; // entries in the whole answer
    int first = 0;
    QList<ResumeEntry> entries;
};

struct DataHeader
{
    QByteArray id;
    quint32 index = 0;
    quint64 offset = 0;
};

class TransferProtocol
{
public:
    enum FrameType : quint16 {
        Offer = 0x0100,
        Accept = 0x0101,
        Decline = 0x0102,
        Cancel = 0x0103,
        Abort = 0x0104,
        FileEnd = 0x0105,
        Complete = 0x0106,
        Consumed = 0x0107,
        Data = 0x0110,
    };

    static constexpr int Version = 1;
    static constexpr int IdSize = 16;
    static constexpr int HashSize = 32;
    static constexpr int DataHeaderSize = IdSize + 4 + 8;
    static constexpr int ChunkSize = 256 * 1024; // the most one Data frame may carry
    static constexpr int SendChunkSize
        = 128 * 1024; // what our sender puts in one (finer interleaving with chat)
    static constexpr int MaxFiles = 100000;
    static constexpr qint64 MaxTotalBytes = qint64(1) << 50;
    static constexpr int PartBudgetBytes = 256 * 1024; // target size of one Offer/Accept part
    static constexpr int MaxRawPathChars = 4096; // before normalisation
    static constexpr int MaxMessageChars = 500;

    static QList<QByteArray> encodeOffer(
        const QByteArray &id, const QList<OfferFile> &files, qint64 total);
    static std::optional<OfferPart> decodeOfferPart(const QByteArray &payload, QString *why);

    static QList<QByteArray> encodeAccept(const QByteArray &id, const QList<ResumeEntry> &entries);
    static std::optional<AcceptPart> decodeAcceptPart(const QByteArray &payload, QString *why);

    // Decline and Cancel carry just the id.
    static QByteArray encodeIdOnly(const QByteArray &id);
    static std::optional<QByteArray> decodeIdOnly(const QByteArray &payload, QString *why);

    static QByteArray encodeAbort(const QByteArray &id, const Error &error);
    // The code is mapped back to an ErrorCode; unknown codes become ProtocolError.
    static std::optional<std::pair<QByteArray, Error>> decodeAbort(
        const QByteArray &payload, QString *why);

    static QByteArray encodeFileEnd(const QByteArray &id, int index, const QByteArray &hash);
    static std::optional<std::pair<int, QByteArray>> decodeFileEnd(
        const QByteArray &payload, QByteArray *id, QString *why);

    static QByteArray encodeComplete(const QByteArray &id, const QByteArray &hash);
    static std::optional<QByteArray> decodeComplete(
        const QByteArray &payload, QByteArray *id, QString *why);

    // Consumed: u64 big-endian, the Data payload bytes the receiver has processed since the link
    // came up, then u32 big-endian, how long (microseconds) the last of them waited in the
    // receiver's queue before it was written (flow control, see FlowWindow). Exactly 12 bytes;
    // the count at most 2^62.
    struct ConsumedReport
    {
        qint64 totalBytes = 0;
        qint64 queueUs = 0;
    };
    static QByteArray encodeConsumed(qint64 totalBytes, qint64 queueUs);
    static std::optional<ConsumedReport> decodeConsumed(const QByteArray &payload, QString *why);

    static void writeDataHeader(char *out, const QByteArray &id, quint32 index, quint64 offset);
    static QByteArray encodeData(
        const QByteArray &id, quint32 index, quint64 offset, const QByteArray &bytes);
    static std::optional<DataHeader> decodeDataHeader(const QByteArray &payload, QString *why);

    // Transfer ids: 16 bytes on the wire, a QUuid string ("WithoutBraces") in TransferInfo and
    // the API. idFromText returns an empty array for anything else.
    static QString idToText(const QByteArray &id);
    static QByteArray idFromText(const QString &text);

    // Reads the id of any control frame (to answer a malformed one with Abort).
    static QByteArray peekId(const QByteArray &payload);

    // The hash a finished transfer reports: for one file its SHA-256; for several, the SHA-256 of
    // the manifest "<sha256 hex>  <relative path>\n" per file in offer order (sha256sum format,
    // so `sha256sum -c` can check a received folder).
    // How an offer is shown: its only top-level item, or "N items".
    static QString offerName(const QList<OfferFile> &files);
    static QByteArray manifestHash(const QList<OfferFile> &files, const QList<QByteArray> &hashes);
};

} // namespace Punchline
