#pragma once
// Text helpers for the window: plain chat text to safe HTML (escaped first, then http(s) links
// made clickable), sizes, rates and durations in words.

#include <QCoreApplication>
#include <QDateTime>
#include <QString>

namespace Punchline {

class MessageFormat
{
    Q_DECLARE_TR_FUNCTIONS(Punchline::MessageFormat)
public:
    // Messages are plain text: every '<', '&', quote is escaped, so a peer can never inject markup.
    // Then http:// and https:// URLs become links; line breaks become <br>.
    static QString toHtml(const QString &plainText);
    // A friend-provided name (or other short text) put between FIRST STRONG ISOLATE and POP
    // DIRECTIONAL ISOLATE: whatever direction its characters have, it cannot reorder the text
    // around it ("Alice: hi", "Chat with Alice"). Line breaks become spaces.
    static QString isolate(const QString &friendText);
    // The core's messages are lower-case clauses: "cannot read x" -> "Cannot read x."
    static QString sentence(const QString &clause);
    static QString size(qint64 bytes); // "3.4 MB"
    static QString rate(double bytesPerSecond); // "1.2 MB/s"
    static QString duration(qint64 milliseconds); // "about 3 min", "12 s"
    static QString messageTime(
        const QDateTime &time, const QDateTime &now); // "14:03" / "3 Mar 14:03"
    static QString ago(const QDateTime &time, const QDateTime &now); // "5 min ago"
    // A moment near now, by day: "14:05" (today), "yesterday 14:05", "tomorrow 14:05", "Tue 14:05"
    // (within a week), else the date and time. For "valid until …" and "offline since …".
    static QString dayAndTime(const QDateTime &time, const QDateTime &now);
};

} // namespace Punchline
