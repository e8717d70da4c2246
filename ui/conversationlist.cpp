#include "conversationlist.h"

#include "iconfactory.h"
#include "messageformat.h"

#include <QApplication>
#include <QEvent>
#include <QLabel>
#include <QListWidget>
#include <QMenu>
#include <QPainter>
#include <QPushButton>
#include <QStyledItemDelegate>
#include <QVBoxLayout>

#include <algorithm>

namespace Punchline {

namespace {

enum Role {
    FingerprintRole = Qt::UserRole + 1,
    NameRole,
    PresenceRole,
    LastTextRole,
    TimeRole,
    UnreadRole,
    ToneRole,
};

enum class Tone { Online, Trying, Offline };

Tone toneOf(State s)
{
    switch (s) {
    case State::Connected:
        return Tone::Online;
    case State::Connecting:
    case State::Securing:
    case State::Reconnecting:
        return Tone::Trying;
    default:
        return Tone::Offline;
    }
}

// Three lines: dot + name + time / presence / last message + unread badge. Everything is drawn as
// plain text, so a friend's name or message can never be markup.
class ConversationDelegate : public QStyledItemDelegate
{
public:
    using QStyledItemDelegate::QStyledItemDelegate;

    QSize sizeHint(const QStyleOptionViewItem &option, const QModelIndex &) const override
    {
        const QFontMetrics fm(option.font);
        return { 200, fm.lineSpacing() * 3 + 14 };
    }

