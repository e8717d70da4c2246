#pragma once
// Every offer of this session, newest first: outgoing and incoming, with progress and actions.

#include "common/types.h"

#include <QHash>
#include <QWidget>

class QLabel;
class QPushButton;
class QScrollArea;
class QVBoxLayout;

namespace Punchline {

class TransferItem;

class TransferList : public QWidget
{
    Q_OBJECT
public:
    explicit TransferList(QWidget *parent = nullptr);

    // Adds the transfer the first time its id is seen, updates it afterwards.
    void updateTransfer(const TransferInfo &info);
    void setPeerName(const QString &name);
    TransferItem *item(const QString &id) const { return m_items.value(id); }
    QList<TransferItem *> items() const; // newest first
    int count() const { return int(m_items.size()); }
    int activeCount() const;
    QSize sizeHint() const override; // room for every item (the window caps it)

public Q_SLOTS:
    void clearFinished();

Q_SIGNALS:
    void acceptRequested(const QString &id);
    void declineRequested(const QString &id);
    void cancelRequested(const QString &id);
    void openFolderRequested(const QString &folder);
    void countChanged(int count);

private:
    void removeItem(const QString &id);
    void updateHeader();

    QHash<QString, TransferItem *> m_items;
    QLabel *m_title;
    QPushButton *m_clear;
    QScrollArea *m_scroll;
    QVBoxLayout *m_column;
    QString m_peerName;
};

} // namespace Punchline
