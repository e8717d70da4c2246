#include "chatview.h"

#include "messageformat.h"

#include <QDesktopServices>
#include <QEvent>
#include <QLocale>
#include <QScrollBar>

namespace Punchline {

namespace {
constexpr qint64 GroupWithinSecs = 5 * 60;
} // namespace

ChatView::ChatView(QWidget *parent)
    : QTextBrowser(parent)
{
    setOpenLinks(false); // links are opened below, and only http(s)
    setOpenExternalLinks(false);
    setFocusPolicy(Qt::StrongFocus); // reachable with Tab to select and copy text
    setTextInteractionFlags(Qt::TextBrowserInteraction);
    connect(this, &QTextBrowser::anchorClicked, this, &ChatView::openLink);
}

void ChatView::setNames(const QString &myName, const QString &peerName)
{
    if (m_myName == myName && m_peerName == peerName)
        return;
    m_myName = myName;
    m_peerName = peerName;
    render();
}

void ChatView::setMessages(const QList<ChatMessage> &messages)
{
    m_messages = messages.mid(std::max<qsizetype>(0, messages.size() - MaxShown));
    render();
}

void ChatView::appendMessage(const ChatMessage &message)
{
    m_messages.append(message);
    if (m_messages.size() > MaxShown)
        m_messages.removeFirst();
    render();
}

bool ChatView::markDelivered(const QString &id)
{
    for (qsizetype i = m_messages.size() - 1; i >= 0; --i) {
        if (m_messages.at(i).id == id && m_messages.at(i).outgoing) {
            if (m_messages.at(i).delivered)
                return true;
            m_messages[i].delivered = true;
            render();
            return true;
        }
    }
    return false;
}

void ChatView::clearMessages()
{
    m_messages.clear();
    render();
}

void ChatView::changeEvent(QEvent *event)
{
    QTextBrowser::changeEvent(event);
    if (event->type() == QEvent::PaletteChange)
        render(); // the HTML carries palette colours
}

void ChatView::render()
{
    QScrollBar *bar = verticalScrollBar();
    const bool atBottom = bar->value() >= bar->maximum() - 4;
    const int oldValue = bar->value();

    const QPalette pal = palette();
    const QString dim = pal.color(QPalette::PlaceholderText).name();
    const QString mine = pal.color(QPalette::Link).name();
    const QString theirs = pal.color(QPalette::Text).name();
    const QDateTime now = QDateTime::currentDateTime();
    const QLocale locale;
    const QString me = m_myName.isEmpty() ? tr("You") : m_myName;
    const QString peer = m_peerName.isEmpty() ? tr("Friend") : m_peerName;

    QString html;
    html.reserve(m_messages.size() * 200);
    QDate lastDay;
    const ChatMessage *previous = nullptr;
    for (const ChatMessage &m : m_messages) {
        const QDateTime local = m.time.toLocalTime();
        if (local.date() != lastDay) {
            lastDay = local.date();
            const QString day = lastDay == now.date()
                ? tr("Today")
                : locale.toString(lastDay, QLocale::LongFormat);
            html += QStringLiteral(
                "<p align=\"center\" style=\"margin-top:12px; margin-bottom:4px; color:%1;\">"
                "<small>%2</small></p>")
                        .arg(dim, day.toHtmlEscaped());
            previous = nullptr;
        }
        const bool grouped = previous && previous->outgoing == m.outgoing
            && previous->time.secsTo(m.time) < GroupWithinSecs;
        if (!grouped) {
            html += QStringLiteral("<p style=\"margin-top:10px; margin-bottom:1px;\">"
                                   "<b style=\"color:%1;\">%2</b>&nbsp;&nbsp;<small "
                                   "style=\"color:%3;\">%4</small></p>")
                        .arg(m.outgoing ? mine : theirs, (m.outgoing ? me : peer).toHtmlEscaped(),
                            dim,
                            locale.toString(local.time(), QLocale::ShortFormat).toHtmlEscaped());
        }
        QString mark;
        if (m.outgoing)
            mark = m.delivered
                ? QStringLiteral("&nbsp;<small style=\"color:%1;\">&#10003;</small>").arg(dim)
                : QStringLiteral("&nbsp;<small style=\"color:%1;\"><i>%2</i></small>")
                      .arg(dim, tr("sending…").toHtmlEscaped());
        html += QStringLiteral("<p style=\"margin-top:1px; margin-bottom:1px;\">%1%2</p>")
                    .arg(MessageFormat::toHtml(m.text), mark);
        previous = &m;
    }
    setHtml(html);
    bar->setValue(atBottom ? bar->maximum() : oldValue);
}

void ChatView::openLink(const QUrl &url)
{
    const QString scheme = url.scheme().toLower();
    if (scheme == QLatin1String("http") || scheme == QLatin1String("https"))
        QDesktopServices::openUrl(url);
}

} // namespace Punchline
