#include "pathsafety.h"

#include <QList>
#include <QStringList>

namespace Punchline {

namespace {

bool isForbiddenCodePoint(char32_t c)
{
    if (c < 0x20 || c == 0x7f || (c >= 0x80 && c <= 0x9f))
        return true; // C0/C1 controls: terminal escapes, NUL, newlines, tabs
    // Bidirectional overrides/isolates and marks (name spoofing: "gpj.exe"), line separators,
    // byte-order mark, non-characters.
    if (c == 0x200e || c == 0x200f || (c >= 0x202a && c <= 0x202e) || (c >= 0x2066 && c <= 0x2069)
        || c == 0x061c || c == 0x2028 || c == 0x2029 || c == 0xfeff)
        return true;
    if ((c & 0xfffe) == 0xfffe || (c >= 0xfdd0 && c <= 0xfdef))
        return true;
    return false;
}

void setWhy(QString *why, const QString &text)
{
    if (why)
        *why = text;
}

} // namespace

bool PathSafety::isWindowsDeviceName(const QString &name)
{
    // Windows treats "NUL", "nul.txt" and "NUL .txt" alike: compare the part before the first dot
    // with trailing spaces removed.
    QString base = name.section(QLatin1Char('.'), 0, 0);
    while (base.endsWith(QLatin1Char(' ')))
        base.chop(1);
    base = base.toUpper();
    static const QStringList fixed = { QStringLiteral("CON"), QStringLiteral("PRN"),
        QStringLiteral("AUX"), QStringLiteral("NUL"), QStringLiteral("CONIN$"),
        QStringLiteral("CONOUT$"), QStringLiteral("CLOCK$") };
    if (fixed.contains(base))
        return true;
    if (base.size() == 4
        && (base.startsWith(QLatin1String("COM")) || base.startsWith(QLatin1String("LPT")))) {
        const QChar d = base.at(3);
        return (d >= QLatin1Char('1') && d <= QLatin1Char('9')) || d == QChar(0x00b9)
            || d == QChar(0x00b2) || d == QChar(0x00b3);
    }
    return false;
}

bool PathSafety::isSafeComponent(const QString &name, QString *why)
{
    if (name.isEmpty()) {
        setWhy(why, QStringLiteral("has an empty name (\"//\" or a trailing \"/\")"));
        return false;
    }
    if (name == QLatin1String(".") || name == QLatin1String("..")) {
        setWhy(why, QStringLiteral("contains \"..\" or \".\""));
        return false;
    }
    const QList<uint> codePoints = name.toUcs4();
    for (qsizetype i = 0; i < name.size(); ++i) {
        const QChar ch = name.at(i);
        if (ch.isHighSurrogate() && i + 1 < name.size() && name.at(i + 1).isLowSurrogate()) {
            ++i;
            continue;
        }
        if (ch.isSurrogate()) {
            setWhy(why, QStringLiteral("is not valid Unicode"));
            return false;
        }
    }
    for (uint c : codePoints) {
        if (isForbiddenCodePoint(char32_t(c))) {
            setWhy(why, QStringLiteral("contains control or escape characters"));
            return false;
        }
        if (c == ':') {
            setWhy(why, QStringLiteral("contains \":\""));
            return false;
        }
        if (c == '\\') {
            setWhy(why, QStringLiteral("contains \"\\\""));
            return false;
        }
    }
    if (name.endsWith(QLatin1Char('.')) || name.endsWith(QLatin1Char(' '))) {
        setWhy(why, QStringLiteral("ends with a dot or a space"));
        return false;
    }
    if (isWindowsDeviceName(name)) {
        setWhy(why, QStringLiteral("is a reserved device name"));
        return false;
    }
    if (name.toUtf8().size() > MaxComponentBytes) {
        setWhy(why, QStringLiteral("has a name longer than %1 bytes").arg(MaxComponentBytes));
        return false;
    }
    if (name.endsWith(partialSuffix())) {
        setWhy(why, QStringLiteral("ends with the reserved suffix %1").arg(partialSuffix()));
        return false;
    }
    return true;
}

QString PathSafety::normalizedRelativePath(const QString &path, QString *why)
{
    if (path.isEmpty()) {
        setWhy(why, QStringLiteral("is empty"));
        return {};
    }
    // Length cap before any work: an attacker's megabyte string is not normalised.
    if (path.size() > MaxPathBytes * 2) {
        setWhy(why, QStringLiteral("is longer than %1 bytes").arg(MaxPathBytes));
        return {};
    }
    if (path.startsWith(QLatin1String("\\\\")) || path.startsWith(QLatin1String("//"))) {
        setWhy(why, QStringLiteral("is a network (UNC) path"));
        return {};
    }
    if (path.startsWith(QLatin1Char('/')) || path.startsWith(QLatin1Char('\\'))) {
        setWhy(why, QStringLiteral("is an absolute path"));
        return {};
    }
    if (path.size() >= 2 && path.at(1) == QLatin1Char(':') && path.at(0).isLetter()
        && path.at(0).unicode() < 128) {
        setWhy(why, QStringLiteral("starts with a drive letter"));
        return {};
    }
    const QString normalized = path.normalized(QString::NormalizationForm_C);
    if (normalized.toUtf8().size() > MaxPathBytes) {
        setWhy(why, QStringLiteral("is longer than %1 bytes").arg(MaxPathBytes));
        return {};
    }
    const QStringList components = normalized.split(QLatin1Char('/'));
    if (components.size() > MaxDepth) {
        setWhy(why, QStringLiteral("is nested deeper than %1 folders").arg(MaxDepth));
        return {};
    }
    for (const QString &component : components) {
        if (!isSafeComponent(component, why))
            return {};
    }
    return normalized;
}

QString PathSafety::truncatedToUtf8Bytes(const QString &text, int maxBytes)
{
    if (text.toUtf8().size() <= maxBytes)
        return text;
    QString out;
    int bytes = 0;
    for (qsizetype i = 0; i < text.size(); ++i) {
        const bool pair = text.at(i).isHighSurrogate() && i + 1 < text.size()
            && text.at(i + 1).isLowSurrogate();
        const QString piece = text.mid(i, pair ? 2 : 1);
        const int pieceBytes = int(piece.toUtf8().size());
        if (bytes + pieceBytes > maxBytes)
            break;
        out += piece;
        bytes += pieceBytes;
        if (pair)
            ++i;
    }
    return out;
}

QString PathSafety::numberedName(const QString &name, int n)
{
    QString stem = name;
    QString ext;
    qsizetype dot = name.lastIndexOf(QLatin1Char('.'));
    if (dot > 0) {
        // Keep double extensions of archives together: "a.tar.gz" -> "a (1).tar.gz".
        const qsizetype previous = name.lastIndexOf(QLatin1Char('.'), dot - 1);
        if (previous > 0
            && name.mid(previous, dot - previous)
                    .compare(QLatin1String(".tar"), Qt::CaseInsensitive)
                == 0)
            dot = previous;
        stem = name.left(dot);
        ext = name.mid(dot);
    }
    const QString number = QStringLiteral(" (%1)").arg(n);
    const int room = MaxComponentBytes - int(number.toUtf8().size()) - int(ext.toUtf8().size());
    if (room < 1) // absurdly long extension: number the whole name instead
        return truncatedToUtf8Bytes(name, MaxComponentBytes - int(number.toUtf8().size())) + number;
    return truncatedToUtf8Bytes(stem, room) + number + ext;
}

QString PathSafety::partialName(const QString &name, const QString &tag)
{
    const QString tail = QLatin1Char('.') + tag + partialSuffix();
    return truncatedToUtf8Bytes(name, MaxComponentBytes - int(tail.toUtf8().size())) + tail;
}

QString PathSafety::displaySafe(const QString &text, int maxChars)
{
    QString out;
    const QList<uint> codePoints = text.toUcs4();
    for (uint c : codePoints) {
        if (out.size() >= maxChars) {
            out += QChar(0x2026);
            break;
        }
        if (isForbiddenCodePoint(char32_t(c)) || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
            out += QChar(0xfffd);
        else
            out += QString::fromUcs4(reinterpret_cast<const char32_t *>(&c), 1);
    }
    return out;
}

} // namespace Punchline
