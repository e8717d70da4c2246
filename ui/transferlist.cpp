#include "transferlist.h"

#include "transferitem.h"

#include <QHBoxLayout>
#include <QLabel>
#include <QPushButton>
#include <QScrollArea>
#include <QScrollBar>
#include <QVBoxLayout>

namespace Punchline {

TransferList::TransferList(QWidget *parent)
    : QWidget(parent)
    , m_title(new QLabel(this))
    , m_clear(new QPushButton(tr("Clear finished"), this))
    , m_scroll(new QScrollArea(this))
    , m_column(nullptr)
{
    setObjectName(QStringLiteral("transferList"));
    QFont bold = m_title->font();
    bold.setBold(true);
    m_title->setFont(bold);
    m_clear->setObjectName(QStringLiteral("clearFinishedButton"));
    m_clear->setFlat(true);
    connect(m_clear, &QPushButton::clicked, this, &TransferList::clearFinished);

    auto *inner = new QWidget;
    inner->setBackgroundRole(QPalette::Window);
    m_column = new QVBoxLayout(inner);
    m_column->setContentsMargins(0, 0, 0, 0);
    m_column->setSpacing(6);
    m_column->addStretch(1);
    m_scroll->setWidget(inner);
    m_scroll->setWidgetResizable(true);
    m_scroll->setFrameShape(QFrame::NoFrame);
    m_scroll->setHorizontalScrollBarPolicy(Qt::ScrollBarAlwaysOff);

    auto *header = new QHBoxLayout;
    header->setContentsMargins(0, 0, 0, 0);
    header->addWidget(m_title, 1);
    header->addWidget(m_clear);
    auto *layout = new QVBoxLayout(this);
    layout->setContentsMargins(0, 0, 0, 0);
    layout->addLayout(header);
    layout->addWidget(m_scroll, 1);
    updateHeader();
}

void TransferList::updateTransfer(const TransferInfo &info)
{
    if (info.id.isEmpty())
        return;
    if (TransferItem *existing = m_items.value(info.id)) {
        existing->setInfo(info);
        updateHeader();
        return;
    }
    auto *item = new TransferItem(info, m_scroll->widget());
    item->setPeerName(m_peerName);
    connect(item, &TransferItem::acceptRequested, this, &TransferList::acceptRequested);
    connect(item, &TransferItem::declineRequested, this, &TransferList::declineRequested);
    connect(item, &TransferItem::cancelRequested, this, &TransferList::cancelRequested);
    connect(item, &TransferItem::openFolderRequested, this, &TransferList::openFolderRequested);
    connect(item, &TransferItem::removeRequested, this, &TransferList::removeItem);
    m_column->insertWidget(0, item); // newest on top
    m_items.insert(info.id, item);
    m_scroll->verticalScrollBar()->setValue(0);
    updateHeader();
    Q_EMIT countChanged(count());
}

void TransferList::setPeerName(const QString &name)
{
    m_peerName = name;
    for (TransferItem *item : std::as_const(m_items))
        item->setPeerName(name);
}

QList<TransferItem *> TransferList::items() const
{
    QList<TransferItem *> result;
    for (int i = 0; i < m_column->count(); ++i) {
        if (auto *item = qobject_cast<TransferItem *>(m_column->itemAt(i)->widget()))
            result.append(item);
    }
    return result;
}

int TransferList::activeCount() const
{
    int n = 0;
    for (const TransferItem *item : std::as_const(m_items))
        n += item->isActive() ? 1 : 0;
    return n;
}

QSize TransferList::sizeHint() const
{
    int height = m_title->sizeHint().height() + layout()->spacing();
    const QList<TransferItem *> all = items();
    for (const TransferItem *item : all)
        height += item->sizeHint().height() + m_column->spacing();
    return { QWidget::sizeHint().width(), height };
}

void TransferList::clearFinished()
{
    const QList<TransferItem *> all = items();
    for (TransferItem *item : all) {
        if (item->isFinished())
            removeItem(item->info().id);
    }
}

void TransferList::removeItem(const QString &id)
{
    TransferItem *item = m_items.take(id);
    if (!item)
        return;
    m_column->removeWidget(item);
    item->deleteLater();
    updateHeader();
    Q_EMIT countChanged(count());
}

void TransferList::updateHeader()
{
    const int active = activeCount();
    m_title->setText(active > 0 ? tr("Transfers (%1 active)").arg(active) : tr("Transfers"));
    m_clear->setVisible(active < count());
}

} // namespace Punchline
