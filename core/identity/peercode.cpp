#include "peercode.h"

#include "common/textfilter.h"

#include <QtEndian>

#include <array>

namespace Punchline {

namespace {

const char Alphabet[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
constexpr int CrcSymbols = 7; // 32 bits in 5-bit symbols (3 zero padding bits)
constexpr int MinPayloadBytes = 1 + PeerCode::FingerprintBytes + 1 + 1;

QString checksumMessage()
{
    return QStringLiteral("the code was changed or cut short on the way: ask your friend to copy "
                          "it again");
}

bool setError(Error *error, ErrorCode code, const QString &message)
{
    if (error)
        *error = Error { code, message };
    return false;
}

quint32 crc32(QByteArrayView data)
{
    static const auto table = [] {
        std::array<quint32, 256> t {};
        for (quint32 i = 0; i < 256; ++i) {
            quint32 c = i;
            for (int k = 0; k < 8; ++k)
                c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
            t[i] = c;
        }
        return t;
    }();
    quint32 crc = 0xFFFFFFFFu;
    for (const char ch : data)
        crc = table[(crc ^ quint8(ch)) & 0xff] ^ (crc >> 8);
    return crc ^ 0xFFFFFFFFu;
}

void appendBase32(QString *out, QByteArrayView bytes)
{
    quint32 buffer = 0;
    int bits = 0;
    for (const char ch : bytes) {
        buffer = (buffer << 8) | quint8(ch);
        bits += 8;
        while (bits >= 5) {
            bits -= 5;
            out->append(QLatin1Char(Alphabet[(buffer >> bits) & 31]));
        }
    }
    if (bits > 0)
        out->append(QLatin1Char(Alphabet[(buffer << (5 - bits)) & 31]));
}

int symbolValue(char16_t c)
{
    if (c >= u'0' && c <= u'9')
        return c - u'0';
    if (c >= u'a' && c <= u'z')
        c = char16_t(c - u'a' + u'A');
    switch (c) {
    case u'O':
        return 0;
    case u'I':
    case u'L':
        return 1;
    case u'U':
        return -1;
    default:
        break;
    }
    for (int i = 10; i < 32; ++i) {
        if (char16_t(Alphabet[i]) == c)
            return i;
    }
    return -1;
}

// Symbols -> bytes. False if the symbol count cannot come from whole bytes or padding bits are
// set: both mean characters were lost, added or changed.
bool decodeBase32(const QList<quint8> &symbols, qsizetype from, qsizetype count, QByteArray *out)
{
    const qsizetype bytes = count * 5 / 8;
    if ((bytes * 8 + 4) / 5 != count)
        return false;
    out->clear();
    out->reserve(bytes);
    quint32 buffer = 0;
    int bits = 0;
    for (qsizetype i = from; i < from + count; ++i) {
        buffer = (buffer << 5) | symbols.at(i);
        bits += 5;
        if (bits >= 8) {
            bits -= 8;
            out->append(char((buffer >> bits) & 0xff));
        }
    }
    return (buffer & ((1u << bits) - 1)) == 0;
}

bool isIgnorable(QChar c)
{
    const char16_t u = c.unicode();
    return c.isSpace() || u == 0x00ad || (u >= 0x200b && u <= 0x200d) || u == 0x2060 || u == 0xfeff;
}

bool isDash(QChar c)
{
    const char16_t u = c.unicode();
    return u == u'-' || (u >= 0x2010 && u <= 0x2015) || u == 0x2212;
}

// Quotes, brackets and sentence punctuation that surround a code pasted inside a sentence.
bool isWrapping(QChar c)
{
    static const QString chars
        = QStringLiteral("\"'`<>()[]{}.,;:!?\u00ab\u00bb\u2018\u2019\u201c\u201d");
    return chars.contains(c);
}

// Whitespace and zero-width characters removed, wrapping punctuation trimmed from both ends.
QString compact(QStringView text)
{
    QString out;
    out.reserve(text.size());
    for (const QChar c : text) {
        if (!isIgnorable(c))
            out.append(c);
    }
    qsizetype begin = 0;
    qsizetype end = out.size();
    while (begin < end && isWrapping(out.at(begin)))
        ++begin;
    while (end > begin && isWrapping(out.at(end - 1)))
        --end;
    return out.mid(begin, end - begin);
}

// Length of "PL<digits><dash>" at the start of compacted text (0 if absent); *version gets the
// number (-1 if it does not fit an int).
qsizetype prefixLength(QStringView s, int *version)
{
    if (s.size() < 3 || s.at(0).toUpper() != QLatin1Char('P')
        || s.at(1).toUpper() != QLatin1Char('L'))
        return 0;
    qsizetype i = 2;
    qint64 v = 0;
    while (i < s.size() && s.at(i).unicode() >= u'0' && s.at(i).unicode() <= u'9') {
        v = qMin<qint64>(v * 10 + (s.at(i).unicode() - u'0'), 1000000);
        ++i;
    }
    if (i == 2)
        return 0;
    if (version)
        *version = v >= 1000000 ? -1 : int(v);
    if (i < s.size() && isDash(s.at(i)))
        return i + 1;
    return 0;
}

// True if the text looks like it is meant to be a Punchline code ("PL" + digits + "-").
bool looksLikePeerCode(QStringView text)
{
    const QString s = compact(text);
    return s.size() >= 3 && s.at(0).toUpper() == QLatin1Char('P')
        && s.at(1).toUpper() == QLatin1Char('L') && s.at(2).isDigit();
}

} // namespace

QString PeerCode::encode() const
{
    if (fingerprint.size() != FingerprintBytes)
        return QString();
    QByteArray payload;
    payload.append(char(PayloadVersion));
    payload.append(fingerprint);
    const QByteArray nameBytes = truncateUtf8(name, MaxNameBytes).toUtf8();
    payload.append(char(nameBytes.size()));
    payload.append(nameBytes);
    QList<std::pair<int, Endpoint>> usable; // kind, endpoint
    const auto take = [&usable](const QList<Endpoint> &list, int kind, int max) {
        int n = 0;
        for (const Endpoint &e : list) {
            if (e.isValid() && n < max) {
                usable.append({ kind, e });
                ++n;
            }
        }
    };
    take(candidates, 0, MaxCandidates);
    take(mapped, 1, MaxMapped);
    take(relays, 2, MaxRelays);
    payload.append(char(usable.size()));
    for (const auto &[kind, e] : std::as_const(usable)) {
        const QHostAddress a = normalizedAddress(e.address);
        char port[2];
        qToBigEndian<quint16>(e.port, port);
        if (a.protocol() == QAbstractSocket::IPv4Protocol) {
            char v4[4];
            qToBigEndian<quint32>(a.toIPv4Address(), v4);
            payload.append(char(kind << 4 | 4));
            payload.append(v4, 4);
        } else {
            const Q_IPV6ADDR v6 = a.toIPv6Address();
            payload.append(char(kind << 4 | 6));
            payload.append(reinterpret_cast<const char *>(v6.c), 16);
        }
        payload.append(port, 2);
    }
    const bool invite = hasInvitation();
    payload.append(char((invite ? 1 : 0) | (invite && inviteSingleUse ? 2 : 0)));
    if (invite) {
        payload.append(inviteSecret);
        char expires[4];
        qToBigEndian<quint32>(quint32(qBound<qint64>(0, inviteExpires, 0xffffffffLL)), expires);
        payload.append(expires, 4);
    }
    char crc[4];
    qToBigEndian<quint32>(crc32(payload), crc);

    QString out = QStringLiteral("PL%1-").arg(Version);
    out.reserve(out.size() + (payload.size() * 8 + 4) / 5 + CrcSymbols);
    appendBase32(&out, payload);
    appendBase32(&out, QByteArrayView(crc, 4));
    return out;
}

std::optional<PeerCode> PeerCode::decode(QStringView text, Error *error)
{
    const QString s = compact(text);
    int version = 0;
    const qsizetype prefix = prefixLength(s, &version);
    if (prefix == 0) {
        setError(error, ErrorCode::BadCode,
            QStringLiteral("this is not a Punchline code: a code starts with \"PL%1-\"")
                .arg(Version));
        return std::nullopt;
    }
    if (version != Version) {
        if (version > Version || version < 0)
            setError(error, ErrorCode::CodeVersion,
                QStringLiteral("this code comes from a newer version of Punchline: update "
                               "Punchline to connect to this friend"));
        else
            setError(error, ErrorCode::BadCode,
                QStringLiteral("this is not a Punchline code: a code starts with \"PL%1-\"")
                    .arg(Version));
        return std::nullopt;
    }

    QList<quint8> symbols;
    symbols.reserve(s.size() - prefix);
    for (qsizetype i = prefix; i < s.size(); ++i) {
        const QChar c = s.at(i);
        if (isDash(c))
            continue;
        const int v = symbolValue(c.unicode());
        if (v < 0) {
            // A character that never appears in a code: changed on the way (auto-formatting,
            // a typo, or text pasted along with the code).
            setError(error, ErrorCode::CodeChecksum, checksumMessage());
            return std::nullopt;
        }
        symbols.append(quint8(v));
    }
    const qsizetype dataSymbols = symbols.size() - CrcSymbols;
    if (dataSymbols < (MinPayloadBytes * 8 + 4) / 5) {
        setError(error, ErrorCode::CodeChecksum, checksumMessage());
        return std::nullopt;
    }
    QByteArray payload;
    QByteArray crcBytes;
    if (!decodeBase32(symbols, 0, dataSymbols, &payload)
        || !decodeBase32(symbols, dataSymbols, CrcSymbols, &crcBytes) || crcBytes.size() != 4
        || qFromBigEndian<quint32>(crcBytes.constData()) != crc32(payload)) {
        setError(error, ErrorCode::CodeChecksum, checksumMessage());
        return std::nullopt;
    }

    // The checksum holds: from here on a problem means a code made by something other than
    // Punchline (or a newer payload layout under the same prefix).
    const auto bad = [error](const QString &why) {
        setError(error, ErrorCode::BadCode,
            QStringLiteral("this Punchline code cannot be read (%1)").arg(why));
        return std::nullopt;
    };
    const auto *p = reinterpret_cast<const quint8 *>(payload.constData());
    const qsizetype n = payload.size();
    qsizetype pos = 0;
    const int payloadVersion = p[pos];
    if (payloadVersion != 1 && payloadVersion != PayloadVersion) {
        setError(error, ErrorCode::CodeVersion,
            QStringLiteral("this code comes from a newer version of Punchline: update "
                           "Punchline to connect to this friend"));
        return std::nullopt;
    }
    ++pos;
    PeerCode code;
    code.fingerprint = payload.mid(pos, FingerprintBytes);
    pos += FingerprintBytes;
    const int nameLength = p[pos++];
    if (nameLength > MaxNameBytes || pos + nameLength + 1 > n)
        return bad(QStringLiteral("name too long"));
    const auto name = decodeUtf8Strict(QByteArrayView(payload.constData() + pos, nameLength));
    if (!name)
        return bad(QStringLiteral("the name is not valid UTF-8"));
    code.name = sanitizeDisplayName(*name, MaxNameBytes);
    pos += nameLength;
    const int count = p[pos++];
    if (count > (payloadVersion == 1 ? MaxCandidates : MaxCandidates + MaxMapped + MaxRelays))
        return bad(QStringLiteral("too many addresses"));
    for (int i = 0; i < count; ++i) {
        if (pos >= n)
            return bad(QStringLiteral("address list cut short"));
        const int kind = payloadVersion == 1 ? 0 : p[pos] >> 4;
        const int family = p[pos++] & (payloadVersion == 1 ? 0xff : 0x0f);
        if (kind > 2)
            return bad(QStringLiteral("unknown address kind"));
        const int addressBytes = family == 4 ? 4 : family == 6 ? 16 : -1;
        if (addressBytes < 0)
            return bad(QStringLiteral("unknown address family"));
        if (pos + addressBytes + 2 > n)
            return bad(QStringLiteral("address list cut short"));
        Endpoint e;
        if (family == 4) {
            e.address = QHostAddress(qFromBigEndian<quint32>(p + pos));
        } else {
            Q_IPV6ADDR v6;
            memcpy(v6.c, p + pos, 16);
            e.address = normalizedAddress(QHostAddress(v6));
        }
        pos += addressBytes;
        e.port = qFromBigEndian<quint16>(p + pos);
        pos += 2;
        const QHostAddress &a = e.address;
        if (e.port == 0 || a.isNull() || a.isMulticast() || a.isBroadcast()
            || a == QHostAddress(QHostAddress::AnyIPv4) || a == QHostAddress(QHostAddress::AnyIPv6))
            return bad(QStringLiteral("an address cannot be used"));
        QList<Endpoint> &list = kind == 0 ? code.candidates : kind == 1 ? code.mapped : code.relays;
        if (list.size() >= (kind == 0 ? MaxCandidates : kind == 1 ? MaxMapped : MaxRelays))
            return bad(QStringLiteral("too many addresses"));
        list.append(e);
    }
    if (payloadVersion >= 2) {
        if (pos >= n)
            return bad(QStringLiteral("cut short before the invitation"));
        const int flags = p[pos++];
        if (flags & ~3)
            return bad(QStringLiteral("unknown flags"));
        if (flags & 1) {
            if (pos + InviteSecretBytes + 4 > n)
                return bad(QStringLiteral("invitation cut short"));
            code.inviteSecret = payload.mid(pos, InviteSecretBytes);
            pos += InviteSecretBytes;
            code.inviteExpires = qFromBigEndian<quint32>(p + pos);
            pos += 4;
            code.inviteSingleUse = flags & 2;
        } else if (flags & 2) {
            return bad(QStringLiteral("unknown flags"));
        }
    }
    if (pos != n)
        return bad(QStringLiteral("unexpected data at the end"));
    return code;
}

PeerInput parsePeerInput(QStringView text)
{
    PeerInput result;
    if (text.trimmed().isEmpty()) {
        result.error = Error { ErrorCode::BadCode,
            QStringLiteral("paste your friend's Punchline code (it starts with "
                           "\"PL1-\") or an address such as 203.0.113.5:4000") };
        return result;
    }
    if (looksLikePeerCode(text)) {
        result.code = PeerCode::decode(text, &result.error);
        return result;
    }
    QString why;
    const auto list = Endpoint::parseList(text, &why);
    if (list) {
        result.addresses = *list;
        return result;
    }
    result.error = Error { ErrorCode::BadCode,
        QStringLiteral("neither a Punchline code nor a list of addresses: %1 "
                       "(use numeric addresses such as 203.0.113.5:4000 or "
                       "[2001:db8::1]:4000)")
            .arg(why) };
    return result;
}

} // namespace Punchline
