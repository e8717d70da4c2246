#pragma once
// One conversation as a stream, oldest at the top: messages (sender, time, delivery mark, day
// separators, clickable http(s) links) and, in between at the time they started, the file
// transfers with this friend (TransferItem: progress, accept/decline, cancel, open). Message text
// is always plain text, escaped before it is shown; names are isolated (bidi) so a friend's name
// cannot reorder the text around it.

#include "common/types.h"

#include <QDateTime>
#include <QHash>
#include <QScrollArea>

class QLabel;
class QVBoxLayout;

namespace Punchline {

class TransferItem;

class ChatView : public QScrollArea
{
    Q_OBJECT
public:
    static constexpr int MaxShown = 500;

    // A transfer and the time it joined the conversation (where it sits in the stream).
    struct Transfer
    {
        TransferInfo info;
        QDateTime time;
    };

    explicit ChatView(QWidget *parent = nullptr);

    void setNames(const QString &myName, const QString &peerName);
    // Replaces the whole conversation (switching friends).
    void setConversation(const QList<ChatMessage> &messages, const QList<Transfer> &transfers);
    void setMessages(const QList<ChatMessage> &messages); // keeps no transfers
    void appendMessage(const ChatMessage &message);
    bool markDelivered(const QString &id);
    void clearMessages(); // and transfers
    // Updates the transfer with this id in place, or adds it at the end of the stream.
    void updateTransfer(const TransferInfo &info, const QDateTime &time);
    // Drops a transfer from the stream (one continued under a new id).
    void removeTransfer(const QString &id);
    // False while the friend is away: running transfers say they wait for them.
    void setPeerPresent(bool present);
    TransferItem *transferItem(const QString &id) const { return m_transferItems.value(id); }
    QList<TransferItem *> transferItems() const; // in stream order
    int messageCount() const { return int(m_messages.size()); }
    const QList<ChatMessage> &messages() const { return m_messages; }
    void setPlaceholderText(const QString &text);

    // The stream's messages as HTML / as the plain text a user sees (tests, accessibility).
    QString toHtml() const;
    QString toPlainText() const;

Q_SIGNALS:
    void acceptRequested(const QString &transferId);
    void declineRequested(const QString &transferId);
    void cancelRequested(const QString &transferId);
    void openFolderRequested(const QString &folder);
    void openFileRequested(const QString &path);

protected:
    void changeEvent(QEvent *event) override;

private:
    struct Row
    {
        QWidget *widget = nullptr;
        QString messageId; // message rows only
        bool outgoing = false;
    };

    void rebuild();
    void clearRows();
    void addMessageRow(const ChatMessage &message);
    void addTransferRow(const Transfer &transfer);
    void addDaySeparator(const QDate &day);
    QString messageHtml(const ChatMessage &message, bool withHeader) const;
    void openLink(const QString &link);
    void updatePlaceholder();

    QList<ChatMessage> m_messages;
    QList<Transfer> m_transfers;
    QHash<QString, TransferItem *> m_transferItems;
    QList<Row> m_rows;
    QString m_myName;
    QString m_peerName;
    bool m_peerPresent = true;
    QVBoxLayout *m_column = nullptr;
    QLabel *m_placeholder = nullptr;
    // Grouping state of the last row added.
    QDate m_lastDay;
    bool m_previousValid = false;
    bool m_previousOutgoing = false;
    QDateTime m_previousTime;
    bool m_stickToBottom = true;
};

} // namespace Punchline
