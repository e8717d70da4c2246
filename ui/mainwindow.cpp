#include "mainwindow.h"

#include "appsettings.h"
#include "chathistory.h"
#include "chatinput.h"
#include "chatview.h"
#include "connectbar.h"
#include "contactlist.h"
#include "engine/node.h"
#include "englishplurals.h"
#include "iconfactory.h"
#include "identity/identity.h"
#include "localinfopanel.h"
#include "messageformat.h"
#include "noticebar.h"
#include "protocol/messages.h"
#include "settingsdialog.h"
#include "statusbanner.h"
#include "transferitem.h"
#include "transferlist.h"

#include <QAction>
#include <QApplication>
#include <QClipboard>
#include <QCloseEvent>
#include <QDesktopServices>
#include <QDir>
#include <QDockWidget>
#include <QDragEnterEvent>
#include <QFileDialog>
#include <QFileInfo>
#include <QFontDatabase>
#include <QHBoxLayout>
#include <QLabel>
#include <QLineEdit>
#include <QListWidget>
#include <QMenu>
#include <QMenuBar>
#include <QMessageBox>
#include <QMimeData>
#include <QPlainTextEdit>
#include <QPushButton>
#include <QScreen>
#include <QSplitter>
#include <QStatusBar>
#include <QSystemTrayIcon>
#include <QTime>
#include <QTimer>
#include <QUrl>
#include <QVBoxLayout>

#include <algorithm>

