#include "chatview.h"

#include "messageformat.h"
#include "transferitem.h"

#include <QDesktopServices>
#include <QEvent>
#include <QLabel>
#include <QLocale>
#include <QScrollBar>
#include <QTextDocument>
#include <QUrl>
#include <QVBoxLayout>

#include <algorithm>

namespace Punchline {

namespace {
constexpr qint64 GroupWithinSecs = 5 * 60;
} // namespace

ChatView::ChatView(QWidget *parent)
    : QScrollArea(parent)
{
    auto *inner = new QWidget;
    inner->setObjectName(QStringLiteral("chatStream"));
    inner->setBackgroundRole(QPalette::Base);
    inner->setAutoFillBackground(true);
    m_column = new QVBoxLayout(inner);
    m_column->setContentsMargins(10, 6, 10, 8);
    m_column->setSpacing(2);
    m_column->addStretch(1); // the stream sits at the bottom, as in every chat app
    m_placeholder = new QLabel(inner);
    m_placeholder->setObjectName(QStringLiteral("chatPlaceholder"));
    m_placeholder->setWordWrap(true);
    m_placeholder->setAlignment(Qt::AlignCenter);
    m_placeholder->setForegroundRole(QPalette::PlaceholderText);
    m_placeholder->setTextFormat(Qt::PlainText);
    m_column->addWidget(m_placeholder);
    setWidget(inner);
    setWidgetResizable(true);
    setHorizontalScrollBarPolicy(Qt::ScrollBarAlwaysOff);
    setFocusPolicy(Qt::StrongFocus);

    QScrollBar *bar = verticalScrollBar();
    connect(bar, &QScrollBar::rangeChanged, this, [this](int, int max) {
        if (m_stickToBottom)
            verticalScrollBar()->setValue(max);
    });
    connect(bar, &QScrollBar::valueChanged, this,
        [this](int value) { m_stickToBottom = value >= verticalScrollBar()->maximum() - 4; });
}

void ChatView::setPlaceholderText(const QString &text)
{
    m_placeholder->setText(text);
}

void ChatView::updatePlaceholder()
{
    m_placeholder->setVisible(m_rows.isEmpty() && !m_placeholder->text().isEmpty());
}

void ChatView::setNames(const QString &myName, const QString &peerName)
{
    if (m_myName == myName && m_peerName == peerName)
        return;
    m_myName = myName;
    m_peerName = peerName;
    for (TransferItem *item : std::as_const(m_transferItems))
        item->setPeerName(peerName);
    rebuild();
}

void ChatView::setConversation(const QList<ChatMessage> &messages, const QList<Transfer> &transfers)
{
    m_messages = messages.mid(std::max<qsizetype>(0, messages.size() - MaxShown));
    m_transfers = transfers;
    m_stickToBottom = true;
    rebuild();
}

void ChatView::setMessages(const QList<ChatMessage> &messages)
{
    setConversation(messages, {});
}

void ChatView::appendMessage(const ChatMessage &message)
{
    m_messages.append(message);
    if (m_messages.size() > MaxShown) {
        const QString dropped = m_messages.takeFirst().id;
        for (qsizetype i = 0; i < m_rows.size(); ++i) {
            if (!m_rows.at(i).messageId.isEmpty() && m_rows.at(i).messageId == dropped) {
                delete m_rows.takeAt(i).widget;
                break;
            }
        }
    }
    addMessageRow(message);
    updatePlaceholder();
}

bool ChatView::markDelivered(const QString &id)
{
    for (qsizetype i = m_messages.size() - 1; i >= 0; --i) {
        ChatMessage &m = m_messages[i];
        if (m.id != id || !m.outgoing)
            continue;
        if (m.delivered)
            return true;
        m.delivered = true;
        for (const Row &row : std::as_const(m_rows)) {
            if (row.messageId == id) {
                auto *label = static_cast<QLabel *>(row.widget);
                label->setText(messageHtml(m, label->property("withHeader").toBool()));
            }
        }
        return true;
    }
    return false;
}

void ChatView::clearMessages()
{
    m_messages.clear();
    m_transfers.clear();
    rebuild();
}

void ChatView::updateTransfer(const TransferInfo &info, const QDateTime &time)
{
    if (TransferItem *item = m_transferItems.value(info.id)) {
        item->setInfo(info); // a resumed transfer is the same item continuing
        for (Transfer &t : m_transfers) {
            if (t.info.id == info.id)
                t.info = info;
        }
        return;
    }
    m_transfers.append({ info, time });
    addTransferRow(m_transfers.constLast());
    updatePlaceholder();
}

void ChatView::removeTransfer(const QString &id)
{
    m_transfers.removeIf([&id](const Transfer &t) { return t.info.id == id; });
    if (m_transferItems.contains(id))
        rebuild();
}

void ChatView::setPeerPresent(bool present)
{
    m_peerPresent = present;
    for (TransferItem *item : std::as_const(m_transferItems))
        item->setPeerPresent(present);
}

QList<TransferItem *> ChatView::transferItems() const
{
    QList<TransferItem *> result;
    for (const Row &row : m_rows) {
        if (auto *item = qobject_cast<TransferItem *>(row.widget))
            result.append(item);
    }
    return result;
}

void ChatView::clearRows()
{
    for (const Row &row : std::as_const(m_rows))
        delete row.widget;
    m_rows.clear();
    m_transferItems.clear();
    m_lastDay = QDate();
    m_previousValid = false;
}

void ChatView::rebuild()
{
    clearRows();
    widget()->setUpdatesEnabled(false);
    // Messages and transfers merged by time; a transfer goes after messages of the same second.
    qsizetype t = 0;
    for (const ChatMessage &m : std::as_const(m_messages)) {
        while (t < m_transfers.size() && m_transfers.at(t).time < m.time)
            addTransferRow(m_transfers.at(t++));
        addMessageRow(m);
    }
    while (t < m_transfers.size())
        addTransferRow(m_transfers.at(t++));
    widget()->setUpdatesEnabled(true);
    updatePlaceholder();
}

void ChatView::addDaySeparator(const QDate &day)
{
    const QString text
        = day == QDate::currentDate() ? tr("Today") : QLocale().toString(day, QLocale::LongFormat);
    auto *label = new QLabel(text, widget());
    label->setTextFormat(Qt::PlainText);
    label->setAlignment(Qt::AlignCenter);
    label->setForegroundRole(QPalette::PlaceholderText);
    QFont small = label->font();
    small.setPointSizeF(small.pointSizeF() * 0.85);
    label->setFont(small);
    label->setContentsMargins(0, 10, 0, 2);
    m_column->addWidget(label);
    m_rows.append({ label, QString(), false });
    m_previousValid = false;
}

QString ChatView::messageHtml(const ChatMessage &m, bool withHeader) const
{
    const QPalette pal = palette();
    const QString dim = pal.color(QPalette::PlaceholderText).name();
    const QString mine = pal.color(QPalette::Link).name();
    const QString theirs = pal.color(QPalette::Text).name();
    const QString me = m_myName.isEmpty() ? tr("You") : m_myName;
    const QString peer = m_peerName.isEmpty() ? tr("Friend") : m_peerName;
    QString html;
    if (withHeader) {
        html += QStringLiteral("<p style=\"margin-top:0px; margin-bottom:1px;\">"
                               "<b style=\"color:%1;\">%2</b>&nbsp;&nbsp;<small "
                               "style=\"color:%3;\">%4</small></p>")
                    .arg(m.outgoing ? mine : theirs,
                        MessageFormat::isolate(m.outgoing ? me : peer).toHtmlEscaped(), dim,
                        QLocale()
                            .toString(m.time.toLocalTime().time(), QLocale::ShortFormat)
                            .toHtmlEscaped());
    }
    QString mark;
    if (m.outgoing)
        mark = m.delivered
            ? QStringLiteral("&nbsp;<small style=\"color:%1;\">&#10003;</small>").arg(dim)
            : QStringLiteral("&nbsp;<small style=\"color:%1;\"><i>%2</i></small>")
                  .arg(dim, tr("sending…").toHtmlEscaped());
    // The text is escaped (MessageFormat::toHtml) and isolated: it is never markup and its
    // direction stays inside it.
    html += QStringLiteral("<p style=\"margin-top:0px; margin-bottom:0px;\">%1%2%3%4</p>")
                .arg(QChar(0x2068), MessageFormat::toHtml(m.text), QChar(0x2069), mark);
    return html;
}

void ChatView::addMessageRow(const ChatMessage &m)
{
    const QDateTime local = m.time.toLocalTime();
    if (local.date() != m_lastDay) {
        m_lastDay = local.date();
        addDaySeparator(m_lastDay);
    }
    const bool grouped = m_previousValid && m_previousOutgoing == m.outgoing
        && m_previousTime.secsTo(m.time) < GroupWithinSecs;
    auto *label = new QLabel(widget());
    label->setObjectName(QStringLiteral("message"));
    label->setTextFormat(Qt::RichText); // our own HTML around escaped text
    label->setWordWrap(true);
    label->setTextInteractionFlags(Qt::TextBrowserInteraction);
    label->setOpenExternalLinks(false); // only http(s), below
    label->setContentsMargins(0, grouped ? 0 : 8, 0, 0);
    label->setProperty("withHeader", !grouped);
    label->setText(messageHtml(m, !grouped));
    connect(label, &QLabel::linkActivated, this, &ChatView::openLink);
    m_column->addWidget(label);
    m_rows.append({ label, m.id, m.outgoing });
    m_previousValid = true;
    m_previousOutgoing = m.outgoing;
    m_previousTime = m.time;
}

void ChatView::addTransferRow(const Transfer &t)
{
    const QDateTime local = t.time.toLocalTime();
    if (local.date() != m_lastDay) {
        m_lastDay = local.date();
        addDaySeparator(m_lastDay);
    }
    auto *item = new TransferItem(t.info, widget());
    item->setPeerName(m_peerName);
    item->setPeerPresent(m_peerPresent);
    connect(item, &TransferItem::acceptRequested, this, &ChatView::acceptRequested);
    connect(item, &TransferItem::declineRequested, this, &ChatView::declineRequested);
    connect(item, &TransferItem::cancelRequested, this, &ChatView::cancelRequested);
    connect(item, &TransferItem::openFolderRequested, this, &ChatView::openFolderRequested);
    connect(item, &TransferItem::openFileRequested, this, &ChatView::openFileRequested);
    m_column->addWidget(item);
    m_rows.append({ item, QString(), t.info.direction == TransferDirection::Out });
    m_transferItems.insert(t.info.id, item);
    m_previousValid = false; // the next message shows its sender again
}

QString ChatView::toHtml() const
{
    QString html;
    for (const Row &row : m_rows) {
        if (auto *label = qobject_cast<QLabel *>(row.widget))
            html += label->text();
    }
    return html;
}

QString ChatView::toPlainText() const
{
    QTextDocument doc;
    doc.setHtml(toHtml());
    return doc.toPlainText();
}

void ChatView::changeEvent(QEvent *event)
{
    QScrollArea::changeEvent(event);
    if (event->type() == QEvent::PaletteChange)
        rebuild(); // the HTML carries palette colours
}

void ChatView::openLink(const QString &link)
{
    const QUrl url(link);
    const QString scheme = url.scheme().toLower();
    if (scheme == QLatin1String("http") || scheme == QLatin1String("https"))
        QDesktopServices::openUrl(url);
}

} // namespace Punchline
