// Endpoint parsing (what users paste) and address normalisation.
#include "common/endpoint.h"

#include <QTest>

using namespace Punchline;

class TestEndpoint : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void parse_data()
    {
        QTest::addColumn<QString>("text");
        QTest::addColumn<bool>("valid");
        QTest::addColumn<QString>("canonical");
        QTest::newRow("v4") << "203.0.113.5:4000" << true << "203.0.113.5:4000";
        QTest::newRow("v4 spaces") << "  198.51.100.1:1 " << true << "198.51.100.1:1";
        QTest::newRow("v6") << "[2001:db8::1]:65535" << true << "[2001:db8::1]:65535";
        QTest::newRow("v4-mapped") << "[::ffff:192.0.2.1]:80" << true << "192.0.2.1:80";
        QTest::newRow("port 0") << "192.0.2.1:0" << false << "";
        QTest::newRow("port too big") << "192.0.2.1:65536" << false << "";
        QTest::newRow("no port") << "192.0.2.1" << false << "";
        QTest::newRow("name") << "example.org:80" << false << "";
        QTest::newRow("short v4") << "10.1:80" << false << "";
        QTest::newRow("v6 no brackets") << "2001:db8::1:80" << false << "";
        QTest::newRow("junk port") << "192.0.2.1:80x" << false << "";
        QTest::newRow("empty") << "" << false << "";
        QTest::newRow("timeout") << "timeout" << false << "";
    }
    void parse()
    {
        QFETCH(QString, text);
        QFETCH(bool, valid);
        QFETCH(QString, canonical);
        const auto e = Endpoint::parse(text);
        QCOMPARE(e.has_value(), valid);
        if (valid)
            QCOMPARE(e->toString(), canonical);
    }

    void parseList()
    {
        QString error;
        const auto list
            = Endpoint::parseList(u"203.0.113.2:4000, 192.0.2.10:4000\n203.0.113.2:4000", &error);
        QVERIFY(list.has_value());
        QCOMPARE(list->size(), 2); // duplicates folded
        QVERIFY(!Endpoint::parseList(u"203.0.113.2:4000, nonsense", &error).has_value());
        QVERIFY(error.contains(QStringLiteral("nonsense")));
        QVERIFY(!Endpoint::parseList(u"  ", &error).has_value());
    }

    void normalizeKeepsAnyIPv6()
    {
        // "::" must stay IPv6 (binding [::] depends on it); only ::ffff:x.y.z.w becomes IPv4.
        QCOMPARE(normalizedAddress(QHostAddress(QHostAddress::AnyIPv6)).protocol(),
            QAbstractSocket::IPv6Protocol);
        QCOMPARE(normalizedAddress(QHostAddress(QStringLiteral("::1"))).protocol(),
            QAbstractSocket::IPv6Protocol);
        QCOMPARE(normalizedAddress(QHostAddress(QStringLiteral("::ffff:203.0.113.9"))),
            QHostAddress(QStringLiteral("203.0.113.9")));
    }
};

QTEST_GUILESS_MAIN(TestEndpoint)
#include "tst_endpoint.moc"
