// MessageFormat: peer text is escaped before links are made, so markup can never be injected;
// http(s) links become clickable without the sentence punctuation after them.

#include "messageformat.h"

#include <QTest>

using namespace Punchline;

class TestMessageFormat : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void toHtml_data()
    {
        QTest::addColumn<QString>("plain");
        QTest::addColumn<QString>("html");
        QTest::newRow("plain") << QStringLiteral("hello") << QStringLiteral("hello");
        QTest::newRow("markup escaped")
            << QStringLiteral("<b>x</b> & <script>alert(1)</script>")
            << QStringLiteral("&lt;b&gt;x&lt;/b&gt; &amp; &lt;script&gt;alert(1)&lt;/script&gt;");
        QTest::newRow("link") << QStringLiteral("see https://example.org/a?b=1&c=2 now")
                              << QStringLiteral("see <a "
                                                "href=\"https://example.org/a?b=1&amp;c=2\">https:/"
                                                "/example.org/a?b=1&amp;c=2</a> now");
        QTest::newRow("trailing dot")
            << QStringLiteral("go to http://example.org.")
            << QStringLiteral("go to <a href=\"http://example.org\">http://example.org</a>.");
        QTest::newRow("in parentheses")
            << QStringLiteral("(https://example.org/x)")
            << QStringLiteral("(<a href=\"https://example.org/x\">https://example.org/x</a>)");
        QTest::newRow("quote ends link")
            << QStringLiteral("\"https://example.org/\"onmouseover=x")
            << QStringLiteral(
                   "&quot;<a "
                   "href=\"https://example.org/\">https://example.org/</a>&quot;onmouseover=x");
        QTest::newRow("angle ends link")
            << QStringLiteral("<https://example.org/>")
            << QStringLiteral("&lt;<a href=\"https://example.org/\">https://example.org/</a>&gt;");
        QTest::newRow("other schemes stay text")
            << QStringLiteral("javascript:alert(1) file:///etc/passwd ftp://x")
            << QStringLiteral("javascript:alert(1) file:///etc/passwd ftp://x");
        QTest::newRow("bare scheme") << QStringLiteral("https://") << QStringLiteral("https://");
        QTest::newRow("line breaks") << QStringLiteral("a\nb") << QStringLiteral("a<br>b");
        QTest::newRow("two links") << QStringLiteral("http://a.org https://b.org")
                                   << QStringLiteral("<a href=\"http://a.org\">http://a.org</a> <a "
                                                     "href=\"https://b.org\">https://b.org</a>");
    }

    void toHtml()
    {
        QFETCH(QString, plain);
        QFETCH(QString, html);
        QCOMPARE(MessageFormat::toHtml(plain), html);
    }

    void sentence()
    {
        QCOMPARE(MessageFormat::sentence(QStringLiteral("cannot read x")),
            QStringLiteral("Cannot read x."));
        QCOMPARE(MessageFormat::sentence(QStringLiteral("Done!")), QStringLiteral("Done!"));
        QCOMPARE(MessageFormat::sentence(QString()), QString());
    }

    void duration()
    {
        QCOMPARE(MessageFormat::duration(-1), QString());
        QCOMPARE(MessageFormat::duration(1500), QStringLiteral("2 s"));
        QCOMPARE(MessageFormat::duration(125000), QStringLiteral("about 2 min"));
        QCOMPARE(MessageFormat::duration(3 * 3600 * 1000 + 5 * 60 * 1000),
            QStringLiteral("about 3 h 5 min"));
    }
};

QTEST_GUILESS_MAIN(TestMessageFormat)
#include "tst_messageformat.moc"
