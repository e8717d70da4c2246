// The receiver's name validator: everything a hostile sender might put in an offer (croc's
// CVEs and friends), and the names honest senders use.
#include "transfer/pathsafety.h"

#include <QTest>

using namespace Punchline;

class TestPathSafety : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void rejected_data();
    void rejected();
    void accepted_data();
    void accepted();
    void nfc();
    void lengthCaps();
    void numberedName_data();
    void numberedName();
    void partialName();
    void displaySafe();
};

void TestPathSafety::rejected_data()
{
    QTest::addColumn<QString>("path");
    QTest::addColumn<QString>("reason"); // a fragment of the explanation
    QTest::newRow("parent") << QStringLiteral("../../x") << QStringLiteral("..");
    QTest::newRow("parent inside") << QStringLiteral("a/../../b") << QStringLiteral("..");
    QTest::newRow("dot") << QStringLiteral("a/./b") << QStringLiteral(".");
    QTest::newRow("only dotdot") << QStringLiteral("..") << QStringLiteral("..");
    QTest::newRow("absolute") << QStringLiteral("/etc/passwd") << QStringLiteral("absolute");
    QTest::newRow("ssh keys") << QStringLiteral("/root/.ssh/authorized_keys")
                              << QStringLiteral("absolute");
    QTest::newRow("drive") << QStringLiteral("C:\\x") << QStringLiteral("drive");
    QTest::newRow("drive slash") << QStringLiteral("c:/x") << QStringLiteral("drive");
    QTest::newRow("unc") << QStringLiteral("\\\\server\\share") << QStringLiteral("UNC");
    QTest::newRow("unc slashes") << QStringLiteral("//server/share") << QStringLiteral("UNC");
    QTest::newRow("backslash abs") << QStringLiteral("\\windows\\x") << QStringLiteral("absolute");
    QTest::newRow("backslash sep") << QStringLiteral("a\\..\\..\\b") << QStringLiteral("\\");
    QTest::newRow("colon") << QStringLiteral("file:stream") << QStringLiteral(":");
    QTest::newRow("CON") << QStringLiteral("CON") << QStringLiteral("device");
    QTest::newRow("con lower") << QStringLiteral("dir/con") << QStringLiteral("device");
    QTest::newRow("nul.txt") << QStringLiteral("nul.txt") << QStringLiteral("device");
    QTest::newRow("NUL .txt") << QStringLiteral("NUL .txt") << QStringLiteral("device");
    QTest::newRow("COM1") << QStringLiteral("COM1") << QStringLiteral("device");
    QTest::newRow("lpt9.log") << QStringLiteral("a/lpt9.log") << QStringLiteral("device");
    QTest::newRow("COM superscript") << QStringLiteral("COM\u00b9") << QStringLiteral("device");
    QTest::newRow("AUX.tar.gz") << QStringLiteral("AUX.tar.gz") << QStringLiteral("device");
    QTest::newRow("PRN") << QStringLiteral("prn") << QStringLiteral("device");
    QTest::newRow("trailing dot") << QStringLiteral("name.") << QStringLiteral("dot");
    QTest::newRow("trailing space") << QStringLiteral("name ") << QStringLiteral("space");
    QTest::newRow("trailing dot in dir") << QStringLiteral("dir./x") << QStringLiteral("dot");
    QTest::newRow("escape") << QStringLiteral("\x1b[31mred") << QStringLiteral("control");
    QTest::newRow("escape title") << QStringLiteral("a\x1b]0;pwned\x07")
                                  << QStringLiteral("control");
    QTest::newRow("nul byte") << QString::fromLatin1("a\0b", 3) << QStringLiteral("control");
    QTest::newRow("newline") << QStringLiteral("a\nb") << QStringLiteral("control");
    QTest::newRow("tab") << QStringLiteral("a\tb") << QStringLiteral("control");
    QTest::newRow("del") << QStringLiteral("a\x7f") << QStringLiteral("control");
    QTest::newRow("c1 csi") << QStringLiteral("a\u009b31m") << QStringLiteral("control");
    QTest::newRow("rtl override") << QStringLiteral("invoice\u202Egpj.exe")
                                  << QStringLiteral("control");
    QTest::newRow("bom") << QStringLiteral("\uFEFFx") << QStringLiteral("control");
    QTest::newRow("lone surrogate") << QString(QChar(0xd800)) << QStringLiteral("Unicode");
    QTest::newRow("empty") << QString() << QStringLiteral("empty");
    QTest::newRow("double slash") << QStringLiteral("a//b") << QStringLiteral("empty");
    QTest::newRow("trailing slash") << QStringLiteral("a/") << QStringLiteral("empty");
    QTest::newRow("component 256") << QString(256, QLatin1Char('a')) << QStringLiteral("255");
    QTest::newRow("component 128x2 bytes") << QString(128, QChar(0x00e9)) << QStringLiteral("255");
    QTest::newRow("path 1025")
        << QString(QString(200, QLatin1Char('a')) + QLatin1Char('/')).repeated(5)
            + QString(20, QLatin1Char('b'))
        << QStringLiteral("1024");
    QTest::newRow("megabyte") << QString(1 << 20, QLatin1Char('a')) << QStringLiteral("1024");
    QTest::newRow("too deep") << QStringLiteral("a/").repeated(70) + QStringLiteral("b")
                              << QStringLiteral("deeper");
    QTest::newRow("partial suffix")
        << QStringLiteral("x.punchline-part") << QStringLiteral("reserved");
}

void TestPathSafety::rejected()
{
    QFETCH(QString, path);
    QFETCH(QString, reason);
    QString why;
    QVERIFY(PathSafety::normalizedRelativePath(path, &why).isNull());
    QVERIFY2(why.contains(reason), qPrintable(why));
}

