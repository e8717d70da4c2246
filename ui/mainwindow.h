#pragma once
// The Punchline window: this side's code and addresses, the friend's code with Connect, the
// connection status, chat with history, file offers and transfers, friends, settings and a log.
// It talks to the engine only through Node (non-blocking calls, value-type signals), so the
// window never waits for the network; chat history is a small local SQLite file.

#include "common/types.h"
#include "connectionstatus.h"
#include "engine/settings.h"

#include <QMainWindow>
#include <QPointer>
#include <QSet>
#include <memory>

class QAction;
class QDockWidget;
class QLabel;
class QMimeData;
class QPlainTextEdit;
class QPushButton;
class QSplitter;
class QSystemTrayIcon;

namespace Punchline {

class ChatHistory;
class ChatInput;
class ChatView;
class ConnectBar;
class ContactList;
class LocalInfoPanel;
class Node;
class NoticeBar;
class StatusBanner;
class TransferList;

class MainWindow : public QMainWindow
{
    Q_OBJECT
public:
    // node is not owned and must outlive the window; settings.profileDir must be set.
    explicit MainWindow(Node *node, const Settings &settings, QWidget *parent = nullptr);
    ~MainWindow() override;

    // Starts the node with the window's settings (after every signal is connected).
    void start();
    // Puts a code (or addresses) into the friend field and connects, as if typed and clicked.
    void connectTo(const QString &codeOrAddresses);
    // Sends a chat message as if typed; returns its id (empty if nothing was sent).
    QString sendChatText(const QString &text);
    // One offer with all these files and folders, after checking they can be read. Emits
    // sendRequested(paths) and calls Node::sendPaths once. False (and a message) otherwise.
    bool sendPaths(const QStringList &paths);
    // Accept-or-decline an incoming offer, as the buttons do.
    void answerOffer(const QString &transferId, bool accept);

    State state() const { return m_status.state(); }
    const ConnectionStatus &connectionStatus() const { return m_status; }
    const LocalInfo &localInfo() const { return m_localInfo; }
    QByteArray peerFingerprint() const { return m_peerFingerprint; }
    const Settings &settings() const { return m_settings; }
    ChatHistory *history() const { return m_history.get(); }
    ChatView *chatView() const { return m_chatView; }
    ChatInput *chatInput() const { return m_chatInput; }
    ConnectBar *connectBar() const { return m_connectBar; }
    StatusBanner *statusBanner() const { return m_banner; }
    TransferList *transferList() const { return m_transfers; }
    NoticeBar *noticeBar() const { return m_notice; }
    ContactList *contactList() const { return m_contacts; }

    static QStringList localPathsFrom(const QMimeData *mime); // file:// URLs only
    // Empty when every path exists and can be read; otherwise a sentence naming the first bad one.
    static QString checkReadable(const QStringList &paths);

Q_SIGNALS:
    void sendRequested(const QStringList &paths);
    void notificationShown(const QString &title, const QString &text);

public Q_SLOTS:
    void openSettings();
    void sendFilesDialog();
    void sendFolderDialog();
    void showAbout();
    void showHowItWorks();

protected:
    void dragEnterEvent(QDragEnterEvent *event) override;
    void dragMoveEvent(QDragMoveEvent *event) override;
    void dragLeaveEvent(QDragLeaveEvent *event) override;
    void dropEvent(QDropEvent *event) override;
    void closeEvent(QCloseEvent *event) override;
    void changeEvent(QEvent *event) override;
    bool eventFilter(QObject *watched, QEvent *event) override;

private:
    void buildUi();
    void buildMenus();
    void buildTray();
    void connectNode();
    void updateIcons();
    void refreshStatus();
    void updateActions();
    void updateTitle();
    void updateChatTitle();
    void showDropOverlay(bool show);
    void fitTransfers();
    void openHistory();
    void showHistoryFor(const QByteArray &fingerprint, const QString &name);
    void submitChat();
    void notify(const QString &title, const QString &text);
    void showError(const Error &error);
    bool peerReachable() const; // connected, or reconnecting to the same friend

    void onStateChanged(State state);
    void onLocalInfo(const LocalInfo &info);
    void onProgress(const ConnectProgress &progress);
    void onConnected(const ConnectionInfo &info);
    void onDisconnected(const Error &why);
    void onError(const Error &error);
    void onChatReceived(const ChatMessage &message);
    void onChatDelivered(const QString &id);
    void onRtt(int milliseconds);
    void onTransferUpdated(const TransferInfo &info);
    void onLogLine(const QString &line);

    QPointer<Node> m_node;
    Settings m_settings;
    ConnectionStatus m_status;
    LocalInfo m_localInfo;
    std::unique_ptr<ChatHistory> m_history;
    bool m_historyTried = false;
    bool m_started = false;
    QByteArray m_peerFingerprint; // the friend of the current (or last) session
    QString m_peerName;
    QByteArray m_shownPeer; // whose conversation the chat view shows
    QString m_shownPeerName;
    QSet<QString> m_notifiedOffers;

    NoticeBar *m_notice = nullptr;
    StatusBanner *m_banner = nullptr;
    ConnectBar *m_connectBar = nullptr;
    LocalInfoPanel *m_localPanel = nullptr;
    ContactList *m_contacts = nullptr;
    QLabel *m_chatTitle = nullptr;
    ChatView *m_chatView = nullptr;
    ChatInput *m_chatInput = nullptr;
    QPushButton *m_sendButton = nullptr;
    QPushButton *m_fileButton = nullptr;
    TransferList *m_transfers = nullptr;
    QSplitter *m_chatSplitter = nullptr;
    QLabel *m_dropOverlay = nullptr;
    QLabel *m_statusText = nullptr;
    QDockWidget *m_logDock = nullptr;
    QPlainTextEdit *m_log = nullptr;
    QSystemTrayIcon *m_tray = nullptr;

    QAction *m_sendFilesAction = nullptr;
    QAction *m_sendFolderAction = nullptr;
    QAction *m_settingsAction = nullptr;
    QAction *m_quitAction = nullptr;
    QAction *m_copyCodeAction = nullptr;
    QAction *m_pasteCodeAction = nullptr;
    QAction *m_connectAction = nullptr;
    QAction *m_cancelAction = nullptr;
    QAction *m_disconnectAction = nullptr;
    QAction *m_logAction = nullptr;
};

} // namespace Punchline
