#include "messageformat.h"

#include <QLocale>
#include <QRegularExpression>

namespace Punchline {

QString MessageFormat::isolate(const QString &friendText)
{
    QString text = friendText;
    text.replace(QLatin1Char('\n'), QLatin1Char(' '));
    text.replace(QLatin1Char('\r'), QLatin1Char(' '));
    return QChar(0x2068) + text + QChar(0x2069);
}

QString MessageFormat::toHtml(const QString &plainText)
{
    const QString escaped = plainText.toHtmlEscaped();
    // The text is escaped already, so a URL ends at whitespace or at an escaped '<', '>' or quote.
    static const QRegularExpression url(
        QStringLiteral("https?://(?:(?!&quot;|&lt;|&gt;|&#39;)[^\\s])+"),
        QRegularExpression::CaseInsensitiveOption);
    static const QRegularExpression trailing(QStringLiteral("(?:[.,;:!?)\\]}'*]|&amp;)+$"));
    QString html;
    html.reserve(escaped.size() + 32);
    qsizetype last = 0;
    auto it = url.globalMatch(escaped);
    while (it.hasNext()) {
        const QRegularExpressionMatch m = it.next();
        QString link = m.captured(0);
        // Sentence punctuation after a link is not part of it: "see https://x.org/a."
        const QRegularExpressionMatch t = trailing.match(link);
        if (t.hasMatch())
            link.chop(t.capturedLength(0));
        if (link.size() <= 8) // "https://" alone
            continue;
        html += QStringView(escaped).mid(last, m.capturedStart(0) - last);
        html += QStringLiteral("<a href=\"%1\">%1</a>").arg(link);
        last = m.capturedStart(0) + link.size();
    }
    html += QStringView(escaped).mid(last);
    html.replace(QLatin1Char('\n'), QStringLiteral("<br>"));
    html.replace(QLatin1Char('\t'), QStringLiteral("&nbsp;&nbsp;&nbsp;&nbsp;"));
    // Keep runs of spaces visible (ASCII art, indented code) without changing where lines wrap.
    html.replace(QStringLiteral("  "), QStringLiteral("&nbsp; "));
    return html;
}

QString MessageFormat::sentence(const QString &clause)
{
    QString text = clause.trimmed();
    if (text.isEmpty())
        return text;
    text[0] = text.at(0).toUpper();
    const QChar last = text.back();
    if (last != QLatin1Char('.') && last != QLatin1Char('!') && last != QLatin1Char('?'))
        text += QLatin1Char('.');
    return text;
}

QString MessageFormat::size(qint64 bytes)
{
    return QLocale().formattedDataSize(bytes, 1, QLocale::DataSizeSIFormat);
}

QString MessageFormat::rate(double bytesPerSecond)
{
    return tr("%1/s").arg(size(qint64(bytesPerSecond)));
}

QString MessageFormat::duration(qint64 milliseconds)
{
    if (milliseconds < 0)
        return QString();
    const qint64 seconds = (milliseconds + 999) / 1000;
    if (seconds < 60)
        return tr("%n s", nullptr, int(seconds));
    const qint64 minutes = (seconds + 30) / 60;
    if (minutes < 60)
        return tr("about %n min", nullptr, int(minutes));
    const qint64 hours = minutes / 60;
    return tr("about %1 h %2 min").arg(hours).arg(minutes % 60);
}

QString MessageFormat::messageTime(const QDateTime &time, const QDateTime &now)
{
    const QDateTime local = time.toLocalTime();
    const QLocale locale;
    const QString clock = locale.toString(local.time(), QLocale::ShortFormat);
    if (local.date() == now.toLocalTime().date())
        return clock;
    return tr("%1, %2").arg(locale.toString(local.date(), QLocale::ShortFormat), clock);
}

QString MessageFormat::ago(const QDateTime &time, const QDateTime &now)
{
    if (!time.isValid())
        return QString();
    const qint64 seconds = time.secsTo(now);
    if (seconds < 60)
        return tr("just now");
    if (seconds < 3600)
        return tr("%n min ago", nullptr, int(seconds / 60));
    if (seconds < 86400)
        return tr("%n h ago", nullptr, int(seconds / 3600));
    if (seconds < 86400 * 30)
        return tr("%n day(s) ago", nullptr, int(seconds / 86400));
    return QLocale().toString(time.toLocalTime().date(), QLocale::ShortFormat);
}

QString MessageFormat::dayAndTime(const QDateTime &time, const QDateTime &now)
{
    if (!time.isValid())
        return QString();
    const QDateTime local = time.toLocalTime();
    const QLocale locale;
    const QString clock = locale.toString(local.time(), QLocale::ShortFormat);
    const qint64 days = now.toLocalTime().date().daysTo(local.date());
    if (days == 0)
        return clock;
    if (days == -1)
        return tr("yesterday %1").arg(clock);
    if (days == 1)
        return tr("tomorrow %1").arg(clock);
    if (days > -7 && days < 7)
        return tr("%1 %2").arg(
            locale.dayName(local.date().dayOfWeek(), QLocale::ShortFormat), clock);
    return tr("%1, %2").arg(locale.toString(local.date(), QLocale::ShortFormat), clock);
}

} // namespace Punchline