void TestPathSafety::accepted_data()
{
    QTest::addColumn<QString>("path");
    QTest::newRow("plain") << QStringLiteral("report.pdf");
    QTest::newRow("nested") << QStringLiteral("photos/2024/summer/img_0001.jpg");
    QTest::newRow("non-ascii nested") << QStringLiteral("Fotos/Ünïcødé ñame/日本語のファイル.txt");
    QTest::newRow("emoji zwj") << QStringLiteral(
        "family \U0001F468\u200D\U0001F469\u200D\U0001F467.png");
    QTest::newRow("dotfile") << QStringLiteral(".bashrc");
    QTest::newRow("dots inside") << QStringLiteral("a..b/c...d.txt");
    QTest::newRow("leading space") << QStringLiteral(" x");
    QTest::newRow("console") << QStringLiteral("console.log");
    QTest::newRow("com10") << QStringLiteral("COM10");
    QTest::newRow("conx") << QStringLiteral("CONX.txt");
    QTest::newRow("255 bytes") << QString(255, QLatin1Char('a'));
    QTest::newRow("1024 bytes")
        << QString(QString(200, QLatin1Char('a')) + QLatin1Char('/')).repeated(5)
            + QString(19, QLatin1Char('b'));
}

void TestPathSafety::accepted()
{
    QFETCH(QString, path);
    QString why;
    QCOMPARE(PathSafety::normalizedRelativePath(path, &why), path);
    QVERIFY(why.isEmpty());
}

void TestPathSafety::nfc()
{
    // "é" as e + combining acute (NFD, as macOS names files) becomes one code point.
    const QString decomposed = QStringLiteral("caf") + QChar(0x0065) + QChar(0x0301)
        + QStringLiteral("/re\u0301sume\u0301.txt");
    const QString composed = QStringLiteral("caf\u00e9/r\u00e9sum\u00e9.txt");
    QVERIFY(decomposed != composed);
    QCOMPARE(PathSafety::normalizedRelativePath(decomposed), composed);
    QCOMPARE(PathSafety::normalizedRelativePath(composed), composed);
    // Hangul jamo compose too.
    QCOMPARE(PathSafety::normalizedRelativePath(QStringLiteral("\u1100\u1161")),
        QStringLiteral("\uAC00"));
}

void TestPathSafety::lengthCaps()
{
    QCOMPARE(PathSafety::MaxComponentBytes, 255);
    QCOMPARE(PathSafety::MaxPathBytes, 1024);
    // Caps count UTF-8 bytes, not characters: 85 three-byte characters fit, 86 do not.
    QVERIFY(!PathSafety::normalizedRelativePath(QString(85, QChar(0x65e5))).isNull());
    QVERIFY(PathSafety::normalizedRelativePath(QString(86, QChar(0x65e5))).isNull());
}

void TestPathSafety::numberedName_data()
{
    QTest::addColumn<QString>("name");
    QTest::addColumn<int>("n");
    QTest::addColumn<QString>("expected");
    QTest::newRow("ext") << QStringLiteral("name.ext") << 1 << QStringLiteral("name (1).ext");
    QTest::newRow("second") << QStringLiteral("report.pdf") << 2
                            << QStringLiteral("report (2).pdf");
    QTest::newRow("no ext") << QStringLiteral("README") << 1 << QStringLiteral("README (1)");
    QTest::newRow("dotfile") << QStringLiteral(".bashrc") << 1 << QStringLiteral(".bashrc (1)");
    QTest::newRow("tar.gz") << QStringLiteral("backup.tar.gz") << 3
                            << QStringLiteral("backup (3).tar.gz");
    QTest::newRow("folder") << QStringLiteral("photos") << 1 << QStringLiteral("photos (1)");
    QTest::newRow("many dots") << QStringLiteral("a.b.c") << 1 << QStringLiteral("a.b (1).c");
}

void TestPathSafety::numberedName()
{
    QFETCH(QString, name);
    QFETCH(int, n);
    QFETCH(QString, expected);
    QCOMPARE(PathSafety::numberedName(name, n), expected);
}

void TestPathSafety::partialName()
{
    QCOMPARE(PathSafety::partialName(QStringLiteral("a.txt"), QStringLiteral("0123abcd")),
        QStringLiteral("a.txt.0123abcd.punchline-part"));
    // Long names are cut (on a character boundary) so the partial name still fits NAME_MAX.
    const QString longName = QString(120, QChar(0x00e9)) + QStringLiteral(".bin"); // 244 bytes
    const QString partial = PathSafety::partialName(longName, QStringLiteral("0123abcd"));
    QVERIFY(partial.toUtf8().size() <= 255);
    QVERIFY(partial.endsWith(QStringLiteral(".0123abcd.punchline-part")));
    const QString numbered = PathSafety::numberedName(QString(255, QLatin1Char('x')), 12);
    QVERIFY(numbered.toUtf8().size() <= 255);
    QVERIFY(numbered.endsWith(QStringLiteral(" (12)")));
}

void TestPathSafety::displaySafe()
{
    const QString shown = PathSafety::displaySafe(QStringLiteral("\x1b[31mred\u202E"));
    QVERIFY(!shown.contains(QChar(0x1b)));
    QVERIFY(!shown.contains(QChar(0x202e)));
    QVERIFY(shown.contains(QStringLiteral("red")));
    QVERIFY(PathSafety::displaySafe(QString(1000, QLatin1Char('a')), 50).size() <= 51);
}

QTEST_GUILESS_MAIN(TestPathSafety)
#include "tst_pathsafety.moc"
