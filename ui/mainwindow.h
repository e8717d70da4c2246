#pragma once
// The Punchline window, a chat app with many friends at once: the conversations on the left (every
// known friend with presence, last message and unread count, "Add friend"), the chosen
// conversation on the right (messages and the file transfers with that friend in one stream, a
// composer), and a page to paste a friend's code. It talks to the engine only through Node
// (non-blocking calls, value-type signals keyed by the friend's fingerprint), so the window never
// waits for the network; chat history is a small local SQLite file keyed by fingerprint.

#include "chatview.h"
#include "common/types.h"
#include "connectionstatus.h"
#include "engine/commandline.h"
#include "engine/settings.h"

#include <QHash>
#include <QMainWindow>
#include <QPointer>
#include <QSet>
#include <memory>

class QAction;
class QDockWidget;
class QLabel;
class QMenu;
class QMimeData;
class QPlainTextEdit;
class QPushButton;
class QScrollArea;
class QSplitter;
class QStackedWidget;
class QSystemTrayIcon;

namespace Punchline {

class ChatHistory;
class ChatInput;
class ConnectBar;
class ConversationList;
class FriendRequestBar;
class LocalInfoPanel;
class Node;
class NoticeBar;
class StatusBanner;

class MainWindow : public QMainWindow
{
    Q_OBJECT
public:
    // node is not owned and must outlive the window; settings.profileDir must be set.
    explicit MainWindow(Node *node, const Settings &settings, QWidget *parent = nullptr);
    ~MainWindow() override;

    // Command-line choices (--stun, --ip-echo, --port) for this run only: used over the saved
    // settings, never written back by Settings. Call before start().
    void setOneRunOptions(const NetworkOptions &options);
    // Ask for a name when the profile has none or only the default "Friend" (a first start).
    // Off unless asked for: tests and --demo set names themselves.
    void setAskForName(bool ask) { m_askForName = ask; }
    // Closing the window keeps Punchline in the tray when one is available (the saved setting
    // by default); the demo turns it off for its run.
    void setCloseToTray(bool closeToTray) { m_closeToTray = closeToTray; }
    bool closesToTray() const;
    // Starts the node with the window's settings (after every signal is connected).
    void start();
    // Puts a code (or addresses) into the friend field and connects, as if pasted and clicked.
    void connectTo(const QString &codeOrAddresses);
    // Shows this friend's conversation (as picking it in the list does). Empty: the page to add a
    // friend.
    void showConversation(const QByteArray &fingerprint);
    void showAddFriend();
    // The conversation list beside the chat, or folded away (F9) for a narrow window.
    void setSidebarShown(bool shown);
    QByteArray shownFriend() const { return m_shown; }
    // Sends a chat message to the friend shown, as if typed; returns its id (empty if nothing was
    // sent).
    QString sendChatText(const QString &text);
    // One offer with all these files and folders to the friend shown, after checking they can be
    // read. Emits sendRequested(paths) and calls Node::sendPaths once. False (and a message)
    // otherwise.
    bool sendPaths(const QStringList &paths);
    // Answers a friend request (Node::friendRequest) as the strip's buttons do: accepting adds
    // the friend to the conversations, shows it and connects.
    void answerFriendRequest(const QByteArray &fingerprint, bool accept);
    // Accept-or-decline an incoming offer, as the buttons do.
    void answerOffer(const QString &transferId, bool accept);
    // Per-friend actions of the list's context menu (forget asks nothing here).
    void reconnectFriend(const QByteArray &fingerprint);
    void forgetFriend(const QByteArray &fingerprint);
    // What OK in the settings dialog does: the window's own file for what it owns, and
    // Node::updateSettings (display name and port included when they changed).
    bool applySettings(const Settings &chosen);

    // The state of the friend shown (or of the device / the attempt being added on the add page).
    State state() const;
    State friendState(const QByteArray &fingerprint) const;
    const ConnectionStatus *friendStatus(const QByteArray &fingerprint) const;
    const LocalInfo &localInfo() const { return m_localInfo; }
    const Settings &settings() const { return m_settings; } // saved + this run's options
    const Settings &savedSettings() const { return m_saved; } // what Settings shows and saves
    ChatHistory *history() const { return m_history.get(); }
    ChatView *chatView() const { return m_chatView; }
    ChatInput *chatInput() const { return m_chatInput; }
    ConnectBar *connectBar() const { return m_connectBar; }
    StatusBanner *statusBanner() const { return m_banner; }
    NoticeBar *noticeBar() const { return m_notice; }
    ConversationList *conversationList() const { return m_conversations; }
    FriendRequestBar *requestBar() const { return m_requests; }
    LocalInfoPanel *localPanel() const { return m_localPanel; }
    bool isAddFriendShown() const;
    QString trayToolTip() const;
    QMenu *trayMenu() const { return m_trayMenu; }
    // Transfers moving bytes (or about to) with any friend: quitting stops them.
    int runningTransferCount() const;
    // The first size: the preferred one, or less to fit the screen's available area.
    static QSize initialSize(const QSize &available);

    static QStringList localPathsFrom(const QMimeData *mime); // file:// URLs only
    // Empty when every path exists and can be read; otherwise a sentence naming the first bad one.
    static QString checkReadable(const QStringList &paths);

Q_SIGNALS:
    void sendRequested(const QStringList &paths);
    void notificationShown(const QString &title, const QString &text);

public Q_SLOTS:
    void openSettings();
    // Quit Punchline (menu, tray, Ctrl+Q): asks first while transfers are running.
    void quitApp();
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
    void resizeEvent(QResizeEvent *event) override;
    bool eventFilter(QObject *watched, QEvent *event) override;

private:
    // What the window knows about one friend beyond FriendInfo.
    struct Friend
    {
        FriendInfo info;
        ConnectionStatus status;
        QList<ChatView::Transfer> transfers; // this run's, oldest first
        QSet<QString> notifiedOffers;
        bool provisional = false; // pasted code, not yet in friendsChanged
    };

