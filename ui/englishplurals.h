#pragma once
// Source strings use Qt's "%n file(s)" convention; without a translation Qt shows "1 file(s)".
// This translator gives the English forms ("1 file", "2 files") so no .qm file is needed for
// English. Real translations installed later take precedence.

#include <QTranslator>

namespace Punchline {

class EnglishPlurals : public QTranslator
{
    Q_OBJECT
public:
    using QTranslator::QTranslator;

    // Installs one instance on the application (once; later calls do nothing).
    static void install();
    // "file(s)" -> "file" for n == 1, "files" otherwise; also "(es)" as in "address(es)".
    static QString resolve(const QString &source, int n);

    QString translate(const char *context, const char *sourceText,
        const char *disambiguation = nullptr, int n = -1) const override;
    bool isEmpty() const override { return false; }
};

} // namespace Punchline
