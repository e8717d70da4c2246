#pragma once
// Cleaning text that comes from the other side (or from a pasted code) before anyone shows it:
// no control characters that could rewrite a terminal line or a log, no bidi overrides in names.
// Used by every layer of core (identity, protocol, session, transfer), hence here at the bottom.

#include <QByteArray>
#include <QString>
#include <QStringView>
#include <optional>

namespace Punchline {

// Removes C0/C1 control characters and DEL; keeps '\n' and '\t' when keepLineBreaks is true
// ("\r\n" becomes "\n").
QString stripControlCharacters(QStringView text, bool keepLineBreaks);

// For display names: no control characters at all, no bidi embedding/override/isolate marks,
// whitespace runs collapsed, trimmed, then cut to maxUtf8Bytes (never inside a character).
QString sanitizeDisplayName(QStringView name, int maxUtf8Bytes);

// The longest prefix of text whose UTF-8 form fits in maxBytes, not splitting a surrogate pair.
QString truncateUtf8(const QString &text, int maxBytes);

// Strict UTF-8 decoding: nullopt on any invalid sequence (overlong forms, surrogates, ...).
std::optional<QString> decodeUtf8Strict(QByteArrayView bytes);

} // namespace Punchline
