#pragma once
// Cleaning text that comes from the other side (or from a pasted code) before anyone shows it:
// no control characters that could rewrite a terminal line or a log, no bidi overrides that
// could make a name or a message read differently from what it is. Used by every layer of core
// (identity, protocol, session, transfer), hence here at the bottom.

#include <QByteArray>
#include <QString>
#include <QStringView>
#include <optional>

namespace Punchline {

// Removes C0/C1 control characters and DEL; keeps '\n' and '\t' when keepLineBreaks is true
// ("\r\n" becomes "\n").
QString stripControlCharacters(QStringView text, bool keepLineBreaks);

// For a received chat message: '\n' and '\t' stay (U+2028 and U+2029 become '\n'); every other
// C0/C1 control character and DEL goes ("\r\n" becomes "\n"; a lone '\r', which would send a
// terminal back to the start of the line, is removed), and so do the bidi embedding, override
// and isolate controls (U+202A-U+202E, U+2066-U+2069), which reorder what the reader sees. The
// marks LRM, RLM and ALM (U+200E, U+200F, U+061C) stay: they only set the direction of the
// neutral characters next to them, cannot reorder a run of text, and right-to-left writers
// need them.
QString sanitizeChatText(QStringView text);

// The same text as one line of plain output (a terminal, a log): every line break above becomes
// "⏎" (U+23CE), a tab becomes one space, and what sanitizeChatText() removes is removed. A peer
// cannot start a line of its own that way, e.g. one that looks like the program's.
QString toSingleLine(QStringView text);

// For display names: no control characters at all, no bidi embedding/override/isolate marks,
// whitespace runs collapsed, trimmed, then cut to maxUtf8Bytes (never inside a character).
QString sanitizeDisplayName(QStringView name, int maxUtf8Bytes);

// The longest prefix of text whose UTF-8 form fits in maxBytes, not splitting a surrogate pair.
QString truncateUtf8(const QString &text, int maxBytes);

// Strict UTF-8 decoding: nullopt on any invalid sequence (overlong forms, surrogates, ...).
std::optional<QString> decodeUtf8Strict(QByteArrayView bytes);

} // namespace Punchline
