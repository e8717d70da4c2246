#include "transferprotocol.h"

#include "common/sha256.h"

#include <QCborArray>
#include <QCborMap>
#include <QCborStreamReader>
#include <QCborValue>
#include <QSet>
#include <QUuid>
#include <QtEndian>

#include <cstring>
#include <limits>

namespace Punchline {

namespace {

const QString kV = QStringLiteral("v");
const QString kId = QStringLiteral("id");
const QString kCount = QStringLiteral("count");
const QString kTotal = QStringLiteral("total");
const QString kFirst = QStringLiteral("first");
const QString kFiles = QStringLiteral("files");
const QString kEntries = QStringLiteral("entries");
const QString kPath = QStringLiteral("p");
const QString kSize = QStringLiteral("s");
const QString kMtime = QStringLiteral("m");
const QString kIndex = QStringLiteral("i");
const QString kOffset = QStringLiteral("o");
const QString kHash = QStringLiteral("h");
const QString kComplete = QStringLiteral("c");
const QString kCode = QStringLiteral("code");
const QString kMsg = QStringLiteral("msg");

void setWhy(QString *why, const QString &text)
{
    if (why)
        *why = text;
}

// A whole payload that is exactly one CBOR map (no trailing bytes).
std::optional<QCborMap> parseMap(const QByteArray &payload, QString *why)
{
    QCborStreamReader reader(payload);
    const QCborValue value = QCborValue::fromCbor(reader);
    if (reader.lastError() != QCborError::NoError) {
        setWhy(why, QStringLiteral("malformed CBOR (%1)").arg(reader.lastError().toString()));
        return std::nullopt;
    }
    if (reader.currentOffset() != payload.size()) {
        setWhy(why, QStringLiteral("trailing bytes after the CBOR map"));
        return std::nullopt;
    }
    if (!value.isMap()) {
        setWhy(why, QStringLiteral("payload is not a CBOR map"));
        return std::nullopt;
    }
    return value.toMap();
}

bool readId(const QCborMap &map, QByteArray *id, QString *why)
{
    const QCborValue v = map.value(kId);
    if (!v.isByteArray() || v.toByteArray().size() != TransferProtocol::IdSize) {
        setWhy(why, QStringLiteral("missing or bad transfer id"));
        return false;
    }
    *id = v.toByteArray();
    return true;
}

bool readInt(
    const QCborMap &map, const QString &key, qint64 min, qint64 max, qint64 *out, QString *why)
{
    const QCborValue v = map.value(key);
    if (!v.isInteger() || v.toInteger() < min || v.toInteger() > max) {
        setWhy(why, QStringLiteral("field \"%1\" missing or out of range").arg(key));
        return false;
    }
    *out = v.toInteger();
    return true;
}

bool readHash(const QCborMap &map, QByteArray *out, QString *why)
{
    const QCborValue v = map.value(kHash);
    if (!v.isByteArray() || v.toByteArray().size() != TransferProtocol::HashSize) {
        setWhy(why, QStringLiteral("missing or bad SHA-256"));
        return false;
    }
    *out = v.toByteArray();
    return true;
}

// Splits items into parts of about PartBudgetBytes (an estimate: the exact CBOR size is not
// needed).
template <typename Item, typename Encode, typename Cost>
QList<QByteArray> encodeParts(const QList<Item> &items, Encode makeMap, Cost cost)
{
    QList<QByteArray> parts;
    qsizetype first = 0;
    do {
        QCborArray array;
        qsizetype end = first;
        qsizetype budget = 0;
        while (end < items.size()
            && (end == first
                || budget + cost(items.at(end)) <= TransferProtocol::PartBudgetBytes)) {
            budget += cost(items.at(end));
            ++end;
        }
        QCborMap map = makeMap(int(first));
        for (qsizetype i = first; i < end; ++i)
            array.append(items.at(i).toCbor());
        map.insert(Item::arrayKey(), array);
        parts.append(map.toCborValue().toCbor());
        first = end;
    } while (first < items.size());
    return parts;
}

struct OfferItem
{
    const OfferFile &file;
    static QString arrayKey() { return kFiles; }
    QCborValue toCbor() const
    {
        QCborMap m;
        m.insert(kPath, file.path);
        m.insert(kSize, file.size);
        m.insert(kMtime, file.mtimeMs);
        return m;
    }
};

struct EntryItem
{
    const ResumeEntry &entry;
    static QString arrayKey() { return kEntries; }
    QCborValue toCbor() const
    {
        QCborMap m;
        m.insert(kIndex, entry.index);
        m.insert(kOffset, entry.offset);
        m.insert(kHash, entry.prefixHash);
        if (entry.complete)
            m.insert(kComplete, true);
        return m;
    }
};

} // namespace

QList<QByteArray> TransferProtocol::encodeOffer(
    const QByteArray &id, const QList<OfferFile> &files, qint64 total)
{
    QList<OfferItem> items;
    items.reserve(files.size());
    for (const OfferFile &f : files)
        items.append(OfferItem { f });
    return encodeParts(
        items,
        [&](int first) {
            QCborMap m;
            m.insert(kV, Version);
            m.insert(kId, id);
            m.insert(kCount, files.size());
            m.insert(kTotal, total);
            m.insert(kFirst, first);
            return m;
        },
        [](const OfferItem &item) { return item.file.path.toUtf8().size() + 32; });
}

std::optional<OfferPart> TransferProtocol::decodeOfferPart(const QByteArray &payload, QString *why)
{
    const auto map = parseMap(payload, why);
    if (!map)
        return std::nullopt;
    OfferPart part;
    qint64 version = 0, count = 0, first = 0;
    if (!readInt(*map, kV, 0, std::numeric_limits<qint64>::max(), &version, why))
        return std::nullopt;
    if (version != Version) {
        setWhy(why, QStringLiteral("unsupported transfer protocol version %1").arg(version));
        return std::nullopt;
    }
    if (!readId(*map, &part.id, why) || !readInt(*map, kCount, 1, MaxFiles, &count, why)
        || !readInt(*map, kTotal, 0, MaxTotalBytes, &part.total, why)
        || !readInt(*map, kFirst, 0, count - 1, &first, why))
        return std::nullopt;
    part.count = int(count);
    part.first = int(first);
    const QCborValue filesValue = map->value(kFiles);
    if (!filesValue.isArray()) {
        setWhy(why, QStringLiteral("field \"files\" missing"));
        return std::nullopt;
    }
    const QCborArray files = filesValue.toArray();
    if (files.isEmpty() || files.size() > count - first) {
        setWhy(why, QStringLiteral("offer part has a wrong number of files"));
        return std::nullopt;
    }
    part.files.reserve(files.size());
    for (const QCborValue &fv : files) {
        if (!fv.isMap()) {
            setWhy(why, QStringLiteral("file entry is not a map"));
            return std::nullopt;
        }
        const QCborMap fm = fv.toMap();
        OfferFile file;
        const QCborValue pv = fm.value(kPath);
        if (!pv.isString() || pv.toString().size() > MaxRawPathChars) {
            setWhy(why, QStringLiteral("file name missing or too long"));
            return std::nullopt;
        }
        file.path = pv.toString();
        if (!readInt(fm, kSize, 0, MaxTotalBytes, &file.size, why)
            || !readInt(fm, kMtime, std::numeric_limits<qint64>::min(),
                std::numeric_limits<qint64>::max(), &file.mtimeMs, why))
            return std::nullopt;
        part.files.append(file);
    }
    return part;
}

QList<QByteArray> TransferProtocol::encodeAccept(
    const QByteArray &id, const QList<ResumeEntry> &entries)
{
    QList<EntryItem> items;
    items.reserve(entries.size());
    for (const ResumeEntry &e : entries)
        items.append(EntryItem { e });
    return encodeParts(
        items,
        [&](int first) {
            QCborMap m;
            m.insert(kId, id);
            m.insert(kCount, entries.size());
            m.insert(kFirst, first);
            return m;
        },
        [](const EntryItem &) { return 64; });
}

std::optional<AcceptPart> TransferProtocol::decodeAcceptPart(
    const QByteArray &payload, QString *why)
{
    const auto map = parseMap(payload, why);
    if (!map)
        return std::nullopt;
    AcceptPart part;
    qint64 count = 0, first = 0;
    if (!readId(*map, &part.id, why) || !readInt(*map, kCount, 0, MaxFiles, &count, why)
        || !readInt(*map, kFirst, 0, std::max<qint64>(count - 1, 0), &first, why))
        return std::nullopt;
    part.count = int(count);
    part.first = int(first);
    const QCborValue entriesValue = map->value(kEntries);
    if (!entriesValue.isArray()) {
        setWhy(why, QStringLiteral("field \"entries\" missing"));
        return std::nullopt;
    }
    const QCborArray entries = entriesValue.toArray();
    if (entries.size() > count - first || (count > 0 && entries.isEmpty())) {
        setWhy(why, QStringLiteral("accept part has a wrong number of entries"));
        return std::nullopt;
    }
    for (const QCborValue &ev : entries) {
        if (!ev.isMap()) {
            setWhy(why, QStringLiteral("resume entry is not a map"));
            return std::nullopt;
        }
        const QCborMap em = ev.toMap();
        ResumeEntry entry;
        qint64 index = 0;
        if (!readInt(em, kIndex, 0, MaxFiles - 1, &index, why)
            || !readInt(em, kOffset, 0, MaxTotalBytes, &entry.offset, why)
            || !readHash(em, &entry.prefixHash, why))
            return std::nullopt;
        entry.index = int(index);
        const QCborValue c = em.value(kComplete);
        if (!c.isUndefined() && !c.isBool()) {
            setWhy(why, QStringLiteral("field \"c\" is not a boolean"));
            return std::nullopt;
        }
        entry.complete = c.toBool(false);
        part.entries.append(entry);
    }
    return part;
}

QByteArray TransferProtocol::encodeIdOnly(const QByteArray &id)
{
    QCborMap m;
    m.insert(kId, id);
    return m.toCborValue().toCbor();
}

std::optional<QByteArray> TransferProtocol::decodeIdOnly(const QByteArray &payload, QString *why)
{
    const auto map = parseMap(payload, why);
    QByteArray id;
    if (!map || !readId(*map, &id, why))
        return std::nullopt;
    return id;
}

QByteArray TransferProtocol::encodeAbort(const QByteArray &id, const Error &error)
{
    QCborMap m;
    m.insert(kId, id);
    m.insert(kCode, errorCodeName(error.code));
    m.insert(kMsg, error.message.left(MaxMessageChars));
    return m.toCborValue().toCbor();
}

std::optional<std::pair<QByteArray, Error>> TransferProtocol::decodeAbort(
    const QByteArray &payload, QString *why)
{
    const auto map = parseMap(payload, why);
    QByteArray id;
    if (!map || !readId(*map, &id, why))
        return std::nullopt;
    const QCborValue code = map->value(kCode);
    const QCborValue msg = map->value(kMsg);
    if (!code.isString() || !msg.isString() || msg.toString().size() > MaxMessageChars * 2) {
        setWhy(why, QStringLiteral("abort without a code or message"));
        return std::nullopt;
    }
    Error error;
    error.code = ErrorCode::ProtocolError;
    // Only the codes a transfer can end with are taken from the peer.
    for (ErrorCode c : { ErrorCode::FileError, ErrorCode::DiskFull, ErrorCode::TransferRejected,
             ErrorCode::Canceled, ErrorCode::ProtocolError }) {
        if (code.toString() == errorCodeName(c))
            error.code = c;
    }
    error.message = msg.toString();
    return std::make_pair(id, error);
}

QByteArray TransferProtocol::encodeFileEnd(const QByteArray &id, int index, const QByteArray &hash)
{
    QCborMap m;
    m.insert(kId, id);
    m.insert(kIndex, index);
    m.insert(kHash, hash);
    return m.toCborValue().toCbor();
}

std::optional<std::pair<int, QByteArray>> TransferProtocol::decodeFileEnd(
    const QByteArray &payload, QByteArray *id, QString *why)
{
    const auto map = parseMap(payload, why);
    qint64 index = 0;
    QByteArray hash;
    if (!map || !readId(*map, id, why) || !readInt(*map, kIndex, 0, MaxFiles - 1, &index, why)
        || !readHash(*map, &hash, why))
        return std::nullopt;
    return std::make_pair(int(index), hash);
}

QByteArray TransferProtocol::encodeComplete(const QByteArray &id, const QByteArray &hash)
{
    QCborMap m;
    m.insert(kId, id);
    m.insert(kHash, hash);
    return m.toCborValue().toCbor();
}

std::optional<QByteArray> TransferProtocol::decodeComplete(
    const QByteArray &payload, QByteArray *id, QString *why)
{
    const auto map = parseMap(payload, why);
    QByteArray hash;
    if (!map || !readId(*map, id, why) || !readHash(*map, &hash, why))
        return std::nullopt;
    return hash;
}

QByteArray TransferProtocol::encodeConsumed(qint64 totalBytes, qint64 queueUs)
{
    QByteArray out(12, Qt::Uninitialized);
    qToBigEndian(quint64(totalBytes), out.data());
    qToBigEndian(quint32(qBound<qint64>(0, queueUs, 0xffffffffLL)), out.data() + 8);
    return out;
}

std::optional<TransferProtocol::ConsumedReport> TransferProtocol::decodeConsumed(
    const QByteArray &payload, QString *why)
{
    if (payload.size() != 12) {
        if (why)
            *why = QStringLiteral("consumed-bytes message of %1 bytes").arg(payload.size());
        return std::nullopt;
    }
    const quint64 total = qFromBigEndian<quint64>(payload.constData());
    if (total > (quint64(1) << 62)) {
        if (why)
            *why = QStringLiteral("consumed-bytes count out of range");
        return std::nullopt;
    }
    return ConsumedReport { qint64(total),
        qint64(qFromBigEndian<quint32>(payload.constData() + 8)) };
}

void TransferProtocol::writeDataHeader(
    char *out, const QByteArray &id, quint32 index, quint64 offset)
{
    memcpy(out, id.constData(), IdSize);
    qToBigEndian(index, out + IdSize);
    qToBigEndian(offset, out + IdSize + 4);
}

QByteArray TransferProtocol::encodeData(
    const QByteArray &id, quint32 index, quint64 offset, const QByteArray &bytes)
{
    QByteArray frame(DataHeaderSize, Qt::Uninitialized);
    writeDataHeader(frame.data(), id, index, offset);
    frame += bytes;
    return frame;
}

std::optional<DataHeader> TransferProtocol::decodeDataHeader(
    const QByteArray &payload, QString *why)
{
    if (payload.size() <= DataHeaderSize || payload.size() > DataHeaderSize + ChunkSize) {
        setWhy(why, QStringLiteral("data chunk of %1 bytes").arg(payload.size()));
        return std::nullopt;
    }
    DataHeader header;
    header.id = payload.left(IdSize);
    header.index = qFromBigEndian<quint32>(payload.constData() + IdSize);
    header.offset = qFromBigEndian<quint64>(payload.constData() + IdSize + 4);
    return header;
}

QByteArray TransferProtocol::peekId(const QByteArray &payload)
{
    const auto map = parseMap(payload, nullptr);
    QByteArray id;
    if (map && readId(*map, &id, nullptr))
        return id;
    return {};
}

QString TransferProtocol::idToText(const QByteArray &id)
{
    return QUuid::fromRfc4122(id).toString(QUuid::WithoutBraces);
}

QByteArray TransferProtocol::idFromText(const QString &text)
{
    const QUuid uuid = QUuid::fromString(text);
    return uuid.isNull() ? QByteArray() : uuid.toRfc4122();
}

QString TransferProtocol::offerName(const QList<OfferFile> &files)
{
    QSet<QString> tops;
    for (const OfferFile &f : files)
        tops.insert(f.path.section(QLatin1Char('/'), 0, 0));
    if (tops.size() == 1)
        return *tops.cbegin();
    return QStringLiteral("%1 items").arg(tops.size());
}

QByteArray TransferProtocol::manifestHash(
    const QList<OfferFile> &files, const QList<QByteArray> &hashes)
{
    if (files.size() != hashes.size() || files.isEmpty())
        return {};
    if (files.size() == 1)
        return hashes.first();
    Sha256 h;
    for (qsizetype i = 0; i < files.size(); ++i) {
        if (hashes.at(i).size() != HashSize)
            return {};
        const QByteArray line = hashes.at(i).toHex() + "  " + files.at(i).path.toUtf8() + '\n';
        h.addData(line);
    }
    return h.result();
}

} // namespace Punchline