namespace Punchline {

namespace {

QLabel *sectionTitle(const QString &text, QWidget *parent)
{
    auto *label = new QLabel(text, parent);
    QFont font = label->font();
    font.setBold(true);
    font.setCapitalization(QFont::AllUppercase);
    font.setPointSizeF(font.pointSizeF() * 0.85);
    label->setFont(font);
    label->setForegroundRole(QPalette::PlaceholderText);
    return label;
}

QFrame *separator(QWidget *parent)
{
    auto *line = new QFrame(parent);
    line->setFrameShape(QFrame::HLine);
    line->setFrameShadow(QFrame::Sunken);
    return line;
}

} // namespace

MainWindow::MainWindow(Node *node, const Settings &settings, QWidget *parent)
    : QMainWindow(parent)
    , m_node(node)
    , m_settings(settings)
{
    IconFactory::ensureResources();
    EnglishPlurals::install();
    setObjectName(QStringLiteral("punchlineWindow"));
    setWindowIcon(IconFactory::appIcon());
    setAcceptDrops(true);
    buildUi();
    buildMenus();
    buildTray();
    connectNode();
    updateIcons();
    refreshStatus();
    updateActions();
    updateTitle();
    updateChatTitle();

    const AppSettings stored(m_settings.profileDir);
    const QByteArray geometry = stored.windowGeometry();
    if (geometry.isEmpty() || !restoreGeometry(geometry))
        resize(1000, 700);
    m_connectBar->field()->setFocus();
}

MainWindow::~MainWindow() = default;

void MainWindow::buildUi()
{
    // Left: you and your friends.
    auto *sidebar = new QWidget;
    sidebar->setObjectName(QStringLiteral("sidebar"));
    m_localPanel = new LocalInfoPanel(sidebar);
    m_contacts = new ContactList(sidebar);
    auto *side = new QVBoxLayout(sidebar);
    side->setContentsMargins(10, 10, 6, 10);
    side->addWidget(sectionTitle(tr("You"), sidebar));
    side->addWidget(m_localPanel);
    side->addSpacing(8);
    side->addWidget(separator(sidebar));
    side->addWidget(sectionTitle(tr("Friends"), sidebar));
    side->addWidget(m_contacts, 1);
    sidebar->setMinimumWidth(260);

    // Right: status, friend's code, conversation, transfers, composer.
    auto *main = new QWidget;
    m_notice = new NoticeBar(main);
    m_banner = new StatusBanner(main);
    m_connectBar = new ConnectBar(main);
    m_chatTitle = new QLabel(main);
    m_chatTitle->setObjectName(QStringLiteral("chatTitle"));
    m_chatTitle->setTextFormat(Qt::PlainText);
    QFont bold = m_chatTitle->font();
    bold.setBold(true);
    m_chatTitle->setFont(bold);
    m_chatView = new ChatView(main);
    m_chatView->setObjectName(QStringLiteral("chatView"));
    m_chatView->setAccessibleName(tr("Conversation"));
    m_chatView->setPlaceholderText(
        tr("No messages yet.\n\nOnce you are connected, type below and press Enter. "
           "To send files or folders, drop them anywhere on this window."));
    m_transfers = new TransferList(main);
    m_transfers->hide();
    m_chatSplitter = new QSplitter(Qt::Vertical, main);
    m_chatSplitter->setChildrenCollapsible(false);
    auto *chatPane = new QWidget(m_chatSplitter);
    auto *chatLayout = new QVBoxLayout(chatPane);
    chatLayout->setContentsMargins(0, 0, 0, 0);
    chatLayout->setSpacing(4);
    chatLayout->addWidget(m_chatTitle);
    chatLayout->addWidget(m_chatView, 1);
    m_chatSplitter->addWidget(chatPane);
    m_chatSplitter->addWidget(m_transfers);
    m_chatSplitter->setStretchFactor(0, 3);
    m_chatSplitter->setStretchFactor(1, 2);

    m_chatInput = new ChatInput(main);
    m_chatInput->setObjectName(QStringLiteral("chatInput"));
    m_chatInput->setAccessibleName(tr("Message"));
    m_sendButton = new QPushButton(tr("&Send"), main);
    m_sendButton->setObjectName(QStringLiteral("sendButton"));
    m_sendButton->setToolTip(tr("Send the message (Enter; Shift+Enter starts a new line)"));
    m_fileButton = new QPushButton(tr("F&iles…"), main);
    m_fileButton->setObjectName(QStringLiteral("sendFilesButton"));
    m_fileButton->setToolTip(tr(
        "Send files to your friend (Ctrl+O). You can also drop files or folders on the window."));
    auto *composer = new QHBoxLayout;
    composer->setContentsMargins(0, 0, 0, 0);
    composer->addWidget(m_chatInput, 1);
    auto *composerButtons = new QVBoxLayout;
    composerButtons->addWidget(m_sendButton);
    composerButtons->addWidget(m_fileButton);
    composerButtons->addStretch(1);
    composer->addLayout(composerButtons);

    auto *right = new QVBoxLayout(main);
    right->setContentsMargins(6, 10, 10, 6);
    right->addWidget(m_notice);
    right->addWidget(m_banner);
    right->addWidget(m_connectBar);
    right->addWidget(m_chatSplitter, 1);
    right->addLayout(composer);

    auto *splitter = new QSplitter(Qt::Horizontal, this);
    splitter->setObjectName(QStringLiteral("mainSplitter"));
    splitter->addWidget(sidebar);
    splitter->addWidget(main);
    splitter->setStretchFactor(0, 0);
    splitter->setStretchFactor(1, 1);
    splitter->setChildrenCollapsible(false);
    splitter->setSizes({ 300, 700 });
    setCentralWidget(splitter);

    // Shown while files are dragged over the window.
    m_dropOverlay = new QLabel(splitter);
    m_dropOverlay->setObjectName(QStringLiteral("dropOverlay"));
    m_dropOverlay->setAlignment(Qt::AlignCenter);
    m_dropOverlay->setAutoFillBackground(true);
    m_dropOverlay->setBackgroundRole(QPalette::Highlight);
    m_dropOverlay->setForegroundRole(QPalette::HighlightedText);
    QFont overlayFont = m_dropOverlay->font();
    overlayFont.setPointSizeF(overlayFont.pointSizeF() * 1.6);
    overlayFont.setBold(true);
    m_dropOverlay->setFont(overlayFont);
    m_dropOverlay->setAttribute(Qt::WA_TransparentForMouseEvents);
    m_dropOverlay->hide();

    // Log for the curious.
    m_log = new QPlainTextEdit;
    m_log->setObjectName(QStringLiteral("logView"));
    m_log->setReadOnly(true);
    m_log->setMaximumBlockCount(5000);
    m_log->setFont(QFontDatabase::systemFont(QFontDatabase::FixedFont));
    m_log->setAccessibleName(tr("Log"));
    m_logDock = new QDockWidget(tr("Log"), this);
    m_logDock->setObjectName(QStringLiteral("logDock"));
    m_logDock->setWidget(m_log);
    addDockWidget(Qt::BottomDockWidgetArea, m_logDock);
    m_logDock->hide();

    m_statusText = new QLabel(this);
    m_statusText->setObjectName(QStringLiteral("statusBarText"));
    m_statusText->setTextFormat(Qt::PlainText);
    statusBar()->addWidget(m_statusText, 1);
    statusBar()->setSizeGripEnabled(true);

    // Keyboard order: the friend's code, the conversation, then your side and your friends.
    const QList<QWidget *> order
        = { m_connectBar->field(), m_connectBar->connectButton(), m_connectBar->lastInTabOrder(),
              m_chatInput, m_sendButton, m_fileButton, m_chatView, m_localPanel->codeField(),
              m_localPanel->copyButton(), m_contacts->list(), m_contacts->reconnectButton() };
    for (qsizetype i = 1; i < order.size(); ++i)
        QWidget::setTabOrder(order.at(i - 1), order.at(i));

    // Files dropped anywhere on this window make an offer, also over widgets that take drops
    // themselves (text boxes would insert the path): watch the drag events of the whole app and
    // keep those aimed at this window.
    qApp->installEventFilter(this);

    connect(m_chatInput, &ChatInput::submitted, this, &MainWindow::submitChat);
    connect(m_sendButton, &QPushButton::clicked, this, &MainWindow::submitChat);
    connect(m_fileButton, &QPushButton::clicked, this, &MainWindow::sendFilesDialog);
    connect(m_chatInput, &QPlainTextEdit::textChanged, this, &MainWindow::updateActions);
    connect(m_connectBar->field(), &QLineEdit::textChanged, this, &MainWindow::updateActions);
    connect(m_connectBar, &ConnectBar::connectRequested, this,
        [this](const QString &text, const QString &name) {
            if (!m_node)
                return;
            m_notice->hide();
            m_status.setTargetName(name);
            const PeerInput input = parsePeerInput(text);
            if (input.code && m_history && m_history->count(input.code->fingerprint) > 0)
                showHistoryFor(input.code->fingerprint, input.code->name);
            m_node->connectToPeer(text);
            onLogLine(
                tr("connecting to %1").arg(name.isEmpty() ? tr("the pasted addresses") : name));
        });
    connect(m_connectBar, &ConnectBar::cancelRequested, this, [this] {
        if (m_node)
            m_node->cancelConnect();
    });
    connect(m_connectBar, &ConnectBar::disconnectRequested, this, [this] {
        if (m_node)
            m_node->disconnectFromPeer();
    });
    connect(m_contacts, &ContactList::reconnectRequested, this,
        [this](const QByteArray &fingerprint, const QString &name) {
            if (!m_node)
                return;
            m_notice->hide();
            m_status.setTargetName(name);
            showHistoryFor(fingerprint, name);
            m_node->reconnectKnownPeer(fingerprint);
        });
    connect(m_contacts, &ContactList::contactSelected, this,
        [this](const QByteArray &fingerprint, const QString &name) {
            // Browsing earlier conversations is fine as long as it does not hide the live one.
            if (!peerReachable())
                showHistoryFor(fingerprint, name);
        });
    connect(m_localPanel, &LocalInfoPanel::codeCopied, this, [this] {
        statusBar()->showMessage(
            tr("Your code is on the clipboard: send it to your friend."), 4000);
    });
    connect(m_transfers, &TransferList::acceptRequested, this,
        [this](const QString &id) { answerOffer(id, true); });
    connect(m_transfers, &TransferList::declineRequested, this,
        [this](const QString &id) { answerOffer(id, false); });
    connect(m_transfers, &TransferList::cancelRequested, this, [this](const QString &id) {
        if (m_node)
            m_node->cancelTransfer(id);
    });
    connect(m_transfers, &TransferList::openFolderRequested, this, [this](const QString &folder) {
        if (folder.isEmpty() || !QFileInfo(folder).isDir()) {
            m_notice->showNotice(
                NoticeBar::Kind::Warning, tr("The folder \"%1\" no longer exists.").arg(folder));
            return;
        }
        QDesktopServices::openUrl(QUrl::fromLocalFile(folder));
    });
    connect(m_transfers, &TransferList::countChanged, this, [this](int count) {
        m_transfers->setVisible(count > 0);
        fitTransfers();
    });
}

void MainWindow::buildMenus()
{
    QMenu *file = menuBar()->addMenu(tr("&File"));
    m_sendFilesAction = file->addAction(tr("Send &Files…"), this, &MainWindow::sendFilesDialog);
    m_sendFilesAction->setShortcut(QKeySequence::Open);
    m_sendFolderAction = file->addAction(tr("Send F&older…"), this, &MainWindow::sendFolderDialog);
    m_sendFolderAction->setShortcut(QKeySequence(Qt::CTRL | Qt::SHIFT | Qt::Key_O));
    file->addSeparator();
    m_settingsAction = file->addAction(tr("&Settings…"), this, &MainWindow::openSettings);
    m_settingsAction->setShortcuts(
        { QKeySequence::Preferences, QKeySequence(Qt::CTRL | Qt::Key_Comma) });
    m_settingsAction->setMenuRole(QAction::PreferencesRole);
    file->addSeparator();
    m_quitAction = file->addAction(tr("&Quit"), this, &QWidget::close);
    m_quitAction->setShortcut(QKeySequence::Quit);
    m_quitAction->setMenuRole(QAction::QuitRole);

    QMenu *connection = menuBar()->addMenu(tr("&Connection"));
    m_copyCodeAction
        = connection->addAction(tr("&Copy My Code"), m_localPanel, &LocalInfoPanel::copyCode);
    m_copyCodeAction->setShortcut(QKeySequence(Qt::CTRL | Qt::SHIFT | Qt::Key_C));
    m_pasteCodeAction = connection->addAction(tr("&Paste Friend's Code"), this, [this] {
        m_connectBar->field()->setText(QGuiApplication::clipboard()->text().trimmed());
        m_connectBar->field()->setFocus();
    });
    m_pasteCodeAction->setShortcut(QKeySequence(Qt::CTRL | Qt::SHIFT | Qt::Key_V));
    connection->addSeparator();
    m_connectAction
        = connection->addAction(tr("Co&nnect"), m_connectBar, &ConnectBar::requestConnect);
    m_cancelAction = connection->addAction(tr("C&ancel Connecting"), this, [this] {
        if (m_node)
            m_node->cancelConnect();
    });
    m_cancelAction->setShortcut(QKeySequence(Qt::Key_Escape));
    m_cancelAction->setShortcutContext(Qt::WindowShortcut);
    m_disconnectAction = connection->addAction(tr("&Disconnect"), this, [this] {
        if (m_node)
            m_node->disconnectFromPeer();
    });

    QMenu *view = menuBar()->addMenu(tr("&View"));
    m_logAction = m_logDock->toggleViewAction();
    m_logAction->setText(tr("&Log"));
    m_logAction->setShortcut(QKeySequence(Qt::CTRL | Qt::Key_L));
    view->addAction(m_logAction);
    QAction *clear = view->addAction(
        tr("&Clear Finished Transfers"), m_transfers, &TransferList::clearFinished);
    Q_UNUSED(clear)

    QMenu *help = menuBar()->addMenu(tr("&Help"));
    QAction *how = help->addAction(tr("&How Punchline Works"), this, &MainWindow::showHowItWorks);
    how->setShortcut(QKeySequence::HelpContents);
    help->addAction(tr("&About Punchline"), this, &MainWindow::showAbout);
    help->addAction(tr("About &Qt"), qApp, &QApplication::aboutQt);
}

void MainWindow::buildTray()
{
    if (!QSystemTrayIcon::isSystemTrayAvailable())
        return;
    m_tray = new QSystemTrayIcon(IconFactory::appIcon(), this);
    auto *menu = new QMenu(this);
    menu->addAction(tr("&Show Punchline"), this, [this] {
        showNormal();
        raise();
        activateWindow();
    });
    menu->addSeparator();
    menu->addAction(m_quitAction);
    m_tray->setContextMenu(menu);
    connect(m_tray, &QSystemTrayIcon::activated, this,
        [this](QSystemTrayIcon::ActivationReason reason) {
            if (reason == QSystemTrayIcon::Trigger || reason == QSystemTrayIcon::DoubleClick) {
                showNormal();
                raise();
                activateWindow();
            }
        });
    connect(m_tray, &QSystemTrayIcon::messageClicked, this, [this] {
        showNormal();
        raise();
        activateWindow();
    });
    m_tray->show();
}

void MainWindow::connectNode()
{
    if (!m_node)
        return;
    connect(m_node, &Node::stateChanged, this, &MainWindow::onStateChanged);
    connect(m_node, &Node::localInfoReady, this, &MainWindow::onLocalInfo);
    connect(m_node, &Node::connectProgress, this, &MainWindow::onProgress);
    connect(m_node, &Node::connected, this, &MainWindow::onConnected);
    connect(m_node, &Node::disconnected, this, &MainWindow::onDisconnected);
    connect(m_node, &Node::errorOccurred, this, &MainWindow::onError);
    connect(m_node, &Node::chatReceived, this, &MainWindow::onChatReceived);
    connect(m_node, &Node::chatDelivered, this, &MainWindow::onChatDelivered);
    connect(m_node, &Node::rttMeasured, this, &MainWindow::onRtt);
    connect(m_node, &Node::transferUpdated, this, &MainWindow::onTransferUpdated);
    connect(m_node, &Node::logLine, this, &MainWindow::onLogLine);
}

void MainWindow::start()
{
    if (m_started || !m_node)
        return;
    m_started = true;
    onStateChanged(State::Discovering);
    m_node->start(m_settings);
}

void MainWindow::connectTo(const QString &codeOrAddresses)
{
    m_connectBar->field()->setText(codeOrAddresses);
    m_connectBar->requestConnect();
}

// ---------------------------------------------------------------------------------------------
// Node signals

void MainWindow::onStateChanged(State state)
{
    m_status.setState(state);
    m_connectBar->setState(state);
    m_contacts->setCanReconnect(
        state == State::Ready || state == State::Failed || state == State::Disconnected);
    if (state == State::Disconnected || state == State::Failed || state == State::Ready)
        m_contacts->setCurrentPeer({});
    refreshStatus();
    updateActions();
    updateTitle();
    updateChatTitle();
}

void MainWindow::onLocalInfo(const LocalInfo &info)
{
    m_localInfo = info;
    m_localPanel->setLocalInfo(info);
    m_connectBar->setOwnFingerprint(info.fingerprint);
    m_status.setLocalNat(info.nat);
    m_chatView->setNames(info.displayName, m_shownPeerName);
    openHistory();
    m_contacts->reload(m_settings.profileDir);
    // Show the last conversation until a friend connects.
    if (m_shownPeer.isEmpty() && !m_contacts->contacts().isEmpty()) {
        const ContactList::Contact &last = m_contacts->contacts().constFirst();
        showHistoryFor(last.fingerprint, last.name);
    }
    refreshStatus();
    updateTitle();
}

void MainWindow::onProgress(const ConnectProgress &progress)
{
    m_status.setProgress(progress);
    refreshStatus();
}

void MainWindow::onConnected(const ConnectionInfo &info)
{
    const bool samePeer = info.peerFingerprint == m_peerFingerprint;
    m_peerFingerprint = info.peerFingerprint;
    m_peerName = info.peerName;
    m_status.setConnection(info);
    m_status.setTargetName(info.peerName);
    m_notice->hide();
    if (m_history)
        m_history->rememberPeer(info.peerFingerprint, info.peerName);
    if (!samePeer || m_shownPeer != info.peerFingerprint)
        showHistoryFor(info.peerFingerprint, info.peerName);
    else
        m_chatView->setNames(m_localInfo.displayName, info.peerName);
    m_transfers->setPeerName(info.peerName);
    m_contacts->reload(m_settings.profileDir); // the core remembered the friend before telling us
    m_contacts->setCurrentPeer(info.peerFingerprint);
    if (m_connectBar->field()->hasFocus() || !focusWidget())
        m_chatInput->setFocus();
    if (!isActiveWindow())
        notify(
            tr("Connected to %1").arg(info.peerName), ConnectionStatus::pathDescription(info.path));
    refreshStatus();
    updateActions();
    updateTitle();
    updateChatTitle();
}

void MainWindow::onDisconnected(const Error &why)
{
    m_status.setDisconnectReason(why);
    refreshStatus();
    updateActions();
}

void MainWindow::onError(const Error &error)
{
    onLogLine(tr("error: %1").arg(error.message));
    if (m_status.state() == State::Failed) {
        m_status.setError(error);
        if (m_localInfo.code.isEmpty())
            m_localPanel->setFailed(MessageFormat::sentence(error.message));
        refreshStatus();
        return;
    }
    showError(error);
}

void MainWindow::showError(const Error &error)
{
    const QString next = ConnectionStatus::advice(error);
    const QString text = next.isEmpty()
        ? MessageFormat::sentence(error.message)
        : MessageFormat::sentence(error.message) + QLatin1Char(' ') + next;
    const bool serious = error.code == ErrorCode::FileError || error.code == ErrorCode::DiskFull
        || error.code == ErrorCode::IdentityError || error.code == ErrorCode::PeerIdentityMismatch;
    m_notice->showNotice(serious ? NoticeBar::Kind::Error : NoticeBar::Kind::Warning, text);
}

void MainWindow::onChatReceived(const ChatMessage &message)
{
    if (m_history)
        m_history->store(m_peerFingerprint, message);
    if (m_shownPeer != m_peerFingerprint)
        showHistoryFor(m_peerFingerprint, m_peerName); // includes the new message
    else
        m_chatView->appendMessage(message);
    if (!isActiveWindow()) {
        notify(tr("Message from %1").arg(m_peerName), message.text.left(200));
        QApplication::alert(this);
    }
}

void MainWindow::onChatDelivered(const QString &id)
{
    if (m_history)
        m_history->markDelivered(m_peerFingerprint, id);
    m_chatView->markDelivered(id);
}

void MainWindow::onRtt(int milliseconds)
{
    m_status.setRtt(milliseconds);
    refreshStatus();
}

void MainWindow::onTransferUpdated(const TransferInfo &info)
{
    const bool isNew = !m_transfers->item(info.id);
    m_transfers->updateTransfer(info);
    m_transfers->show();
    if (isNew)
        QTimer::singleShot(0, this, &MainWindow::fitTransfers); // after the new item is laid out
    const bool in = info.direction == TransferDirection::In;
    if (in && info.state == TransferState::Offered && !m_notifiedOffers.contains(info.id)) {
        m_notifiedOffers.insert(info.id);
        onLogLine(
            tr("%1 offers %2 (%3)").arg(m_peerName, info.name, MessageFormat::size(info.total)));
        if (!isActiveWindow()) {
            notify(tr("%1 wants to send you files").arg(m_peerName),
                tr("%1 (%n file(s), %2)", nullptr, int(info.files.size()))
                    .arg(info.name, MessageFormat::size(info.total)));
            QApplication::alert(this);
        }
    } else if (in && info.state == TransferState::Done && !isActiveWindow()) {
        notify(tr("File received"), tr("%1 from %2").arg(info.name, m_peerName));
    }
}

void MainWindow::onLogLine(const QString &line)
{
    m_log->appendPlainText(QTime::currentTime().toString(QStringLiteral("HH:mm:ss.zzz  ")) + line);
}

// ---------------------------------------------------------------------------------------------
// Chat

bool MainWindow::peerReachable() const
{
    if (m_peerFingerprint.isEmpty())
        return false;
    const State s = m_status.state();
    return s == State::Connected || s == State::Reconnecting;
}

void MainWindow::submitChat()
{
    const QString text = m_chatInput->toPlainText();
    if (text.trimmed().isEmpty())
        return;
    if (!sendChatText(text).isEmpty())
        m_chatInput->clear();
}

QString MainWindow::sendChatText(const QString &rawText)
{
    // Trailing blank lines are a slip of the finger; leading spaces may be intentional.
    QString text = rawText;
    while (!text.isEmpty() && text.back().isSpace())
        text.chop(1);
    if (text.trimmed().isEmpty() || !m_node)
        return QString();
    if (!peerReachable()) {
        m_notice->showNotice(NoticeBar::Kind::Info,
            tr("You are not connected yet: the message stays in the box "
               "and can be sent once you are connected."));
        return QString();
    }
    const qsizetype bytes = text.toUtf8().size();
    if (bytes > Limits::ChatTextBytes) {
        m_notice->showNotice(NoticeBar::Kind::Warning,
            tr("This message is too long (%1; at most %2). Send it as a file instead.")
                .arg(MessageFormat::size(bytes), MessageFormat::size(Limits::ChatTextBytes)));
        return QString();
    }
    ChatMessage message;
    message.id = m_node->sendChat(text);
    message.text = text;
    message.time = QDateTime::currentDateTime();
    message.outgoing = true;
    if (m_history)
        m_history->store(m_peerFingerprint, message);
    if (m_shownPeer != m_peerFingerprint)
        showHistoryFor(m_peerFingerprint, m_peerName);
    else
        m_chatView->appendMessage(message);
    return message.id;
}

void MainWindow::openHistory()
{
    if (m_historyTried)
        return;
    m_historyTried = true;
    auto history = std::make_unique<ChatHistory>(m_settings.profileDir);
    Error error;
    if (!history->open(&error)) {
        m_notice->showNotice(NoticeBar::Kind::Warning,
            tr("%1 Chat works, but messages are not kept after you close Punchline.")
                .arg(error.message));
        onLogLine(error.message);
        return;
    }
    m_history = std::move(history);
}

void MainWindow::showHistoryFor(const QByteArray &fingerprint, const QString &name)
{
    m_shownPeer = fingerprint;
    QString shownName = name;
    if (shownName.isEmpty() && m_history)
        shownName = m_history->peerName(fingerprint);
    m_shownPeerName = shownName;
    m_chatView->setNames(m_localInfo.displayName, shownName);
    m_chatView->setMessages(m_history ? m_history->messages(fingerprint) : QList<ChatMessage>());
    updateChatTitle();
}

void MainWindow::updateChatTitle()
{
    if (m_shownPeer.isEmpty()) {
        m_chatTitle->setText(tr("Chat"));
        return;
    }
    const QString name = m_shownPeerName.isEmpty() ? tr("your friend") : m_shownPeerName;
    if (peerReachable() && m_shownPeer == m_peerFingerprint)
        m_chatTitle->setText(tr("Chat with %1").arg(name));
    else
        m_chatTitle->setText(tr("Earlier messages with %1").arg(name));
}

// ---------------------------------------------------------------------------------------------
// Files

QStringList MainWindow::localPathsFrom(const QMimeData *mime)
{
    QStringList paths;
    if (!mime || !mime->hasUrls())
        return paths;
    const QList<QUrl> urls = mime->urls();
    for (const QUrl &url : urls) {
        if (!url.isLocalFile())
            continue;
        QString path = QDir::cleanPath(url.toLocalFile());
        if (!path.isEmpty() && !paths.contains(path))
            paths << path;
    }
    return paths;
}

QString MainWindow::checkReadable(const QStringList &paths)
{
    if (paths.isEmpty())
        return tr("Nothing to send.");
    for (const QString &path : paths) {
        const QFileInfo info(path);
        const QString shown = QDir::toNativeSeparators(path);
        if (!info.exists())
            return tr("\"%1\" does not exist (any more).").arg(shown);
        if (!info.isReadable() || (info.isDir() && !info.isExecutable()))
            return info.isDir()
                ? tr("The folder \"%1\" cannot be read: check its permissions.").arg(shown)
                : tr("The file \"%1\" cannot be read: check its permissions.").arg(shown);
        if (!info.isDir() && !info.isFile())
            return tr("\"%1\" is not a regular file or folder.").arg(shown);
    }
    return QString();
}

bool MainWindow::sendPaths(const QStringList &rawPaths)
{
    QStringList paths;
    for (const QString &p : rawPaths) {
        const QString clean = QDir::cleanPath(QFileInfo(p).absoluteFilePath());
        if (!paths.contains(clean))
            paths << clean;
    }
    if (!peerReachable()) {
        m_notice->showNotice(
            NoticeBar::Kind::Info, tr("Connect to a friend first, then send the files again."));
        return false;
    }
    const QString problem = checkReadable(paths);
    if (!problem.isEmpty()) {
        m_notice->showNotice(
            NoticeBar::Kind::Error, problem + QLatin1Char(' ') + tr("Nothing was sent."));
        return false;
    }
    Q_EMIT sendRequested(paths);
    if (m_node) {
        const QString id = m_node->sendPaths(paths);
        onLogLine(tr("offering %n item(s) as %1", nullptr, int(paths.size())).arg(id));
    }
    return true;
}

void MainWindow::answerOffer(const QString &transferId, bool accept)
{
    if (!m_node)
        return;
    if (accept && !peerReachable()) {
        m_notice->showNotice(NoticeBar::Kind::Warning,
            tr("The connection to %1 is closed, so this offer cannot be accepted now. "
               "Reconnect and ask them to send it again.")
                .arg(m_peerName.isEmpty() ? tr("your friend") : m_peerName));
        return;
    }
    if (accept) {
        const QString problem = SettingsDialog::checkDownloadDir(m_settings.downloadDir);
        if (!problem.isEmpty()) {
            m_notice->showNotice(NoticeBar::Kind::Error,
                problem + QLatin1Char(' ')
                    + tr("Choose another download folder in Settings, then accept."));
            return;
        }
    }
    m_node->acceptTransfer(transferId, accept);
}

void MainWindow::sendFilesDialog()
{
    if (!peerReachable()) {
        m_notice->showNotice(
            NoticeBar::Kind::Info, tr("Connect to a friend first, then send files."));
        return;
    }
    const QStringList files = QFileDialog::getOpenFileNames(
        this, tr("Send Files to %1").arg(m_peerName), QDir::homePath());
    if (!files.isEmpty())
        sendPaths(files);
}

void MainWindow::sendFolderDialog()
{
    if (!peerReachable()) {
        m_notice->showNotice(
            NoticeBar::Kind::Info, tr("Connect to a friend first, then send a folder."));
        return;
    }
    const QString folder = QFileDialog::getExistingDirectory(
        this, tr("Send a Folder to %1").arg(m_peerName), QDir::homePath());
    if (!folder.isEmpty())
        sendPaths({ folder });
}

void MainWindow::fitTransfers()
{
    // Enough room for the offers (an incoming one must show its buttons), at most 3/5 of the
    // height; never shrinks what the user chose by dragging the splitter.
    if (m_transfers->isHidden())
        return;
    const QList<int> sizes = m_chatSplitter->sizes();
    const int total = sizes.value(0) + sizes.value(1);
    if (total <= 0)
        return;
    const int want = std::min(m_transfers->sizeHint().height(), total * 3 / 5);
    if (sizes.value(1) < want)
        m_chatSplitter->setSizes({ total - want, want });
}

void MainWindow::showDropOverlay(bool show)
{
    if (show) {
        m_dropOverlay->setText(peerReachable() ? tr("Drop to send to %1").arg(m_peerName)
                                               : tr("Connect to a friend first"));
        m_dropOverlay->setGeometry(centralWidget()->rect());
        m_dropOverlay->raise();
    }
    m_dropOverlay->setVisible(show);
}

void MainWindow::dragEnterEvent(QDragEnterEvent *event)
{
    if (localPathsFrom(event->mimeData()).isEmpty())
        return;
    event->acceptProposedAction();
    showDropOverlay(true);
}

void MainWindow::dragMoveEvent(QDragMoveEvent *event)
{
    if (!localPathsFrom(event->mimeData()).isEmpty())
        event->acceptProposedAction();
}

void MainWindow::dragLeaveEvent(QDragLeaveEvent *event)
{
    showDropOverlay(false);
    QMainWindow::dragLeaveEvent(event);
}

void MainWindow::dropEvent(QDropEvent *event)
{
    showDropOverlay(false);
    const QStringList paths = localPathsFrom(event->mimeData());
    if (paths.isEmpty())
        return;
    event->acceptProposedAction();
    sendPaths(paths); // one drop, one offer
}

bool MainWindow::eventFilter(QObject *watched, QEvent *event)
{
    const QEvent::Type type = event->type();
    if (type != QEvent::DragEnter && type != QEvent::DragMove && type != QEvent::Drop
        && type != QEvent::DragLeave)
        return false; // the common case, kept cheap: this filter sees every event of the
                      // application
    if (watched == this || !watched->isWidgetType()
        || static_cast<QWidget *>(watched)->window() != this)
        return false;
    switch (type) {
    case QEvent::DragEnter:
    case QEvent::DragMove:
    case QEvent::Drop: {
        auto *drop = static_cast<QDropEvent *>(event);
        if (localPathsFrom(drop->mimeData()).isEmpty())
            break; // text drags keep working in the text boxes
        if (event->type() == QEvent::DragEnter)
            dragEnterEvent(static_cast<QDragEnterEvent *>(event));
        else if (event->type() == QEvent::DragMove)
            dragMoveEvent(static_cast<QDragMoveEvent *>(event));
        else
            dropEvent(drop);
        return true;
    }
    case QEvent::DragLeave:
        showDropOverlay(false);
        break;
    default:
        break;
    }
    return false;
}

// ---------------------------------------------------------------------------------------------
// Window

void MainWindow::refreshStatus()
{
    m_banner->showStatus(m_status);
    m_statusText->setText(m_status.shortText());
    if (m_tray)
        m_tray->setToolTip(tr("Punchline: %1").arg(m_status.shortText()));
}

void MainWindow::updateActions()
{
    const State s = m_status.state();
    const bool trying = s == State::Connecting || s == State::Securing || s == State::Reconnecting;
    const bool reachable = peerReachable();
    m_sendFilesAction->setEnabled(reachable);
    m_sendFolderAction->setEnabled(reachable);
    m_fileButton->setEnabled(reachable);
    m_sendButton->setEnabled(reachable && !m_chatInput->toPlainText().trimmed().isEmpty());
    const QString placeholder = reachable
        ? tr("Message %1 (Enter sends, Shift+Enter for a new line)").arg(m_peerName)
        : tr("Connect to a friend to chat");
    if (m_chatInput->placeholderText() != placeholder) {
        m_chatInput->setPlaceholderText(placeholder);
        m_chatInput->viewport()->update(); // QPlainTextEdit does not repaint for a new placeholder
    }
    m_copyCodeAction->setEnabled(!m_localInfo.code.isEmpty());
    m_connectAction->setEnabled(
        m_connectBar->connectButton()->isEnabled() && !m_connectBar->connectButton()->isHidden());
    m_cancelAction->setEnabled(trying);
    m_disconnectAction->setEnabled(s == State::Connected || s == State::Reconnecting);
}

void MainWindow::updateTitle()
{
    QString title = QStringLiteral("Punchline");
    if (!m_localInfo.displayName.isEmpty())
        title = tr("%1 — Punchline").arg(m_localInfo.displayName);
    if (m_status.state() == State::Connected)
        title = tr("%1 ⇄ %2 — Punchline").arg(m_localInfo.displayName, m_peerName);
    setWindowTitle(title);
}

void MainWindow::updateIcons()
{
    const QPalette pal = palette();
    m_sendButton->setIcon(IconFactory::glyph(QStringLiteral("send"), pal));
    m_fileButton->setIcon(IconFactory::glyph(QStringLiteral("attach"), pal));
    m_sendFilesAction->setIcon(
        IconFactory::glyph(QStringLiteral("attach"), pal, QPalette::WindowText));
    m_sendFolderAction->setIcon(
        IconFactory::glyph(QStringLiteral("folder"), pal, QPalette::WindowText));
    m_settingsAction->setIcon(
        IconFactory::glyph(QStringLiteral("settings"), pal, QPalette::WindowText));
    m_copyCodeAction->setIcon(
        IconFactory::glyph(QStringLiteral("copy"), pal, QPalette::WindowText));
    m_connectAction->setIcon(
        IconFactory::glyph(QStringLiteral("connect"), pal, QPalette::WindowText));
    m_cancelAction->setIcon(
        IconFactory::glyph(QStringLiteral("cancel"), pal, QPalette::WindowText));
    m_disconnectAction->setIcon(
        IconFactory::glyph(QStringLiteral("disconnect"), pal, QPalette::WindowText));
    m_logAction->setIcon(IconFactory::glyph(QStringLiteral("log"), pal, QPalette::WindowText));
}

void MainWindow::changeEvent(QEvent *event)
{
    QMainWindow::changeEvent(event);
    if (event->type() == QEvent::PaletteChange)
        updateIcons();
}

void MainWindow::closeEvent(QCloseEvent *event)
{
    AppSettings(m_settings.profileDir).saveWindow(saveGeometry(), saveState());
    if (m_tray)
        m_tray->hide();
    QMainWindow::closeEvent(event);
}

void MainWindow::notify(const QString &title, const QString &text)
{
    if (m_tray && m_tray->isVisible())
        m_tray->showMessage(title, text, IconFactory::appIcon(), 6000);
    Q_EMIT notificationShown(title, text);
}

void MainWindow::openSettings()
{
    Settings current = m_settings;
    if (current.displayName.isEmpty())
        current.displayName = m_localInfo.displayName;
    SettingsDialog dialog(current, this);
    if (dialog.exec() != QDialog::Accepted)
        return;
    const Settings chosen = dialog.settings();
    const bool needsRestart = chosen.port != m_settings.port
        || chosen.stunServers != m_settings.stunServers || chosen.ipEchoUrl != m_settings.ipEchoUrl;
    if (!AppSettings(m_settings.profileDir).save(chosen)) {
        m_notice->showNotice(NoticeBar::Kind::Error,
            tr("The settings could not be saved to %1; nothing was changed.")
                .arg(QDir::toNativeSeparators(AppSettings(m_settings.profileDir).path())));
        return;
    }
    m_settings = chosen;
    if (m_node)
        m_node->updateSettings(chosen);
    if (!chosen.displayName.isEmpty() && chosen.displayName != m_localInfo.displayName) {
        m_localInfo.displayName = chosen.displayName;
        m_chatView->setNames(chosen.displayName, m_shownPeerName);
        updateTitle();
    }
    if (needsRestart)
        m_notice->showNotice(NoticeBar::Kind::Info,
            tr("Saved. The new port and address discovery settings apply the next time Punchline "
               "starts."));
    else
        statusBar()->showMessage(tr("Settings saved."), 3000);
}

void MainWindow::showAbout()
{
    QMessageBox::about(this, tr("About Punchline"),
        tr("<h3>Punchline %1</h3>"
           "<p>Chat and send files directly to a friend, through both of your home routers, "
           "with no server in between. Everything is encrypted with TLS 1.3 and your friend's "
           "identity is checked against the code they gave you.</p>")
            .arg(QStringLiteral(PUNCHLINE_VERSION)));
}

void MainWindow::showHowItWorks()
{
    QMessageBox::information(this, tr("How Punchline Works"),
        tr("1. Copy your code (Ctrl+Shift+C) and send it to your friend by chat or e-mail.\n"
           "2. Paste your friend's code into \"Friend's code\" and press Connect. Your friend does "
           "the same "
           "with yours, at about the same time.\n"
           "3. Punchline opens a path through both routers and connects you directly. Then chat, "
           "or drop "
           "files and folders on the window to send them.\n\n"
           "Next time, pick your friend under Friends and press Reconnect."));
}

} // namespace Punchline
