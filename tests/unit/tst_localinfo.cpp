// What the engine tells the window about this computer after discovery: here, which STUN servers
// answered (LocalInfo::stunAnswered). A scripted STUN server on loopback answers; another
// configured server is a closed port.

#include "engine/node.h"
#include "stuntestservers.h"
#include "support/loopbacksettings.h"

#include <QSignalSpy>
#include <QStandardPaths>
#include <QTcpServer>
#include <QTemporaryDir>
#include <QTest>

using namespace Punchline;
using namespace Punchline::TestSupport;

class TestLocalInfo : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void initTestCase() { QStandardPaths::setTestModeEnabled(true); }

    void stunServersThatAnsweredAreListed()
    {
        ScriptedStunServer answering([](const StunMessage &request, int) {
            return ScriptedStunServer::answer(request, *Endpoint::parse(u"198.51.100.4:40001"));
        });
        QVERIFY(answering.listen());
        QTcpServer closed;
        QVERIFY(closed.listen(QHostAddress::LocalHost));
        const quint16 deadPort = closed.serverPort();
        closed.close();
        const QString dead = QStringLiteral("127.0.0.1:%1").arg(deadPort);

        QTemporaryDir d;
        Settings s = loopbackSettings(d.path(), QStringLiteral("Ann"));
        s.stunServers = { dead, answering.server() };
        Node a;
        QSignalSpy info(&a, &Node::localInfoReady);
        a.start(s);
        QVERIFY(info.wait(10000));
        const LocalInfo i = info.first().first().value<LocalInfo>();
        QCOMPARE(
            i.publicEndpoint, std::optional<Endpoint>(*Endpoint::parse(u"198.51.100.4:40001")));
        QCOMPARE(i.stunAnswered, QStringList { answering.server() });
    }

    void noStunNoAnswers()
    {
        QTemporaryDir d;
        Node a;
        QSignalSpy info(&a, &Node::localInfoReady);
        a.start(loopbackSettings(d.path(), QStringLiteral("Ann")));
        QVERIFY(info.wait(10000));
        QVERIFY(info.first().first().value<LocalInfo>().stunAnswered.isEmpty());
    }
};

QTEST_GUILESS_MAIN(TestLocalInfo)
#include "tst_localinfo.moc"
