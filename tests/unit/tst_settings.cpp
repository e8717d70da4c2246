// The defaults a user's machine starts with (never contacted here: only the list is checked).

#include "common/hostport.h"
#include "engine/settings.h"

#include <QSet>
#include <QTest>

using namespace Punchline;

class TestSettings : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void defaultStunServersAnswerOverTcp()
    {
        // Servers the public checker lists as answering STUN over TCP (2026); the UDP-only
        // ones of the old list (stun.cloudflare.com documents UDP only; stun.sipgate.net is on
        // the UDP list only and asked to be left out of public lists) are gone.
        const QStringList servers = Settings::defaultStunServers();
        QCOMPARE(servers,
            QStringList({ QStringLiteral("stun.nextcloud.com:443"),
                QStringLiteral("stun.threema.ch:3478"), QStringLiteral("stun.freeswitch.org:3478"),
                QStringLiteral("stun.framasoft.org:3478"),
                QStringLiteral("stun.ipfire.org:3478") }));
        for (const QString &s : servers) {
            QVERIFY2(!s.contains(QLatin1String("cloudflare")), qPrintable(s));
            QVERIFY2(!s.contains(QLatin1String("sipgate")), qPrintable(s));
        }
    }

    void defaultStunServersAreSpreadAcrossOperators()
    {
        // One server per operator (the registrable domain), and at least two, so that NAT
        // classification (two servers at different addresses) survives one operator's outage.
        QSet<QString> operators;
        const QStringList servers = Settings::defaultStunServers();
        for (const QString &s : servers) {
            const auto parsed = parseHostPort(s, 3478);
            QVERIFY2(parsed.has_value(), qPrintable(s));
            QVERIFY(parsed->port > 0);
            const QStringList labels = parsed->host.split(QLatin1Char('.'));
            QVERIFY(labels.size() >= 2);
            operators.insert(labels.mid(labels.size() - 2).join(QLatin1Char('.')));
        }
        QCOMPARE(operators.size(), servers.size());
        QVERIFY(servers.size() >= 3);
    }
};

QTEST_GUILESS_MAIN(TestSettings)
#include "tst_settings.moc"
