#include "friendrequestbar.h"

#include "identity/identity.h"
#include "messageformat.h"

#include <QHBoxLayout>
#include <QLabel>
#include <QPushButton>
#include <QVBoxLayout>

namespace Punchline {

FriendRequestBar::FriendRequestBar(QWidget *parent)
    : QFrame(parent)
    , m_title(new QLabel(this))
    , m_detail(new QLabel(this))
    , m_more(new QLabel(this))
    , m_accept(new QPushButton(tr("Accept"), this))
    , m_decline(new QPushButton(tr("Decline"), this))
{
    setObjectName(QStringLiteral("friendRequestBar"));
    setFrameShape(QFrame::StyledPanel);
    setAutoFillBackground(true);
    setBackgroundRole(QPalette::AlternateBase);
    setAccessibleName(tr("Friend request"));

    m_title->setObjectName(QStringLiteral("friendRequestTitle"));
    m_title->setTextFormat(Qt::PlainText); // the name is the stranger's text
    m_title->setWordWrap(true);
    QFont bold = m_title->font();
    bold.setBold(true);
    m_title->setFont(bold);
    m_detail->setObjectName(QStringLiteral("friendRequestDetail"));
    m_detail->setTextFormat(Qt::PlainText);
    m_detail->setWordWrap(true);
    m_detail->setTextInteractionFlags(Qt::TextSelectableByMouse);
    m_more->setObjectName(QStringLiteral("friendRequestMore"));
    m_more->setTextFormat(Qt::PlainText);
    m_more->setForegroundRole(QPalette::PlaceholderText);

    m_accept->setObjectName(QStringLiteral("friendRequestAccept"));
    m_decline->setObjectName(QStringLiteral("friendRequestDecline"));
    for (QPushButton *b : { m_accept, m_decline }) {
        b->setAutoDefault(false);
        b->setDefault(false);
        b->setFocusPolicy(Qt::StrongFocus);
    }
    connect(m_accept, &QPushButton::clicked, this, &FriendRequestBar::acceptShown);
    connect(m_decline, &QPushButton::clicked, this, &FriendRequestBar::declineShown);

    auto *texts = new QVBoxLayout;
    texts->setSpacing(2);
    texts->addWidget(m_title);
    texts->addWidget(m_detail);
    texts->addWidget(m_more);
    auto *buttons = new QVBoxLayout;
    buttons->addWidget(m_accept);
    buttons->addWidget(m_decline);
    buttons->addStretch(1);
    auto *layout = new QHBoxLayout(this);
    layout->setContentsMargins(10, 8, 10, 8);
    layout->addLayout(texts, 1);
    layout->addLayout(buttons);
    hide();
}

QString FriendRequestBar::titleFor(const FriendRequest &request)
{
    return request.name.isEmpty()
        ? tr("Someone wants to connect")
        : tr("%1 wants to connect").arg(MessageFormat::isolate(request.name));
}

void FriendRequestBar::addRequest(const FriendRequest &request)
{
    if (request.fingerprint.isEmpty())
        return;
    for (FriendRequest &r : m_queue) {
        if (r.fingerprint == request.fingerprint) {
            r = request; // asked again (a newer name): one entry, in its place
            showFirst();
            return;
        }
    }
    m_queue.append(request);
    showFirst();
}

void FriendRequestBar::removeRequest(const QByteArray &fingerprint)
{
    for (qsizetype i = 0; i < m_queue.size(); ++i) {
        if (m_queue.at(i).fingerprint == fingerprint) {
            m_queue.removeAt(i);
            break;
        }
    }
    showFirst();
}

QString FriendRequestBar::title() const
{
    return m_title->text();
}

QString FriendRequestBar::detail() const
{
    return m_detail->text();
}

void FriendRequestBar::acceptShown()
{
    answer(true);
}

void FriendRequestBar::declineShown()
{
    answer(false);
}

void FriendRequestBar::answer(bool accept)
{
    if (m_queue.isEmpty())
        return;
    const FriendRequest request = m_queue.takeFirst();
    const bool hadFocus = m_accept->hasFocus() || m_decline->hasFocus();
    showFirst();
    Q_EMIT answered(request, accept);
    // The keyboard stays on the strip while more requests wait (Space answers each), also after
    // the window showed the friend just accepted.
    if (hadFocus && !m_queue.isEmpty())
        m_decline->setFocus();
}

void FriendRequestBar::showFirst()
{
    if (m_queue.isEmpty()) {
        hide();
        return;
    }
    const FriendRequest &r = m_queue.constFirst();
    m_title->setText(titleFor(r));
    const QString who = r.name.isEmpty() ? tr("they") : MessageFormat::isolate(r.name);
    m_detail->setText(
        tr("Someone who has your code asks to become your friend. Fingerprint %1. Accept only if "
           "you gave your code to %2; you can compare the fingerprint with the one %2 sees under "
           "\"You\".")
            .arg(Identity::formatFingerprint(r.fingerprint), who));
    m_accept->setToolTip(tr("Connect and add %1 to your conversations").arg(who));
    m_decline->setToolTip(tr("Say no; %1 is told the request was declined").arg(who));
    m_more->setText(m_queue.size() > 1
            ? tr("%n more request(s) waiting", nullptr, int(m_queue.size() - 1))
            : QString());
    m_more->setVisible(m_queue.size() > 1);
    show();
}

} // namespace Punchline
