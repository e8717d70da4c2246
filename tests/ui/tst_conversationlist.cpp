// The conversation list on its own: presence words, last message, unread counts (raised for a
// friend not shown, cleared on selection), order by activity, names that cannot turn the text
// around them, and the per-friend actions of the context menu.

#include "conversationlist.h"
#include "messageformat.h"

#include <QLabel>
#include <QListWidget>
#include <QPushButton>
#include <QSignalSpy>
#include <QTest>

using namespace Punchline;

namespace {

FriendInfo friendNamed(const QString &name, char id, State state = State::Idle)
{
    FriendInfo f;
    f.fingerprint = QByteArray(32, id);
    f.name = name;
    f.state = state;
    return f;
}

} // namespace

class TestConversationList : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void presenceInWords()
    {
        const QDateTime now = QDateTime::currentDateTimeUtc();
        FriendInfo f = friendNamed(QStringLiteral("Alice"), 'a', State::Connected);
        f.pathKnown = true;
        f.path = PathKind::Lan;
        QCOMPARE(ConversationList::presenceText(f, now), QStringLiteral("connected · lan"));
        f.path = PathKind::Direct;
        QCOMPARE(ConversationList::presenceText(f, now), QStringLiteral("connected · direct"));
        f.state = State::Connecting;
        QCOMPARE(ConversationList::presenceText(f, now), QStringLiteral("connecting…"));
        f.state = State::Securing;
        QCOMPARE(ConversationList::presenceText(f, now), QStringLiteral("connecting…"));
        f.state = State::Reconnecting;
        QCOMPARE(ConversationList::presenceText(f, now), QStringLiteral("reconnecting…"));
        f.state = State::Idle;
        QCOMPARE(ConversationList::presenceText(f, now), QStringLiteral("offline"));
        f.lastSeen = now.addSecs(-5 * 60);
        QCOMPARE(ConversationList::presenceText(f, now),
            QStringLiteral("offline · last seen 5 min ago"));
        f.state = State::Failed;
        QCOMPARE(ConversationList::presenceText(f, now),
            QStringLiteral("could not connect · last seen 5 min ago"));
        f.lastSeen = {};
        QCOMPARE(ConversationList::presenceText(f, now), QStringLiteral("could not connect"));
    }

    void lastMessageUnreadAndOrder()
    {
        ConversationList list;
        QSignalSpy unread(&list, &ConversationList::unreadChanged);
        QSignalSpy selected(&list, &ConversationList::friendSelected);
        const FriendInfo alice = friendNamed(QStringLiteral("Alice"), 'a', State::Connected);
        const FriendInfo bob = friendNamed(QStringLiteral("Bob"), 'b', State::Connected);
        FriendInfo carol = friendNamed(QStringLiteral("Carol"), 'c');
        carol.lastSeen = QDateTime::currentDateTimeUtc().addDays(-3);
        list.setFriends({ alice, bob, carol });
        QCOMPARE(list.count(), 3);
        QCOMPARE(list.list()->count(), 3);
        QCOMPARE(list.addButton()->text(), QStringLiteral("&Add friend…"));

        const QDateTime t0 = QDateTime::currentDateTime();
        list.setLastActivity(alice.fingerprint, QStringLiteral("You: see you"), t0.addSecs(-60));
        list.setLastActivity(bob.fingerprint, QStringLiteral("lunch?"), t0.addSecs(-30));
        // Most recent activity first: Bob (30 s ago), Alice (60 s ago), Carol (3 days ago).
        QCOMPARE(list.order(),
            QList<QByteArray>({ bob.fingerprint, alice.fingerprint, carol.fingerprint }));
        QCOMPARE(list.entry(alice.fingerprint)->lastText, QStringLiteral("You: see you"));
        QCOMPARE(list.unreadCount(alice.fingerprint), 0);

        // Alice's conversation is shown: her messages are read, Bob's are not.
        list.setCurrentFriend(alice.fingerprint);
        list.noteIncoming(alice.fingerprint, QStringLiteral("hi"), t0);
        QCOMPARE(list.unreadCount(alice.fingerprint), 0);
        list.noteIncoming(bob.fingerprint, QStringLiteral("are you there?"), t0.addSecs(1));
        list.noteIncoming(bob.fingerprint, QStringLiteral("hello?\nsecond line"), t0.addSecs(2));
        QCOMPARE(list.unreadCount(bob.fingerprint), 2);
        QCOMPARE(list.totalUnread(), 2);
        QCOMPARE(unread.count(), 2);
        QCOMPARE(unread.last().at(0).toInt(), 2);
        QCOMPARE(list.entry(bob.fingerprint)->lastText, QStringLiteral("hello? second line"));
        QCOMPARE(list.order().constFirst(), bob.fingerprint); // the newest activity on top
        QVERIFY2(list.list()->item(0)->text().contains(QStringLiteral("2 unread")),
            qPrintable(list.list()->item(0)->text()));

        // A new friends list keeps the counts and last messages of the friends still there.
        FriendInfo bobOffline = bob;
        bobOffline.state = State::Idle;
        list.setFriends({ alice, bobOffline, carol });
        QCOMPARE(list.unreadCount(bob.fingerprint), 2);
        QCOMPARE(list.entry(bob.fingerprint)->lastText, QStringLiteral("hello? second line"));

        // Picking Bob (as a user clicks) shows him and clears his count.
        list.list()->setCurrentRow(int(list.order().indexOf(bob.fingerprint)));
        QCOMPARE(selected.count(), 1);
        QCOMPARE(selected.last().at(0).toByteArray(), bob.fingerprint);
        QCOMPARE(list.currentFriend(), bob.fingerprint);
        QCOMPARE(list.unreadCount(bob.fingerprint), 0);
        QCOMPARE(list.totalUnread(), 0);
        QCOMPARE(unread.last().at(0).toInt(), 0);

        // Now Alice is not shown: her next message counts.
        list.noteIncoming(alice.fingerprint, QStringLiteral("still there?"), t0.addSecs(3));
        QCOMPARE(list.unreadCount(alice.fingerprint), 1);
        QCOMPARE(list.order().constFirst(), alice.fingerprint);

        // A friend forgotten leaves the list, with its count.
        list.setFriends({ bobOffline, carol });
        QCOMPARE(list.count(), 2);
        QVERIFY(!list.contains(alice.fingerprint));
        QCOMPARE(list.totalUnread(), 0);
    }

    void newFriendWithoutHistoryGoesOnTop()
    {
        ConversationList list;
        FriendInfo old = friendNamed(QStringLiteral("Old"), 'o');
        old.lastSeen = QDateTime::currentDateTimeUtc().addDays(-1);
        list.setFriends({ old });
        QCOMPARE(list.addButton()->text(), QStringLiteral("&Add friend…"));
        const FriendInfo added = friendNamed(QStringLiteral("New"), 'n', State::Connecting);
        list.setFriends({ old, added });
        QCOMPARE(list.order().constFirst(), added.fingerprint);

        auto *empty = list.findChild<QLabel *>(QStringLiteral("conversationListEmpty"));
        QVERIFY(empty && !empty->isVisibleTo(&list));
        list.setFriends({});
        QCOMPARE(list.addButton()->text(), QStringLiteral("&Add your first friend…"));
        QVERIFY(empty->isVisibleTo(&list)); // says what the list is for
        QVERIFY(!list.list()->isVisibleTo(&list));
        // An attempt by plain addresses has no fingerprint yet: no conversation for it.
        FriendInfo unproven;
        unproven.name = QStringLiteral("unproven");
        list.setFriends({ unproven });
        QCOMPARE(list.count(), 0);
    }

    void namesAreIsolated()
    {
        // A name with a right-to-left override cannot reorder what follows it.
        const QString evil = QString(QChar(0x202E)) + QStringLiteral("ecilA");
        const QString isolated = MessageFormat::isolate(evil);
        QCOMPARE(isolated.front(), QChar(0x2068));
        QCOMPARE(isolated.back(), QChar(0x2069));
        QCOMPARE(MessageFormat::isolate(QStringLiteral("a\nb")),
            QString(QChar(0x2068)) + QStringLiteral("a b") + QChar(0x2069));

        ConversationList list;
        const FriendInfo f = friendNamed(evil, 'e');
        list.setFriends({ f });
        list.setLastActivity(
            f.fingerprint, QStringLiteral("<b>hi</b>"), QDateTime::currentDateTime());
        const QString shown = list.list()->item(0)->text();
        QVERIFY2(shown.startsWith(isolated), qPrintable(shown));
        QVERIFY(shown.contains(QStringLiteral("<b>hi</b>"))); // plain text, never markup
    }
};

QTEST_MAIN(TestConversationList)
#include "tst_conversationlist.moc"
