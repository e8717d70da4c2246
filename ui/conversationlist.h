#pragma once
// The conversations, left of the window: every known friend (from Node::friendsChanged) with a
// presence dot and words (connected over lan/direct, connecting, reconnecting, offline + last
// seen), the last message and an unread count, most recent activity first. Picking one shows that
// conversation; its context menu connects, cancels, disconnects or forgets that friend.

#include "common/types.h"

#include <QDateTime>
#include <QHash>
#include <QList>
#include <QWidget>

class QLabel;
class QListWidget;
class QListWidgetItem;
class QPushButton;

namespace Punchline {

class ConversationList : public QWidget
{
    Q_OBJECT
public:
    struct Entry
    {
        FriendInfo info;
        QString lastText; // plain, one line: the last message or transfer ("You: hi")
        QDateTime lastTime; // of that message; invalid: none yet
        int unread = 0;
        QDateTime firstListed; // when this list first heard of the friend (orders new friends)
    };

    explicit ConversationList(QWidget *parent = nullptr);

    // The known friends, as Node::friendsChanged reports them. Friends no longer listed go (with
    // their unread counts); the rest keep their last message and unread count.
    void setFriends(const QList<FriendInfo> &friends);
    // The last thing said or sent in a conversation, without counting it as unread (history, own
    // messages).
    void setLastActivity(const QByteArray &fingerprint, const QString &text, const QDateTime &time);
    // Something arrived from this friend: it becomes the last activity and, unless this
    // conversation is the one shown, raises its unread count.
    void noteIncoming(const QByteArray &fingerprint, const QString &text, const QDateTime &time);

    // The conversation shown. Selecting it clears its unread count.
    QByteArray currentFriend() const { return m_current; }
    void setCurrentFriend(const QByteArray &fingerprint);

    int unreadCount(const QByteArray &fingerprint) const;
    int totalUnread() const;
    bool contains(const QByteArray &fingerprint) const { return m_entries.contains(fingerprint); }
    const Entry *entry(const QByteArray &fingerprint) const;
    QList<QByteArray> order() const { return m_order; } // as shown, top first
    int count() const { return int(m_order.size()); }
    QListWidget *list() const { return m_list; }
    QPushButton *addButton() const { return m_add; }

    // "connected · lan", "connecting…", "reconnecting…", "offline · last seen 5 min ago"; with
    // the friend finder's presence: "online", "online · connecting…", "offline since 10:42".
    static QString presenceText(const FriendInfo &info, const QDateTime &now);
    // "found via the friend finder" (FoundVia::Dht), else empty.
    static QString foundViaText(const FriendInfo &info);
    static QString displayName(const FriendInfo &info); // the name, or "Unnamed friend"

Q_SIGNALS:
    void friendSelected(const QByteArray &fingerprint);
    // Picked to work in (a click, Enter): the window puts the keyboard in its message box.
    void friendChosen(const QByteArray &fingerprint);
    void addFriendRequested();
    void connectRequested(const QByteArray &fingerprint); // connect / reconnect
    void cancelRequested(const QByteArray &fingerprint);
    void disconnectRequested(const QByteArray &fingerprint);
    void forgetRequested(const QByteArray &fingerprint);
    void unreadChanged(int total);

protected:
    void changeEvent(QEvent *event) override;

private:
    void rebuild();
    void fillItem(QListWidgetItem *item, const Entry &entry) const;
    void showMenu(const QPoint &pos);

    QHash<QByteArray, Entry> m_entries;
    QList<QByteArray> m_order;
    QByteArray m_current;
    QListWidget *m_list;
    QPushButton *m_add;
    QLabel *m_empty;
};

} // namespace Punchline
