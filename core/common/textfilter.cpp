#include "textfilter.h"

#include <QStringDecoder>

namespace Punchline {

namespace {

bool isControl(char32_t c)
{
    return c < 0x20 || (c >= 0x7f && c <= 0x9f);
}

// Embeddings, overrides and isolates: they reorder whole runs of text.
bool isBidiReordering(char32_t c)
{
    return (c >= 0x202a && c <= 0x202e) || (c >= 0x2066 && c <= 0x2069);
}

bool isBidiControl(char32_t c)
{
    return c == 0x061c || c == 0x200e || c == 0x200f || isBidiReordering(c);
}

constexpr char16_t LineBreakSymbol = 0x23ce; // ⏎

} // namespace

QString stripControlCharacters(QStringView text, bool keepLineBreaks)
{
    QString out;
    out.reserve(text.size());
    for (const QChar ch : text) {
        const char16_t c = ch.unicode();
        if (keepLineBreaks && (c == u'\n' || c == u'\t')) {
            out.append(ch);
            continue;
        }
        if (isControl(c))
            continue;
        out.append(ch);
    }
    return out;
}

QString sanitizeChatText(QStringView text)
{
    QString out;
    out.reserve(text.size());
    for (const QChar ch : text) {
        const char16_t c = ch.unicode();
        if (c == 0x2028 || c == 0x2029) { // line and paragraph separators
            out.append(QLatin1Char('\n'));
        } else if (c == u'\n' || c == u'\t') {
            out.append(ch);
        } else if (!isControl(c) && !isBidiReordering(c)) {
            out.append(ch);
        }
    }
    return out;
}

QString toSingleLine(QStringView text)
{
    QString out = sanitizeChatText(text);
    for (QChar &ch : out) {
        if (ch == u'\n')
            ch = QChar(LineBreakSymbol);
        else if (ch == u'\t')
            ch = QLatin1Char(' ');
    }
    return out;
}

QString truncateUtf8(const QString &text, int maxBytes)
{
    if (maxBytes <= 0)
        return QString();
    int bytes = 0;
    qsizetype i = 0;
    const qsizetype n = text.size();
    while (i < n) {
        const QChar c = text.at(i);
        int units = 1;
        int size;
        if (c.isHighSurrogate() && i + 1 < n && text.at(i + 1).isLowSurrogate()) {
            units = 2;
            size = 4;
        } else if (c.unicode() < 0x80) {
            size = 1;
        } else if (c.unicode() < 0x800) {
            size = 2;
        } else {
            size = 3; // lone surrogates become U+FFFD (3 bytes) in UTF-8
        }
        if (bytes + size > maxBytes)
            break;
        bytes += size;
        i += units;
    }
    return i == n ? text : text.left(i);
}

QString sanitizeDisplayName(QStringView name, int maxUtf8Bytes)
{
    QString out;
    out.reserve(name.size());
    bool pendingSpace = false;
    for (const QChar ch : name) {
        const char16_t c = ch.unicode();
        if (isControl(c) || isBidiControl(c) || c == 0xfeff || c == 0x200b)
            continue;
        if (ch.isSpace()) {
            pendingSpace = !out.isEmpty();
            continue;
        }
        if (pendingSpace) {
            out.append(QLatin1Char(' '));
            pendingSpace = false;
        }
        out.append(ch);
    }
    return truncateUtf8(out, maxUtf8Bytes).trimmed();
}

std::optional<QString> decodeUtf8Strict(QByteArrayView bytes)
{
    QStringDecoder decoder(QStringDecoder::Utf8, QStringDecoder::Flag::Stateless);
    QString text = decoder.decode(bytes);
    if (decoder.hasError())
        return std::nullopt;
    return text;
}

} // namespace Punchline
