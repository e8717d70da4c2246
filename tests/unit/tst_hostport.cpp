// parseHostPort(): the one parser for a server written as host:port (STUN servers in the settings
// window, on the command line and in the engine).
#include "common/hostport.h"

#include <QTest>

using namespace Punchline;

class TestHostPort : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void parse_data()
    {
        QTest::addColumn<QString>("text");
        QTest::addColumn<int>("defaultPort");
        QTest::addColumn<QString>("host"); // empty: refused
        QTest::addColumn<int>("port");
        QTest::addColumn<QString>("error"); // a part of the reason when refused

        const auto good = [](const char *row, const QString &text, int defaultPort,
                              const QString &host, int port) {
            QTest::newRow(row) << text << defaultPort << host << port << QString();
        };
        const auto bad
            = [](const char *row, const QString &text, int defaultPort, const QString &error) {
                  QTest::newRow(row) << text << defaultPort << QString() << 0 << error;
              };

        // Names.
        good("name:port", QStringLiteral("stun.example.org:3478"), 0,
            QStringLiteral("stun.example.org"), 3478);
        good("spaces around", QStringLiteral("  stun.example.org:443 \n"), 0,
            QStringLiteral("stun.example.org"), 443);
        good("upper case", QStringLiteral("STUN.Example.ORG:3478"), 0,
            QStringLiteral("stun.example.org"), 3478);
        good("trailing dot", QStringLiteral("stun.example.org.:3478"), 0,
            QStringLiteral("stun.example.org"), 3478);
        good("single label", QStringLiteral("localhost:1"), 0, QStringLiteral("localhost"), 1);
        good("underscore and hyphen", QStringLiteral("my_stun-1.example:65535"), 0,
            QStringLiteral("my_stun-1.example"), 65535);
        good("digit first", QStringLiteral("1und1.de:3478"), 0, QStringLiteral("1und1.de"), 3478);
        good("international", QStringLiteral("stün.example:3478"), 0,
            QStringLiteral("xn--stn-ioa.example"), 3478);
        good("name without port, default", QStringLiteral("stun.example.org"), 3478,
            QStringLiteral("stun.example.org"), 3478);
        good("explicit port beats default", QStringLiteral("stun.example.org:5349"), 3478,
            QStringLiteral("stun.example.org"), 5349);
        good("253 characters",
            QString(QString(63, QLatin1Char('a')) + QLatin1Char('.')).repeated(3)
                + QString(61, QLatin1Char('b')) + QStringLiteral(":1"),
            0,
            QString(QString(63, QLatin1Char('a')) + QLatin1Char('.')).repeated(3)
                + QString(61, QLatin1Char('b')),
            1);

        // IPv4.
        good("ipv4", QStringLiteral("192.0.2.1:3478"), 0, QStringLiteral("192.0.2.1"), 3478);
        good("ipv4 default", QStringLiteral("192.0.2.1"), 3478, QStringLiteral("192.0.2.1"), 3478);
        good("loopback", QStringLiteral("127.0.0.1:9"), 0, QStringLiteral("127.0.0.1"), 9);

        // IPv6.
        good("[ipv6]:port", QStringLiteral("[2001:db8::1]:3478"), 0, QStringLiteral("2001:db8::1"),
            3478);
        good("[ipv6] canonical", QStringLiteral("[2001:DB8:0:0:0:0:0:1]:3478"), 0,
            QStringLiteral("2001:db8::1"), 3478);
        good("[ipv4-mapped]", QStringLiteral("[::ffff:192.0.2.1]:3478"), 0,
            QStringLiteral("192.0.2.1"), 3478);
        good("[ipv6] default", QStringLiteral("[2001:db8::1]"), 3478, QStringLiteral("2001:db8::1"),
            3478);
        good("bare ipv6 default", QStringLiteral("2001:db8::1"), 3478,
            QStringLiteral("2001:db8::1"), 3478);
        good("[::1]", QStringLiteral("[::1]:3478"), 0, QStringLiteral("::1"), 3478);

        // Ports.
        bad("empty", QString(), 0, QStringLiteral("nothing"));
        bad("blank", QStringLiteral("  \t "), 3478, QStringLiteral("nothing"));
        bad("no port", QStringLiteral("stun.example.org"), 0, QStringLiteral("port is missing"));
        bad("ipv4 no port", QStringLiteral("192.0.2.1"), 0, QStringLiteral("port is missing"));
        bad("[ipv6] no port", QStringLiteral("[2001:db8::1]"), 0,
            QStringLiteral("port is missing"));
        bad("empty port", QStringLiteral("stun.example.org:"), 3478,
            QStringLiteral("port is missing after"));
        bad("port 0", QStringLiteral("stun.example.org:0"), 0, QStringLiteral("1 to 65535"));
        bad("port 65536", QStringLiteral("stun.example.org:65536"), 0,
            QStringLiteral("1 to 65535"));
        bad("port 99999999", QStringLiteral("stun.example.org:99999999"), 0,
            QStringLiteral("1 to 65535"));
        bad("port junk", QStringLiteral("stun.example.org:34x"), 0, QStringLiteral("1 to 65535"));
        bad("port sign", QStringLiteral("stun.example.org:+3478"), 0, QStringLiteral("1 to 65535"));
        bad("port negative", QStringLiteral("stun.example.org:-1"), 0,
            QStringLiteral("1 to 65535"));
        bad("port space", QStringLiteral("stun.example.org: 3478"), 0,
            QStringLiteral("1 to 65535"));
        bad("no host", QStringLiteral(":3478"), 0, QStringLiteral("host is missing"));
        bad("[]:port", QStringLiteral("[]:3478"), 0, QStringLiteral("host is missing"));

        // Not host:port at all.
        bad("url", QStringLiteral("stun://stun.example.org:3478"), 0,
            QStringLiteral("without a scheme"));
        bad("https url", QStringLiteral("https://stun.example.org"), 3478,
            QStringLiteral("without a scheme"));
        bad("path", QStringLiteral("stun.example.org:3478/x"), 0, QStringLiteral("path"));
        bad("stun: uri", QStringLiteral("stun:stun.example.org:3478"), 0,
            QStringLiteral("without \"stun:\""));
        bad("stun: uri no port", QStringLiteral("stun:stun.example.org"), 3478,
            QStringLiteral("without \"stun:\""));
        bad("user@host", QStringLiteral("me@stun.example.org:3478"), 0, QStringLiteral("\"@\""));
        bad("space in name", QStringLiteral("stun example:3478"), 0, QStringLiteral("a space"));
        bad("empty label", QStringLiteral("stun..example.org:3478"), 0,
            QStringLiteral("empty part"));
        bad("leading dot", QStringLiteral(".example.org:3478"), 0, QStringLiteral("empty part"));
        bad("hyphen edge", QStringLiteral("-stun.example.org:3478"), 0,
            QStringLiteral("starts or ends with '-'"));
        bad("label too long", QString(64, QLatin1Char('a')) + QStringLiteral(".org:3478"), 0,
            QStringLiteral("longer than 63"));
        bad("name too long",
            QString(QString(63, QLatin1Char('a')) + QLatin1Char('.')).repeated(3)
                + QString(62, QLatin1Char('b')) + QStringLiteral(":1"),
            0, QStringLiteral("longer than 253"));

        // IPv4 oddities QHostAddress would take.
        bad("short ipv4", QStringLiteral("10.1:3478"), 0, QStringLiteral("not an IPv4 address"));
        bad("one number", QStringLiteral("3405803783:3478"), 0,
            QStringLiteral("not an IPv4 address"));
        bad("octet too big", QStringLiteral("256.0.0.1:3478"), 0,
            QStringLiteral("not an IPv4 address"));
        bad("five numbers", QStringLiteral("1.2.3.4.5:3478"), 0,
            QStringLiteral("not an IPv4 address"));
        bad("unspecified v4", QStringLiteral("0.0.0.0:3478"), 0,
            QStringLiteral("cannot be that of a server"));
        bad("broadcast", QStringLiteral("255.255.255.255:3478"), 0,
            QStringLiteral("cannot be that of a server"));
        bad("multicast", QStringLiteral("224.0.0.1:3478"), 0,
            QStringLiteral("cannot be that of a server"));
        bad("unspecified v6", QStringLiteral("[::]:3478"), 0,
            QStringLiteral("cannot be that of a server"));

        // IPv6 without (proper) brackets.
        bad("bare ipv6 no default", QStringLiteral("2001:db8::1"), 0, QStringLiteral("brackets"));
        bad("bare ipv6 with port", QStringLiteral("2001:db8::1:3478"), 0,
            QStringLiteral("brackets"));
        bad("two colons, not ipv6", QStringLiteral("stun.example.org:3478:1"), 0,
            QStringLiteral("more than one ':'"));
        bad("unclosed bracket", QStringLiteral("[2001:db8::1:3478"), 0,
            QStringLiteral("closing ']' is missing"));
        bad("junk after bracket", QStringLiteral("[2001:db8::1]3478"), 0,
            QStringLiteral("may follow ']'"));
        bad("ipv4 in brackets", QStringLiteral("[192.0.2.1]:3478"), 0,
            QStringLiteral("only an IPv6 address"));
        bad("name in brackets", QStringLiteral("[stun.example.org]:3478"), 0,
            QStringLiteral("only an IPv6 address"));
        bad("bad ipv6 in brackets", QStringLiteral("[2001:db8::g]:3478"), 0,
            QStringLiteral("only an IPv6 address"));
    }

    void parse()
    {
        QFETCH(QString, text);
        QFETCH(int, defaultPort);
        QFETCH(QString, host);
        QFETCH(int, port);
        QFETCH(QString, error);
        QString why = QStringLiteral("untouched");
        const std::optional<HostPort> parsed = parseHostPort(text, quint16(defaultPort), &why);
        if (host.isEmpty()) {
            QVERIFY2(!parsed, qPrintable(parsed ? parsed->toString() : QString()));
            QVERIFY2(why.contains(error), qPrintable(why));
            // A clause to put after "…: ", so no capital and no full stop.
            QVERIFY2(why.at(0).isLower() || why.at(0) == QLatin1Char('"'), qPrintable(why));
            QVERIFY2(!why.endsWith(QLatin1Char('.')), qPrintable(why));
            QVERIFY(!parseHostPort(text, quint16(defaultPort)).has_value()); // error is optional
        } else {
            QVERIFY2(parsed, qPrintable(why));
            QCOMPARE(parsed->host, host);
            QCOMPARE(int(parsed->port), port);
            QCOMPARE(why, QStringLiteral("untouched"));
            // The canonical text reads back as the same thing.
            QCOMPARE(parseHostPort(parsed->toString()), parsed);
        }
    }

    void toString_data()
    {
        QTest::addColumn<QString>("host");
        QTest::addColumn<int>("port");
        QTest::addColumn<QString>("text");
        QTest::addColumn<bool>("isAddress");
        QTest::newRow("name") << QStringLiteral("stun.example.org") << 3478
                              << QStringLiteral("stun.example.org:3478") << false;
        QTest::newRow("v4") << QStringLiteral("192.0.2.1") << 1 << QStringLiteral("192.0.2.1:1")
                            << true;
        QTest::newRow("v6") << QStringLiteral("2001:db8::1") << 65535
                            << QStringLiteral("[2001:db8::1]:65535") << true;
    }

    void toString()
    {
        QFETCH(QString, host);
        QFETCH(int, port);
        QFETCH(QString, text);
        QFETCH(bool, isAddress);
        const HostPort hp { host, quint16(port) };
        QCOMPARE(hp.toString(), text);
        QCOMPARE(hp.isAddress(), isAddress);
    }
};

QTEST_GUILESS_MAIN(TestHostPort)
#include "tst_hostport.moc"
