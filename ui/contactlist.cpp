#include "contactlist.h"

#include "iconfactory.h"
#include "messageformat.h"

#include <QDir>
#include <QEvent>
#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QLabel>
#include <QListWidget>
#include <QPushButton>
#include <QVBoxLayout>

#include <algorithm>

namespace Punchline {

namespace {
constexpr qint64 MaxFileBytes = 4 * 1024 * 1024;
constexpr int FingerprintRole = Qt::UserRole + 1;
} // namespace

ContactList::ContactList(QWidget *parent)
    : QWidget(parent)
    , m_list(new QListWidget(this))
    , m_empty(new QLabel(this))
    , m_reconnect(new QPushButton(tr("Rec&onnect"), this))
{
    m_list->setObjectName(QStringLiteral("contactList"));
    m_list->setAccessibleName(tr("Friends"));
    m_list->setUniformItemSizes(true);
    m_list->setWordWrap(false);
    m_list->setIconSize(QSize(22, 22));
    m_list->setSelectionMode(QAbstractItemView::SingleSelection);
    m_empty->setObjectName(QStringLiteral("contactListEmpty"));
    m_empty->setText(
        tr("Friends you connect to appear here, so you can reconnect with one click."));
    m_empty->setWordWrap(true);
    m_empty->setForegroundRole(QPalette::PlaceholderText);
    m_reconnect->setObjectName(QStringLiteral("reconnectButton"));
    m_reconnect->setToolTip(tr("Connect again to the selected friend at their last known addresses "
                               "(they must be running Punchline)"));

    auto *layout = new QVBoxLayout(this);
    layout->setContentsMargins(0, 0, 0, 0);
    layout->addWidget(m_empty);
    layout->addWidget(m_list, 100);
    layout->addWidget(m_reconnect, 0, Qt::AlignLeft);
    layout->addStretch(1); // keeps the hint at the top while the list is hidden

    connect(m_list, &QListWidget::itemActivated, this, &ContactList::requestReconnect);
    connect(m_reconnect, &QPushButton::clicked, this, &ContactList::requestReconnect);
    connect(m_list, &QListWidget::currentItemChanged, this, [this](QListWidgetItem *item) {
        updateButton();
        if (item)
            Q_EMIT contactSelected(
                item->data(FingerprintRole).toByteArray(), item->data(Qt::UserRole).toString());
    });
    m_reconnect->setIcon(IconFactory::glyph(QStringLiteral("reconnect"), palette()));
    rebuild();
}

QList<ContactList::Contact> ContactList::readKnownPeers(const QString &profileDir)
{
    QList<Contact> result;
    QFile file(QDir(profileDir).filePath(QStringLiteral("known-peers.json")));
    if (!file.open(QIODevice::ReadOnly) || file.size() > MaxFileBytes)
        return result;
    const QJsonArray peers
        = QJsonDocument::fromJson(file.readAll()).object().value(QStringLiteral("peers")).toArray();
    for (const QJsonValue &value : peers) {
        const QJsonObject o = value.toObject();
        Contact c;
        c.fingerprint
            = QByteArray::fromHex(o.value(QStringLiteral("fingerprint")).toString().toLatin1());
        if (c.fingerprint.size() != 32)
            continue;
        c.name = o.value(QStringLiteral("name")).toString().simplified().left(64);
        c.lastSeen = QDateTime::fromString(
            o.value(QStringLiteral("lastSeen")).toString(), Qt::ISODateWithMs);
        c.pinnedByCode = o.value(QStringLiteral("trust")).toString() == QLatin1String("code");
        c.candidates = int(o.value(QStringLiteral("candidates")).toArray().size());
        result.append(c);
    }
    std::stable_sort(result.begin(), result.end(),
        [](const Contact &a, const Contact &b) { return a.lastSeen > b.lastSeen; });
    return result;
}

QWidget *ContactList::reconnectButton() const
{
    return m_reconnect;
}

void ContactList::reload(const QString &profileDir)
{
    m_contacts = readKnownPeers(profileDir);
    rebuild();
}

void ContactList::setCanReconnect(bool can)
{
    m_canReconnect = can;
    updateButton();
}

void ContactList::setCurrentPeer(const QByteArray &fingerprint)
{
    m_current = fingerprint;
    rebuild();
}

void ContactList::rebuild()
{
    const QByteArray selected = m_list->currentItem()
        ? m_list->currentItem()->data(FingerprintRole).toByteArray()
        : QByteArray();
    const QSignalBlocker blocker(m_list);
    m_list->clear();
    const QDateTime now = QDateTime::currentDateTimeUtc();
    const QIcon icon = IconFactory::glyph(QStringLiteral("contact"), palette(), QPalette::Text);
    for (const Contact &c : m_contacts) {
        const QString name = c.name.isEmpty() ? tr("Unnamed friend") : c.name;
        QString second = c.fingerprint == m_current
            ? tr("connected now")
            : tr("seen %1").arg(MessageFormat::ago(c.lastSeen, now));
        second += c.pinnedByCode ? tr(" · verified by code") : tr(" · trusted on first use");
        auto *item = new QListWidgetItem(icon, name + QLatin1Char('\n') + second, m_list);
        item->setData(Qt::UserRole, name);
        item->setData(FingerprintRole, c.fingerprint);
        item->setToolTip(tr("%1\nLast known addresses: %2").arg(name).arg(c.candidates));
        if (c.fingerprint == m_current) {
            QFont font = item->font();
            font.setBold(true);
            item->setFont(font);
        }
        if (c.fingerprint == selected)
            m_list->setCurrentItem(item);
    }
    m_list->setVisible(!m_contacts.isEmpty());
    m_empty->setVisible(m_contacts.isEmpty());
    updateButton();
}

void ContactList::updateButton()
{
    QListWidgetItem *item = m_list->currentItem();
    m_reconnect->setEnabled(
        m_canReconnect && item && item->data(FingerprintRole).toByteArray() != m_current);
    m_reconnect->setVisible(!m_contacts.isEmpty());
}

void ContactList::requestReconnect()
{
    QListWidgetItem *item = m_list->currentItem();
    if (!item || !m_reconnect->isEnabled())
        return;
    Q_EMIT reconnectRequested(
        item->data(FingerprintRole).toByteArray(), item->data(Qt::UserRole).toString());
}

void ContactList::changeEvent(QEvent *event)
{
    QWidget::changeEvent(event);
    if (event->type() == QEvent::PaletteChange) {
        m_reconnect->setIcon(IconFactory::glyph(QStringLiteral("reconnect"), palette()));
        rebuild();
    }
}

} // namespace Punchline
