#include "englishplurals.h"

#include <QCoreApplication>
#include <QRegularExpression>

namespace Punchline {

void EnglishPlurals::install()
{
    static EnglishPlurals *installed = nullptr;
    if (installed || !QCoreApplication::instance())
        return;
    installed = new EnglishPlurals(QCoreApplication::instance());
    QCoreApplication::installTranslator(installed);
}

QString EnglishPlurals::resolve(const QString &source, int n)
{
    static const QRegularExpression plural(QStringLiteral("\\((e?s)\\)"));
    QString result = source;
    qsizetype from = 0;
    QRegularExpressionMatch m;
    while ((m = plural.match(result, from)).hasMatch()) {
        const QString replacement = n == 1 ? QString() : m.captured(1);
        result.replace(m.capturedStart(0), m.capturedLength(0), replacement);
        from = m.capturedStart(0) + replacement.size();
    }
    return result;
}

QString EnglishPlurals::translate(
    const char *context, const char *sourceText, const char *disambiguation, int n) const
{
    Q_UNUSED(context)
    Q_UNUSED(disambiguation)
    if (n < 0 || !sourceText)
        return QString();
    const QString source = QString::fromUtf8(sourceText);
    if (!source.contains(QLatin1String("(s)")) && !source.contains(QLatin1String("(es)")))
        return QString();
    return resolve(source, n);
}

} // namespace Punchline