    void buildUi();
    void buildMenus();
    void buildTray();
    void connectNode();
    void updateIcons();
    void refreshStatus();
    void updateActions();
    void updateTitle();
    void updateChatHeader();
    void publishFriends();
    void showDropOverlay(bool show);
    void setOwnName(const QString &name); // the one place that shows your name
    void askForName();
    bool confirmQuit();
    void fitToScreen();
    void openHistory();
    void submitChat();
    void notify(const QString &title, const QString &text);
    void showError(const Error &error);
    bool reachable(const QByteArray &fingerprint) const; // connected, or reconnecting
    QString nameOf(const QByteArray &fingerprint) const; // isolated (bidi), or "your friend"
    QString plainNameOf(const QByteArray &fingerprint) const;
    Friend &friendFor(const QByteArray &fingerprint);
    void onConnectRequested(const QString &text, const QString &expectedName);

    void onStateChanged(State state);
    void onLocalInfo(const LocalInfo &info);
    void onFriendsChanged(const QList<FriendInfo> &friends);
    void onFriendStateChanged(const QByteArray &peer, State state);
    void onProgress(const QByteArray &peer, const ConnectProgress &progress);
    void onConnected(const QByteArray &peer, const ConnectionInfo &info);
    void onDisconnected(const QByteArray &peer, const Error &why);
    void onError(const QByteArray &peer, const Error &error);
    void onChatReceived(const QByteArray &peer, const ChatMessage &message);
    void onChatDelivered(const QByteArray &peer, const QString &id);
    void onRtt(const QByteArray &peer, int milliseconds);
    void onTransferUpdated(const QByteArray &peer, const TransferInfo &info);
    void onLogLine(const QString &line);
    void onFriendRequest(const FriendRequest &request);
    void onRequestAnswered(const FriendRequest &request, bool accept);

    QPointer<Node> m_node;
    Settings m_saved; // the window's file (and the profile's name and port: empty / -1)
    NetworkOptions m_oneRun;
    Settings m_settings; // m_saved with this run's options
    ConnectionStatus m_deviceStatus; // discovery, and an attempt by plain addresses (no
                                     // fingerprint yet)
    bool m_pendingAttempt = false;
    LocalInfo m_localInfo;
    std::unique_ptr<ChatHistory> m_history;
    bool m_historyTried = false;
    bool m_started = false;
    bool m_friendsKnown = false; // friendsChanged arrived once
    bool m_askForName = false;
    bool m_askedForName = false;
    bool m_closeToTray = true;
    bool m_quitting = false;
    bool m_trayHintShown = false;
    QString m_tooLongText; // the "too long" notice, hidden again once the message fits
    QSet<QString> m_superseded; // incoming transfers continued under a new id
    QHash<QByteArray, Friend> m_friends;
    QHash<QString, QByteArray> m_transferOwner; // transfer id -> friend
    QByteArray m_shown; // whose conversation is shown; empty: the add page

    QSplitter *m_splitter = nullptr;
    QWidget *m_sidebar = nullptr;
    QWidget *m_rightPane = nullptr;
    QMenu *m_trayMenu = nullptr;
    NoticeBar *m_notice = nullptr;
    FriendRequestBar *m_requests = nullptr;
    StatusBanner *m_banner = nullptr;
    QStackedWidget *m_pages = nullptr;
    QWidget *m_addPage = nullptr;
    QScrollArea *m_addScroll = nullptr; // holds m_addPage
    QWidget *m_chatPage = nullptr;
    ConnectBar *m_connectBar = nullptr;
    LocalInfoPanel *m_localPanel = nullptr;
    ConversationList *m_conversations = nullptr;
    QLabel *m_myName = nullptr;
    QLabel *m_chatTitle = nullptr;
    QLabel *m_chatPresence = nullptr;
    QPushButton *m_friendConnect = nullptr;
    QPushButton *m_friendCancel = nullptr;
    QPushButton *m_friendDisconnect = nullptr;
    ChatView *m_chatView = nullptr;
    ChatInput *m_chatInput = nullptr;
    QPushButton *m_sendButton = nullptr;
    QPushButton *m_fileButton = nullptr;
    QLabel *m_dropOverlay = nullptr;
    QLabel *m_statusText = nullptr;
    QDockWidget *m_logDock = nullptr;
    QPlainTextEdit *m_log = nullptr;
    QSystemTrayIcon *m_tray = nullptr;

    QAction *m_sendFilesAction = nullptr;
    QAction *m_sendFolderAction = nullptr;
    QAction *m_settingsAction = nullptr;
    QAction *m_quitAction = nullptr;
    QAction *m_addFriendAction = nullptr;
    QAction *m_copyCodeAction = nullptr;
    QAction *m_pasteCodeAction = nullptr;
    QAction *m_connectAction = nullptr;
    QAction *m_cancelAction = nullptr;
    QAction *m_disconnectAction = nullptr;
    QAction *m_forgetAction = nullptr;
    QAction *m_logAction = nullptr;
    QAction *m_sidebarAction = nullptr;
    QAction *m_shareCodeAction = nullptr;
};

} // namespace Punchline
