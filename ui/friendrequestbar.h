#pragma once
// Someone who has our code asks to connect (Node::friendRequest): a strip at the top of the
// window saying who, with their fingerprint to compare, and Accept / Decline. Several requests
// queue and are answered one at a time, oldest first; a second request from the same fingerprint
// replaces the first. Neither button is a default and the strip never takes the keyboard: a
// stranger's request must not be accepted by an Enter meant for the message box. Tab reaches the
// buttons.

#include "common/types.h"

#include <QFrame>
#include <QList>

class QLabel;
class QPushButton;

namespace Punchline {

class FriendRequestBar : public QFrame
{
    Q_OBJECT
public:
    explicit FriendRequestBar(QWidget *parent = nullptr);

    void addRequest(const FriendRequest &request);
    // Drops a request without answering it (the friend connected some other way).
    void removeRequest(const QByteArray &fingerprint);
    QList<FriendRequest> pending() const { return m_queue; }
    QString title() const; // of the request shown
    QString detail() const;
    QPushButton *acceptButton() const { return m_accept; }
    QPushButton *declineButton() const { return m_decline; }

    // "Sam wants to connect"; an empty name reads "Someone".
    static QString titleFor(const FriendRequest &request);

Q_SIGNALS:
    void answered(const Punchline::FriendRequest &request, bool accept);

public Q_SLOTS:
    void acceptShown();
    void declineShown();

private:
    void answer(bool accept);
    void showFirst();

    QList<FriendRequest> m_queue;
    QLabel *m_title;
    QLabel *m_detail;
    QLabel *m_more;
    QPushButton *m_accept;
    QPushButton *m_decline;
};

} // namespace Punchline
