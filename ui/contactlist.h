#pragma once
// Friends this profile has connected to (the core's known-peers.json, read without touching it),
// most recently seen first, with one-click reconnect.

#include <QByteArray>
#include <QDateTime>
#include <QList>
#include <QWidget>

class QLabel;
class QListWidget;
class QListWidgetItem;
class QPushButton;

namespace Punchline {

class ContactList : public QWidget
{
    Q_OBJECT
public:
    struct Contact
    {
        QByteArray fingerprint;
        QString name;
        QDateTime lastSeen;
        bool pinnedByCode = false;
        int candidates = 0;
    };

    explicit ContactList(QWidget *parent = nullptr);

    // Reads <profileDir>/known-peers.json. A missing or unreadable file is an empty list (the core
    // reports damage itself).
    void reload(const QString &profileDir);
    static QList<Contact> readKnownPeers(const QString &profileDir);
    const QList<Contact> &contacts() const { return m_contacts; }
    void setCanReconnect(bool can);
    void setCurrentPeer(const QByteArray &fingerprint); // marks who we are connected to
    QListWidget *list() const { return m_list; }
    QWidget *reconnectButton() const;

Q_SIGNALS:
    void reconnectRequested(const QByteArray &fingerprint, const QString &name);
    void contactSelected(const QByteArray &fingerprint, const QString &name);

protected:
    void changeEvent(QEvent *event) override;

private:
    void rebuild();
    void requestReconnect();
    void updateButton();

    QList<Contact> m_contacts;
    QListWidget *m_list;
    QLabel *m_empty;
    QPushButton *m_reconnect;
    QByteArray m_current;
    bool m_canReconnect = false;
};

} // namespace Punchline
