// punchline --demo, the newcomer's first look: three real engines on loopback (Alice with Bob and
// Carol). The welcome message and the file must reach Bob, Carol's message must reach Alice, and
// no window may say "connect first" while it shows a connection.

#include "chatview.h"
#include "conversationlist.h"
#include "demo.h"
#include "mainwindow.h"
#include "noticebar.h"
#include "statusbanner.h"
#include "transferitem.h"

#include <QApplication>
#include <QElapsedTimer>
#include <QStandardPaths>
#include <QTest>

using namespace Punchline;

namespace {

constexpr int ConnectTimeoutMs = 60000;

bool hasMessageContaining(const MainWindow *window, const QString &text)
{
    for (const ChatMessage &m : window->chatView()->messages()) {
        if (m.text.contains(text))
            return true;
    }
    return false;
}

} // namespace

class TestDemo : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void initTestCase() { QStandardPaths::setTestModeEnabled(true); }

    void welcomeArrives()
    {
        // The demo must never join the public DHT or multicast, even when asked on the command
        // line: --dht bootstrap.jami.net:4222 --dht-local-discovery on is ignored here.
        NetworkOptions asked;
        asked.dht = true;
        asked.dhtBootstrap = QStringList { QStringLiteral("bootstrap.jami.net:4222") };
        asked.dhtLocalDiscovery = true;
        Demo demo(asked);
        QVERIFY2(demo.isValid(), qPrintable(demo.errorText()));
        for (MainWindow *w : { demo.alice(), demo.bob(), demo.carol() }) {
            QVERIFY(!w->settings().dht);
            QVERIFY(!w->settings().dhtLocalDiscovery);
            QVERIFY(w->settings().dhtBootstrap.isEmpty());
        }
        demo.start();
        QElapsedTimer clock;
        clock.start();
        while (!hasMessageContaining(demo.bob(), QStringLiteral("Punchline demo"))
            && clock.elapsed() < ConnectTimeoutMs)
            QTest::qWait(100);
        const QString state = QStringLiteral("Alice: %1 / %2 friends / notice %3; Bob: %4 friends")
                                  .arg(demo.alice()->statusBanner()->headline())
                                  .arg(demo.alice()->conversationList()->count())
                                  .arg(demo.alice()->noticeBar()->text())
                                  .arg(demo.bob()->conversationList()->count());
        QVERIFY2(
            hasMessageContaining(demo.bob(), QStringLiteral("Punchline demo")), qPrintable(state));
        QTRY_VERIFY_WITH_TIMEOUT(!demo.bob()->chatView()->transferItems().isEmpty(), 30000);
        TransferItem *offer = demo.bob()->chatView()->transferItems().constFirst();
        QCOMPARE(offer->info().name, QStringLiteral("Welcome to Punchline.txt"));
        QTRY_VERIFY_WITH_TIMEOUT(demo.alice()->conversationList()->count() == 2, ConnectTimeoutMs);
        demo.alice()->showConversation(demo.carol()->localInfo().fingerprint);
        QTRY_VERIFY_WITH_TIMEOUT(
            hasMessageContaining(demo.alice(), QStringLiteral("Friday")), ConnectTimeoutMs);
        // Nothing contradicts the connection: no "connect first" notice in any window.
        for (MainWindow *w : { demo.alice(), demo.bob(), demo.carol() }) {
            const bool shown = w->noticeBar()->isVisibleTo(w);
            QVERIFY2(!shown || !w->noticeBar()->text().contains(QStringLiteral("first")),
                qPrintable(w->noticeBar()->text()));
        }
        // Bob accepts: the file lands.
        demo.bob()->answerOffer(offer->info().id, true);
        QTRY_COMPARE_WITH_TIMEOUT(offer->info().state, TransferState::Done, 30000);
    }

    // The three windows fit the screen's available area, also at 2x (1400x900 logical on a
    // 2800x1800 screen) and on small screens: nothing runs off an edge.
    void windowsFitTheArea_data()
    {
        QTest::addColumn<QRect>("area");
        QTest::newRow("1600x900") << QRect(0, 0, 1600, 900);
        QTest::newRow("2x on 2800x1800") << QRect(0, 0, 1400, 900);
        QTest::newRow("1280x720 with a panel") << QRect(0, 32, 1280, 688);
        QTest::newRow("2x on 2000x1400") << QRect(0, 0, 1000, 700);
    }

    // Still inside once connected and the offer shown: what arrives later (a long presence line,
    // the offer's buttons) must not make a window wider than its place.
    void windowsStillFitOnceConnected()
    {
        const QRect area(0, 0, 1400, 900); // 2x on a 2800x1800 screen
        Demo demo(NetworkOptions {});
        QVERIFY2(demo.isValid(), qPrintable(demo.errorText()));
        demo.start(area);
        QTRY_VERIFY_WITH_TIMEOUT(!demo.bob()->chatView()->transferItems().isEmpty(), 60000);
        QTRY_VERIFY_WITH_TIMEOUT(
            hasMessageContaining(demo.carol(), QStringLiteral("Friday")), ConnectTimeoutMs);
        QTest::qWait(200);
        for (MainWindow *w : { demo.alice(), demo.bob(), demo.carol() }) {
            const QRect frame = w->frameGeometry();
            QVERIFY2(area.contains(frame),
                qPrintable(QStringLiteral("%1: %2,%3 %4x%5 (minimum %6)")
                               .arg(w->localInfo().displayName)
                               .arg(frame.x())
                               .arg(frame.y())
                               .arg(frame.width())
                               .arg(frame.height())
                               .arg(w->minimumSizeHint().width())));
        }
    }

    void windowsFitTheArea()
    {
        QFETCH(QRect, area);
        Demo demo(NetworkOptions {});
        QVERIFY2(demo.isValid(), qPrintable(demo.errorText()));
        demo.start(area);
        QApplication::processEvents();
        for (MainWindow *w : { demo.alice(), demo.bob(), demo.carol() }) {
            QVERIFY(w->isVisible());
            QVERIFY2(area.contains(w->frameGeometry()),
                qPrintable(QStringLiteral("%1: %2,%3 %4x%5")
                               .arg(w->localInfo().displayName)
                               .arg(w->geometry().x())
                               .arg(w->geometry().y())
                               .arg(w->geometry().width())
                               .arg(w->geometry().height())));
        }
        // Side by side: Bob's and Carol's windows start where Alice's ends, when there is room.
        if (area.width() >= 1400) {
            QCOMPARE(demo.bob()->frameGeometry().left(), demo.alice()->frameGeometry().right() + 1);
            QCOMPARE(demo.carol()->frameGeometry().top(), demo.bob()->frameGeometry().bottom() + 1);
        }
    }
};

QTEST_MAIN(TestDemo)
#include "tst_demo.moc"
