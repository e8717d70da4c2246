#pragma once
// The conversation: sender, time and delivery mark for each message, day separators, clickable
// http(s) links. Message text is always plain text, escaped before it is shown.

#include "common/types.h"

#include <QTextBrowser>

namespace Punchline {

class ChatView : public QTextBrowser
{
    Q_OBJECT
public:
    static constexpr int MaxShown = 500;

    explicit ChatView(QWidget *parent = nullptr);

    void setNames(const QString &myName, const QString &peerName);
    void setMessages(const QList<ChatMessage> &messages);
    void appendMessage(const ChatMessage &message);
    bool markDelivered(const QString &id);
    void clearMessages();
    int messageCount() const { return int(m_messages.size()); }
    const QList<ChatMessage> &messages() const { return m_messages; }

protected:
    void changeEvent(QEvent *event) override;

private:
    void render();
    void openLink(const QUrl &url);

    QList<ChatMessage> m_messages;
    QString m_myName;
    QString m_peerName;
};

} // namespace Punchline
