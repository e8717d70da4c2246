// The filters for text from the other side: chat (line breaks kept, controls and bidi reordering
// removed) and its one-line form for plain output.
#include "common/textfilter.h"

#include <QTest>

using namespace Punchline;

class TestTextFilter : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void sanitizeChatText_data()
    {
        QTest::addColumn<QString>("in");
        QTest::addColumn<QString>("out");
        QTest::newRow("plain") << QStringLiteral("hello, Bob") << QStringLiteral("hello, Bob");
        QTest::newRow("lines and tabs kept")
            << QStringLiteral("a\nb\tc") << QStringLiteral("a\nb\tc");
        QTest::newRow("crlf") << QStringLiteral("a\r\nb") << QStringLiteral("a\nb");
        QTest::newRow("lone cr") << QStringLiteral("done\rAnn: hi")
                                 << QStringLiteral("doneAnn: hi");
        QTest::newRow("escape, bell, del, c1")
            << QStringLiteral("a\x1b[2Jb\x07\x7f\u0085\u009bc") << QStringLiteral("a[2Jbc");
        QTest::newRow("line and paragraph separators")
            << QStringLiteral("a\u2028b\u2029c") << QStringLiteral("a\nb\nc");
        QTest::newRow("override") << QStringLiteral("invoice_\u202egnp.exe")
                                  << QStringLiteral("invoice_gnp.exe");
        QTest::newRow("embeddings and pop")
            << QStringLiteral("\u202aa\u202bb\u202cc\u202dd") << QStringLiteral("abcd");
        QTest::newRow("isolates") << QStringLiteral("\u2066a\u2067b\u2068c\u2069")
                                  << QStringLiteral("abc");
        QTest::newRow("marks kept")
            << QStringLiteral("\u05e9\u05dc\u05d5\u05dd\u200f!\u200e\u061c")
            << QStringLiteral("\u05e9\u05dc\u05d5\u05dd\u200f!\u200e\u061c");
        QTest::newRow("emoji (surrogates)")
            << QStringLiteral("ok \U0001F600") << QStringLiteral("ok \U0001F600");
        QTest::newRow("empty") << QString() << QString();
    }

    void sanitizeChatText()
    {
        QFETCH(QString, in);
        QFETCH(QString, out);
        QCOMPARE(Punchline::sanitizeChatText(in), out);
    }

    void toSingleLine_data()
    {
        QTest::addColumn<QString>("in");
        QTest::addColumn<QString>("out");
        QTest::newRow("plain") << QStringLiteral("hello") << QStringLiteral("hello");
        // A peer printing lines that look like the CLI's own.
        QTest::newRow("fake status lines")
            << QStringLiteral("hi\nAnn: (delivered 12:00)\r\ntransfer x done")
            << QStringLiteral("hi\u23ceAnn: (delivered 12:00)\u23cetransfer x done");
        QTest::newRow("separators")
            << QStringLiteral("a\u2028b\u2029c") << QStringLiteral("a\u23ceb\u23cec");
        QTest::newRow("tab") << QStringLiteral("a\tb") << QStringLiteral("a b");
        QTest::newRow("lone cr") << QStringLiteral("a\rb") << QStringLiteral("ab");
        QTest::newRow("controls and overrides")
            << QStringLiteral("\x1b[1Aa\u202eb\u2066c\u0085") << QStringLiteral("[1Aabc");
    }

    void toSingleLine()
    {
        QFETCH(QString, in);
        QFETCH(QString, out);
        const QString line = Punchline::toSingleLine(in);
        QCOMPARE(line, out);
        for (const QChar c : line)
            QVERIFY2(c.category() != QChar::Other_Control && c != QChar::LineSeparator
                    && c != QChar::ParagraphSeparator,
                qPrintable(QStringLiteral("U+%1 left").arg(c.unicode(), 4, 16)));
    }

    // The name filter keeps its stricter rules (no marks at all, one line).
    void displayNameStillStripsMarks()
    {
        QCOMPARE(sanitizeDisplayName(u"A\u200fn\u202en\n", 64), QStringLiteral("Ann"));
    }
};

QTEST_GUILESS_MAIN(TestTextFilter)
#include "tst_textfilter.moc"