    void paint(QPainter *painter, const QStyleOptionViewItem &option,
        const QModelIndex &index) const override
    {
        QStyleOptionViewItem opt = option;
        initStyleOption(&opt, index);
        opt.text.clear();
        opt.icon = QIcon();
        const QWidget *widget = opt.widget;
        QStyle *style = widget ? widget->style() : QApplication::style();
        style->drawPrimitive(QStyle::PE_PanelItemViewItem, &opt, painter, widget);

        const bool selected = opt.state & QStyle::State_Selected;
        const QPalette &pal = opt.palette;
        const QColor text = pal.color(selected ? QPalette::HighlightedText : QPalette::Text);
        QColor dim = selected ? pal.color(QPalette::HighlightedText)
                              : pal.color(QPalette::PlaceholderText);
        if (selected)
            dim.setAlphaF(0.8);

        painter->save();
        const QRect r = opt.rect.adjusted(8, 6, -8, -6);
        QFont bold = opt.font;
        bold.setBold(true);
        QFont small = opt.font;
        small.setPointSizeF(opt.font.pointSizeF() * 0.9);
        const QFontMetrics fm(opt.font);
        const QFontMetrics fmSmall(small);
        const int line = fm.lineSpacing();

        // Presence dot.
        const int dot = std::max(8, line / 2);
        QColor dotColor;
        switch (Tone(index.data(ToneRole).toInt())) {
        case Tone::Online:
            dotColor = QColor(0x2e, 0xa0, 0x43);
            break;
        case Tone::Trying:
            dotColor = QColor(0xd9, 0x8e, 0x04);
            break;
        case Tone::Offline:
            dotColor = pal.color(QPalette::PlaceholderText);
            break;
        }
        painter->setRenderHint(QPainter::Antialiasing);
        painter->setPen(Qt::NoPen);
        painter->setBrush(dotColor);
        painter->drawEllipse(QRect(r.left(), r.top() + (line - dot) / 2, dot, dot));
        const int x = r.left() + dot + 8;

        // Line 1: name, time on the right.
        const QString time = index.data(TimeRole).toString();
        const int timeWidth = time.isEmpty() ? 0 : fmSmall.horizontalAdvance(time) + 6;
        painter->setFont(small);
        painter->setPen(dim);
        painter->drawText(QRect(r.right() - timeWidth, r.top(), timeWidth, line),
            Qt::AlignRight | Qt::AlignVCenter, time);
        painter->setFont(bold);
        painter->setPen(text);
        const QFontMetrics fmBold(bold);
        const QString name = fmBold.elidedText(
            index.data(NameRole).toString(), Qt::ElideRight, r.right() - timeWidth - x - 4);
        painter->drawText(QRect(x, r.top(), r.right() - timeWidth - x, line),
            Qt::AlignLeft | Qt::AlignVCenter, MessageFormat::isolate(name));

        // Line 2: presence.
        painter->setFont(small);
        painter->setPen(dim);
        const QString presence = fmSmall.elidedText(
            index.data(PresenceRole).toString(), Qt::ElideRight, r.right() - x);
        painter->drawText(QRect(x, r.top() + line, r.right() - x, line),
            Qt::AlignLeft | Qt::AlignVCenter, presence);

        // Line 3: last message, unread badge on the right.
        const int unread = index.data(UnreadRole).toInt();
        int badgeWidth = 0;
        const QRect third(x, r.top() + 2 * line + 2, r.right() - x, line);
        if (unread > 0) {
            const QString count = unread > 99 ? QStringLiteral("99+") : QString::number(unread);
            badgeWidth = std::max(line, fmSmall.horizontalAdvance(count) + line / 2 + 4);
            const QRect badge(r.right() - badgeWidth + 1, third.top(), badgeWidth, line);
            painter->setPen(Qt::NoPen);
            painter->setBrush(
                pal.color(selected ? QPalette::HighlightedText : QPalette::Highlight));
            painter->drawRoundedRect(badge, line / 2.0, line / 2.0);
            painter->setPen(pal.color(selected ? QPalette::Highlight : QPalette::HighlightedText));
            QFont badgeFont = small;
            badgeFont.setBold(true);
            painter->setFont(badgeFont);
            painter->drawText(badge, Qt::AlignCenter, count);
            badgeWidth += 6;
        }
        QFont lastFont = opt.font;
        lastFont.setBold(unread > 0);
        painter->setFont(lastFont);
        painter->setPen(unread > 0 ? text : dim);
        const QFontMetrics fmLast(lastFont);
        const QString last = fmLast.elidedText(
            index.data(LastTextRole).toString(), Qt::ElideRight, third.width() - badgeWidth);
        painter->drawText(third.adjusted(0, 0, -badgeWidth, 0), Qt::AlignLeft | Qt::AlignVCenter,
            MessageFormat::isolate(last));
        painter->restore();
    }
};

QDateTime activityOf(const ConversationList::Entry &e)
{
    QDateTime t = e.lastTime;
    if (e.info.lastSeen.isValid() && (!t.isValid() || e.info.lastSeen > t))
        t = e.info.lastSeen;
    if (!t.isValid())
        t = e.firstListed;
    return t;
}

} // namespace

ConversationList::ConversationList(QWidget *parent)
    : QWidget(parent)
    , m_list(new QListWidget(this))
    , m_add(new QPushButton(tr("&Add friend…"), this))
    , m_empty(new QLabel(this))
{
    m_empty->setObjectName(QStringLiteral("conversationListEmpty"));
    m_empty->setText(tr("Every friend you add gets a conversation here, with a dot that shows "
                        "whether they are connected."));
    m_empty->setWordWrap(true);
    m_empty->setForegroundRole(QPalette::PlaceholderText);
    m_list->setObjectName(QStringLiteral("conversationList"));
    m_list->setAccessibleName(tr("Conversations"));
    m_list->setItemDelegate(new ConversationDelegate(m_list));
    m_list->setSelectionMode(QAbstractItemView::SingleSelection);
    m_list->setContextMenuPolicy(Qt::CustomContextMenu);
    m_list->setHorizontalScrollBarPolicy(Qt::ScrollBarAlwaysOff);
    m_add->setObjectName(QStringLiteral("addFriendButton"));
    m_add->setToolTip(tr("Paste a friend's Punchline code to add them and connect"));
    m_add->setIcon(IconFactory::glyph(QStringLiteral("connect"), palette()));

    auto *layout = new QVBoxLayout(this);
    layout->setContentsMargins(0, 0, 0, 0);
    layout->addWidget(m_add);
    layout->addWidget(m_empty);
    layout->addWidget(m_list, 1);
    layout->addStretch(0);

    connect(m_add, &QPushButton::clicked, this, &ConversationList::addFriendRequested);
    connect(m_list, &QListWidget::currentItemChanged, this, [this](QListWidgetItem *item) {
        if (!item)
            return;
        const QByteArray fingerprint = item->data(FingerprintRole).toByteArray();
        setCurrentFriend(fingerprint);
        Q_EMIT friendSelected(fingerprint);
    });
    connect(m_list, &QListWidget::itemClicked, this, [this](QListWidgetItem *item) {
        // A click on the shown conversation (e.g. after "Add friend") shows it again.
        if (item)
            Q_EMIT friendSelected(item->data(FingerprintRole).toByteArray());
    });
    // After itemClicked: the conversation is shown when the keyboard moves to it.
    connect(m_list, &QListWidget::itemClicked, this, [this](QListWidgetItem *item) {
        if (item)
            Q_EMIT friendChosen(item->data(FingerprintRole).toByteArray());
    });
    connect(m_list, &QListWidget::itemActivated, this, [this](QListWidgetItem *item) {
        if (item)
            Q_EMIT friendChosen(item->data(FingerprintRole).toByteArray());
    });
    connect(m_list, &QWidget::customContextMenuRequested, this, &ConversationList::showMenu);
    rebuild();
}

QString ConversationList::displayName(const FriendInfo &info)
{
    return info.name.isEmpty() ? tr("Unnamed friend") : info.name;
}

QString ConversationList::presenceText(const FriendInfo &info, const QDateTime &now)
{
    // What the friend finder says (a fresh record: online; else offline since when), added to
    // the connection's state when that alone does not tell.
    const QString since = MessageFormat::dayAndTime(info.presenceSince, now);
    switch (info.state) {
    case State::Connected:
        return info.pathKnown ? tr("connected · %1").arg(pathName(info.path)) : tr("connected");
    case State::Connecting:
    case State::Securing:
        return info.online ? tr("online · connecting…") : tr("connecting…");
    case State::Reconnecting:
        return info.online ? tr("online · reconnecting…") : tr("reconnecting…");
    default:
        break;
    }
    if (info.state == State::Failed) { // the last attempt gave up: say so, not just "offline"
        if (info.online)
            return tr("could not connect · online");
        if (!since.isEmpty())
            return tr("could not connect · offline since %1").arg(since);
        return info.lastSeen.isValid()
            ? tr("could not connect · last seen %1").arg(MessageFormat::ago(info.lastSeen, now))
            : tr("could not connect");
    }
    if (info.online)
        return since.isEmpty() ? tr("online") : tr("online since %1").arg(since);
    if (!since.isEmpty())
        return tr("offline since %1").arg(since);
    if (!info.lastSeen.isValid())
        return tr("offline");
    return tr("offline · last seen %1").arg(MessageFormat::ago(info.lastSeen, now));
}

QString ConversationList::foundViaText(const FriendInfo &info)
{
    switch (info.via) {
    case FoundVia::Dht:
        return tr("found via the friend finder");
    case FoundVia::Paste:
        break;
    }
    return QString();
}

void ConversationList::setFriends(const QList<FriendInfo> &friends)
{
    QHash<QByteArray, Entry> next;
    const QDateTime now = QDateTime::currentDateTimeUtc();
    for (const FriendInfo &f : friends) {
        if (f.fingerprint.isEmpty())
            continue; // a trust-on-first-use attempt not proven yet: no conversation yet
        Entry e = m_entries.value(f.fingerprint);
        if (!e.firstListed.isValid())
            e.firstListed = now;
        e.info = f;
        next.insert(f.fingerprint, e);
    }
    const int before = totalUnread();
    m_entries = next;
    rebuild();
    if (totalUnread() != before)
        Q_EMIT unreadChanged(totalUnread());
}

void ConversationList::setLastActivity(
    const QByteArray &fingerprint, const QString &text, const QDateTime &time)
{
    auto it = m_entries.find(fingerprint);
    if (it == m_entries.end())
        return;
    if (it->lastTime.isValid() && time.isValid() && time < it->lastTime)
        return; // older than what is shown
    it->lastText = text.simplified();
    it->lastTime = time;
    rebuild();
}

void ConversationList::noteIncoming(
    const QByteArray &fingerprint, const QString &text, const QDateTime &time)
{
    auto it = m_entries.find(fingerprint);
    if (it == m_entries.end())
        return;
    it->lastText = text.simplified();
    it->lastTime = time;
    if (fingerprint != m_current) {
        ++it->unread;
        Q_EMIT unreadChanged(totalUnread());
    }
    rebuild();
}

void ConversationList::setCurrentFriend(const QByteArray &fingerprint)
{
    m_current = fingerprint;
    auto it = m_entries.find(fingerprint);
    if (it != m_entries.end() && it->unread > 0) {
        it->unread = 0;
        rebuild();
        Q_EMIT unreadChanged(totalUnread());
        return;
    }
    rebuild();
}

int ConversationList::unreadCount(const QByteArray &fingerprint) const
{
    return m_entries.value(fingerprint).unread;
}

int ConversationList::totalUnread() const
{
    int total = 0;
    for (const Entry &e : m_entries)
        total += e.unread;
    return total;
}

const ConversationList::Entry *ConversationList::entry(const QByteArray &fingerprint) const
{
    auto it = m_entries.constFind(fingerprint);
    return it == m_entries.constEnd() ? nullptr : &*it;
}

void ConversationList::fillItem(QListWidgetItem *item, const Entry &e) const
{
    const QDateTime now = QDateTime::currentDateTime();
    const QString name = displayName(e.info);
    const QString presence = presenceText(e.info, now);
    const QString last = e.lastText.isEmpty() ? tr("No messages yet") : e.lastText;
    item->setData(FingerprintRole, e.info.fingerprint);
    item->setData(NameRole, name);
    item->setData(PresenceRole, presence);
    item->setData(LastTextRole, last);
    item->setData(
        TimeRole, e.lastTime.isValid() ? MessageFormat::messageTime(e.lastTime, now) : QString());
    item->setData(UnreadRole, e.unread);
    item->setData(ToneRole, int(toneOf(e.info.state)));
    // What screen readers (and tests) read; the delegate draws the same parts.
    QString spoken = MessageFormat::isolate(name) + QStringLiteral(", ") + presence;
    if (e.unread > 0)
        spoken += QStringLiteral(", ") + tr("%n unread", nullptr, e.unread);
    spoken += QStringLiteral(", ") + MessageFormat::isolate(last);
    item->setData(Qt::DisplayRole, spoken);
    item->setData(Qt::AccessibleTextRole, spoken);
    QString tip = QStringLiteral("%1\n%2").arg(MessageFormat::isolate(name), presence);
    const QString via = foundViaText(e.info);
    if (!via.isEmpty())
        tip += QLatin1Char('\n') + MessageFormat::sentence(via);
    tip += QLatin1Char('\n')
        + (e.info.pinnedByCode ? tr("Identity checked against their code")
                               : tr("Identity trusted on first use"));
    item->setToolTip(tip);
}

void ConversationList::rebuild()
{
    QList<const Entry *> sorted;
    sorted.reserve(m_entries.size());
    for (const Entry &e : m_entries)
        sorted.append(&e);
    std::sort(sorted.begin(), sorted.end(), [](const Entry *a, const Entry *b) {
        const QDateTime ta = activityOf(*a);
        const QDateTime tb = activityOf(*b);
        if (ta != tb)
            return ta > tb;
        const int byName = QString::compare(a->info.name, b->info.name, Qt::CaseInsensitive);
        if (byName != 0)
            return byName < 0;
        return a->info.fingerprint < b->info.fingerprint;
    });

    const QSignalBlocker blocker(m_list);
    m_order.clear();
    // Reuse items (no flicker, keeps the scroll position); their count follows the friends.
    while (m_list->count() > sorted.size())
        delete m_list->takeItem(m_list->count() - 1);
    while (m_list->count() < sorted.size())
        m_list->addItem(new QListWidgetItem);
    QListWidgetItem *current = nullptr;
    for (int i = 0; i < sorted.size(); ++i) {
        QListWidgetItem *item = m_list->item(i);
        fillItem(item, *sorted.at(i));
        m_order.append(sorted.at(i)->info.fingerprint);
        if (sorted.at(i)->info.fingerprint == m_current)
            current = item;
    }
    m_list->setCurrentItem(current); // none: no current row either, so any pick is a change
    m_add->setText(m_entries.isEmpty() ? tr("&Add your first friend…") : tr("&Add friend…"));
    m_empty->setVisible(m_entries.isEmpty());
    m_list->setVisible(!m_entries.isEmpty());
}

void ConversationList::showMenu(const QPoint &pos)
{
    QListWidgetItem *item = m_list->itemAt(pos);
    if (!item)
        return;
    const QByteArray fingerprint = item->data(FingerprintRole).toByteArray();
    const Entry *e = entry(fingerprint);
    if (!e)
        return;
    const State s = e->info.state;
    const bool trying = s == State::Connecting || s == State::Securing || s == State::Reconnecting;
    QMenu menu(this);
    if (s == State::Connected) {
        menu.addAction(tr("&Disconnect"), this,
            [this, fingerprint] { Q_EMIT disconnectRequested(fingerprint); });
    } else if (trying) {
        menu.addAction(tr("&Stop Connecting"), this,
            [this, fingerprint] { Q_EMIT cancelRequested(fingerprint); });
    } else {
        menu.addAction(e->info.lastSeen.isValid() ? tr("&Reconnect") : tr("&Connect"), this,
            [this, fingerprint] { Q_EMIT connectRequested(fingerprint); });
    }
    menu.addSeparator();
    menu.addAction(tr("&Forget %1").arg(MessageFormat::isolate(displayName(e->info))), this,
        [this, fingerprint] { Q_EMIT forgetRequested(fingerprint); });
    menu.exec(m_list->viewport()->mapToGlobal(pos));
}

void ConversationList::changeEvent(QEvent *event)
{
    QWidget::changeEvent(event);
    if (event->type() == QEvent::PaletteChange)
        m_add->setIcon(IconFactory::glyph(QStringLiteral("connect"), palette()));
}

} // namespace Punchline
