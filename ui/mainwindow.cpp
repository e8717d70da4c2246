#include "mainwindow.h"

#include "appsettings.h"
#include "chathistory.h"
#include "chatinput.h"
#include "chatview.h"
#include "connectbar.h"
#include "conversationlist.h"
#include "engine/node.h"
#include "englishplurals.h"
#include "friendrequestbar.h"
#include "iconfactory.h"
#include "identity/peercode.h"
#include "localinfopanel.h"
#include "messageformat.h"
#include "noticebar.h"
#include "protocol/messages.h"
#include "settingsdialog.h"
#include "statusbanner.h"
#include "transferitem.h"

#include <QAction>
#include <QApplication>
#include <QClipboard>
#include <QCloseEvent>
#include <QDesktopServices>
#include <QDialogButtonBox>
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
#include <QScrollArea>
#include <QSplitter>
#include <QStackedWidget>
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

bool isTrying(State s)
{
    return s == State::Connecting || s == State::Securing || s == State::Reconnecting;
}

// One line of a message for the conversation list and notifications.
QString firstLine(const QString &text)
{
    const QString line = text.section(QLatin1Char('\n'), 0, 0).simplified();
    return line.size() > 200 ? line.left(199) + QChar(0x2026) : line;
}

} // namespace

MainWindow::MainWindow(Node *node, const Settings &settings, QWidget *parent)
    : QMainWindow(parent)
    , m_node(node)
    , m_saved(settings)
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
    showAddFriend();

    const AppSettings stored(m_settings.profileDir);
    m_closeToTray = stored.closeToTray();
    const QByteArray geometry = stored.windowGeometry();
    if (geometry.isEmpty() || !restoreGeometry(geometry)) {
        const QScreen *screen = QGuiApplication::primaryScreen();
        resize(initialSize(screen ? screen->availableGeometry().size() : QSize(1100, 720)));
    }
    fitToScreen();
}

QSize MainWindow::initialSize(const QSize &available)
{
    // Room for the window frame and a panel: nine tenths of the area at most.
    const QSize preferred(1100, 720);
    return preferred.boundedTo(QSize(available.width() * 9 / 10, available.height() * 9 / 10))
        .expandedTo(QSize(480, 360));
}

void MainWindow::fitToScreen()
{
    // A geometry saved on a bigger screen (or at another scale) must not put buttons off-screen.
    const QScreen *screen = QGuiApplication::primaryScreen();
    if (!screen)
        return;
    const QRect area = screen->availableGeometry();
    if (area.isEmpty())
        return;
    if (width() > area.width() || height() > area.height())
        resize(initialSize(area.size()));
    if (!area.contains(geometry()))
        move(area.x() + std::max(0, (area.width() - width()) / 2),
            area.y() + std::max(0, (area.height() - height()) / 2));
}

void MainWindow::setOneRunOptions(const NetworkOptions &options)
{
    m_oneRun = options;
    // Every shared option (--stun, --port, --dht, --accept-friends, ...) through the one reader's
    // applyTo, so the window honours the same set as the CLI. The profile is fixed by now.
    NetworkOptions oneRun = options;
    oneRun.profileDir.reset();
    Settings effective = m_saved;
    oneRun.applyTo(&effective);
    // --turn replaces the profile's relays for this run only (the CLI saves its --turn; the
    // window, like for --stun, never does: m_saved keeps the stored list).
    if (oneRun.turnServers)
        effective.turnServers = *oneRun.turnServers;
    m_settings = effective;
}

MainWindow::~MainWindow() = default;

void MainWindow::buildUi()
{
    // Left: you, then the conversations.
    auto *sidebar = new QWidget;
    sidebar->setObjectName(QStringLiteral("sidebar"));
    m_myName = new QLabel(sidebar);
    m_myName->setObjectName(QStringLiteral("sidebarMyName"));
    m_myName->setTextFormat(Qt::PlainText);
    QFont big = m_myName->font();
    big.setBold(true);
    big.setPointSizeF(big.pointSizeF() * 1.15);
    m_myName->setFont(big);
    auto *copyCode = new QPushButton(tr("Copy my code"), sidebar);
    copyCode->setObjectName(QStringLiteral("sidebarCopyCode"));
    copyCode->setToolTip(tr("Copy your code, then send it to your friend (Ctrl+Shift+C)"));
    copyCode->setFlat(true);
    auto *me = new QHBoxLayout;
    me->setContentsMargins(0, 0, 0, 0);
    me->addWidget(m_myName, 1);
    me->addWidget(copyCode);
    m_conversations = new ConversationList(sidebar);
    auto *side = new QVBoxLayout(sidebar);
    side->setContentsMargins(10, 10, 6, 10);
    side->addLayout(me);
    side->addWidget(separator(sidebar));
    side->addWidget(sectionTitle(tr("Conversations"), sidebar));
    side->addWidget(m_conversations, 1);
    // Narrow windows give the conversation the space first; the sidebar can also collapse (F9).
    sidebar->setMinimumWidth(190);
    m_sidebar = sidebar;

    // Right, above the pages: notices and the status of what is shown.
    auto *main = new QWidget;
    main->setObjectName(QStringLiteral("conversationPane"));
    m_rightPane = main;
    m_notice = new NoticeBar(main);
    m_requests = new FriendRequestBar(main);
    m_banner = new StatusBanner(main);
    m_pages = new QStackedWidget(main);

    // The page to add a friend: obvious when there is none yet.
    m_addPage = new QWidget(m_pages);
    m_addPage->setObjectName(QStringLiteral("addFriendPage"));
    auto *addTitle = new QLabel(tr("Paste your friend's code"), m_addPage);
    addTitle->setObjectName(QStringLiteral("addFriendTitle"));
    QFont huge = addTitle->font();
    huge.setPointSizeF(huge.pointSizeF() * 1.5);
    huge.setBold(true);
    addTitle->setFont(huge);
    auto *addHint = new QLabel(
        tr("Your friend copies their code in Punchline and sends it to you (chat, e-mail). Paste "
           "it below and press Connect, while your friend does the same with your code."),
        m_addPage);
    addHint->setWordWrap(true);
    addHint->setForegroundRole(QPalette::PlaceholderText);
    m_connectBar = new ConnectBar(m_addPage);
    m_localPanel = new LocalInfoPanel(m_addPage);
    auto *addLayout = new QVBoxLayout(m_addPage);
    addLayout->setContentsMargins(12, 16, 12, 12);
    addLayout->addWidget(addTitle);
    addLayout->addWidget(addHint);
    addLayout->addSpacing(8);
    addLayout->addWidget(m_connectBar);
    addLayout->addSpacing(16);
    addLayout->addWidget(separator(m_addPage));
    addLayout->addWidget(sectionTitle(tr("You"), m_addPage));
    addLayout->addWidget(m_localPanel);
    addLayout->addStretch(1);
    // Scrolls rather than holding a short window (or the demo's stacked windows) taller.
    m_addScroll = new QScrollArea(m_pages);
    m_addScroll->setObjectName(QStringLiteral("addFriendScroll"));
    m_addScroll->setWidgetResizable(true);
    m_addScroll->setFrameShape(QFrame::NoFrame);
    m_addScroll->setHorizontalScrollBarPolicy(Qt::ScrollBarAlwaysOff);
    m_addScroll->setWidget(m_addPage);
    m_pages->addWidget(m_addScroll);

    // The conversation page: header with the friend's actions, the stream, the composer.
    m_chatPage = new QWidget(m_pages);
    m_chatPage->setObjectName(QStringLiteral("conversationPage"));
    m_chatTitle = new QLabel(m_chatPage);
    m_chatTitle->setObjectName(QStringLiteral("chatTitle"));
    m_chatTitle->setTextFormat(Qt::PlainText);
    QFont bold = m_chatTitle->font();
    bold.setBold(true);
    bold.setPointSizeF(bold.pointSizeF() * 1.2);
    m_chatTitle->setFont(bold);
    m_chatPresence = new QLabel(m_chatPage);
    m_chatPresence->setObjectName(QStringLiteral("chatPresence"));
    m_chatPresence->setTextFormat(Qt::PlainText);
    m_chatPresence->setForegroundRole(QPalette::PlaceholderText);
    // Long presence lines ("connected · lan · 5 ms · identity checked…") wrap: a label that
    // does not would make its text the window's minimum width once connected.
    m_chatPresence->setWordWrap(true);
    m_chatTitle->setWordWrap(true);
    m_friendConnect = new QPushButton(tr("Reconnect"), m_chatPage);
    m_friendConnect->setObjectName(QStringLiteral("friendConnectButton"));
    m_friendCancel = new QPushButton(tr("Stop"), m_chatPage);
    m_friendCancel->setObjectName(QStringLiteral("friendCancelButton"));
    m_friendCancel->setToolTip(tr("Stop trying to reach this friend"));
    m_friendDisconnect = new QPushButton(tr("Disconnect"), m_chatPage);
    m_friendDisconnect->setObjectName(QStringLiteral("friendDisconnectButton"));
    auto *titles = new QVBoxLayout;
    titles->setSpacing(0);
    titles->addWidget(m_chatTitle);
    titles->addWidget(m_chatPresence);
    auto *header = new QHBoxLayout;
    header->setContentsMargins(0, 0, 0, 0);
    header->addLayout(titles, 1);
    header->addWidget(m_friendConnect);
    header->addWidget(m_friendCancel);
    header->addWidget(m_friendDisconnect);

    m_chatView = new ChatView(m_chatPage);
    m_chatView->setObjectName(QStringLiteral("chatView"));
    m_chatView->setAccessibleName(tr("Conversation"));
    m_chatView->setPlaceholderText(
        tr("No messages yet.\n\nOnce you are connected, type below and press Enter. "
           "To send files or folders, drop them anywhere on this window."));

    m_chatInput = new ChatInput(m_chatPage);
    m_chatInput->setObjectName(QStringLiteral("chatInput"));
    m_chatInput->setAccessibleName(tr("Message"));
    m_sendButton = new QPushButton(tr("&Send"), m_chatPage);
    m_sendButton->setObjectName(QStringLiteral("sendButton"));
    m_sendButton->setToolTip(tr("Send the message (Enter; Shift+Enter starts a new line)"));
    m_fileButton = new QPushButton(tr("F&iles…"), m_chatPage);
    m_fileButton->setObjectName(QStringLiteral("sendFilesButton"));
    m_fileButton->setToolTip(tr(
        "Send files to this friend (Ctrl+O). You can also drop files or folders on the window."));
    auto *composer = new QHBoxLayout;
    composer->setContentsMargins(0, 0, 0, 0);
    composer->addWidget(m_chatInput, 1);
    auto *composerButtons = new QVBoxLayout;
    composerButtons->addWidget(m_sendButton);
    composerButtons->addWidget(m_fileButton);
    composerButtons->addStretch(1);
    composer->addLayout(composerButtons);

    auto *chatLayout = new QVBoxLayout(m_chatPage);
    chatLayout->setContentsMargins(0, 0, 0, 0);
    chatLayout->setSpacing(6);
    chatLayout->addLayout(header);
    chatLayout->addWidget(m_chatView, 1);
    chatLayout->addLayout(composer);
    m_pages->addWidget(m_chatPage);

    auto *right = new QVBoxLayout(main);
    right->setContentsMargins(6, 10, 10, 6);
    right->addWidget(m_requests);
    right->addWidget(m_notice);
    right->addWidget(m_banner);
    right->addWidget(m_pages, 1);

    auto *splitter = new QSplitter(Qt::Horizontal, this);
    splitter->setObjectName(QStringLiteral("mainSplitter"));
    splitter->addWidget(sidebar);
    splitter->addWidget(main);
    splitter->setStretchFactor(0, 0);
    splitter->setStretchFactor(1, 1);
    splitter->setCollapsible(0, true);
    splitter->setCollapsible(1, false);
    splitter->setSizes({ 280, 820 });
    m_splitter = splitter;
    setCentralWidget(splitter);

    // Tab in a conversation: you, the list, the messages (and their buttons), the message box,
    // Send, Files…, then the friend's header actions.
    QWidget::setTabOrder(copyCode, m_conversations->addButton());
    QWidget::setTabOrder(m_conversations->addButton(), m_conversations->list());
    QWidget::setTabOrder(m_conversations->list(), m_chatView);
    QWidget::setTabOrder(m_chatView, m_chatInput);
    QWidget::setTabOrder(m_chatInput, m_sendButton);
    QWidget::setTabOrder(m_sendButton, m_fileButton);
    QWidget::setTabOrder(m_fileButton, m_friendConnect);
    QWidget::setTabOrder(m_friendConnect, m_friendCancel);
    QWidget::setTabOrder(m_friendCancel, m_friendDisconnect);

    // Shown while files are dragged over the window: over the conversation, outside every layout
    // (a child of the splitter would become a third column and widen the window).
    m_dropOverlay = new QLabel(main);
    m_dropOverlay->setWordWrap(true);
    m_dropOverlay->setObjectName(QStringLiteral("dropOverlay"));
    m_dropOverlay->setAlignment(Qt::AlignCenter);
    m_dropOverlay->setTextFormat(Qt::PlainText);
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

    // Files dropped anywhere on this window make an offer, also over widgets that take drops
    // themselves (text boxes would insert the path): watch the drag events of the whole app and
    // keep those aimed at this window.
    qApp->installEventFilter(this);

    connect(copyCode, &QPushButton::clicked, m_localPanel, &LocalInfoPanel::copyCode);
    copyCode->setEnabled(false); // until there is a code
    connect(m_chatInput, &ChatInput::submitted, this, &MainWindow::submitChat);
    connect(m_sendButton, &QPushButton::clicked, this, &MainWindow::submitChat);
    connect(m_fileButton, &QPushButton::clicked, this, &MainWindow::sendFilesDialog);
    connect(m_chatInput, &QPlainTextEdit::textChanged, this, &MainWindow::updateActions);
    connect(m_chatInput, &QPlainTextEdit::textChanged, this, [this] {
        // Old news once the message fits (or the box was cleared).
        if (!m_tooLongText.isEmpty() && m_notice->isVisibleTo(this)
            && m_notice->text() == m_tooLongText
            && m_chatInput->toPlainText().toUtf8().size() <= Limits::ChatTextBytes) {
            m_notice->hide();
            m_tooLongText.clear();
        }
    });
    connect(m_requests, &FriendRequestBar::answered, this, &MainWindow::onRequestAnswered);
    connect(m_localPanel, &LocalInfoPanel::newCodeRequested, this, [this] {
        if (!m_node)
            return;
        onLogLine(tr("making a new code; the old one stops working"));
        statusBar()->showMessage(tr("Making a new code…"), 5000);
        m_node->newCode(); // localInfoReady brings it
    });
    connect(m_connectBar->field(), &QLineEdit::textChanged, this, &MainWindow::updateActions);
    connect(m_connectBar, &ConnectBar::connectRequested, this, &MainWindow::onConnectRequested);
    connect(m_connectBar, &ConnectBar::cancelRequested, this, [this] {
        if (m_node)
            m_node->cancelConnect({}); // the attempt by plain addresses
    });
    connect(m_connectBar, &ConnectBar::disconnectRequested, this, [this] {
        if (m_node)
            m_node->disconnectFriend({});
    });
    connect(m_friendConnect, &QPushButton::clicked, this, [this] { reconnectFriend(m_shown); });
    connect(m_friendCancel, &QPushButton::clicked, this, [this] {
        if (m_node && !m_shown.isEmpty())
            m_node->cancelConnect(m_shown);
    });
    connect(m_friendDisconnect, &QPushButton::clicked, this, [this] {
        if (m_node && !m_shown.isEmpty())
            m_node->disconnectFriend(m_shown);
    });
    connect(
        m_conversations, &ConversationList::friendSelected, this, &MainWindow::showConversation);
    connect(m_conversations, &ConversationList::friendChosen, this,
        [this](const QByteArray &fingerprint) {
            showConversation(fingerprint);
            m_chatInput->setFocus();
        });
    connect(
        m_conversations, &ConversationList::addFriendRequested, this, &MainWindow::showAddFriend);
    connect(
        m_conversations, &ConversationList::connectRequested, this, &MainWindow::reconnectFriend);
    connect(m_conversations, &ConversationList::cancelRequested, this,
        [this](const QByteArray &fingerprint) {
            if (m_node)
                m_node->cancelConnect(fingerprint);
        });
    connect(m_conversations, &ConversationList::disconnectRequested, this,
        [this](const QByteArray &fingerprint) {
            if (m_node)
                m_node->disconnectFriend(fingerprint);
        });
    connect(m_conversations, &ConversationList::forgetRequested, this,
        [this](const QByteArray &fingerprint) {
            const auto answer = QMessageBox::question(this, tr("Forget Friend"),
                tr("Forget %1? They leave your conversations; to talk again, paste their code. "
                   "Your messages with them stay on this computer.")
                    .arg(nameOf(fingerprint)));
            if (answer == QMessageBox::Yes)
                forgetFriend(fingerprint);
        });
    connect(m_conversations, &ConversationList::unreadChanged, this, [this] {
        updateTitle();
        refreshStatus();
    });
    connect(m_localPanel, &LocalInfoPanel::codeCopied, this, [this] {
        statusBar()->showMessage(
            tr("Your code is on the clipboard: send it to your friend."), 4000);
    });
    connect(m_localPanel, &LocalInfoPanel::codeShared, this, [this] {
        statusBar()->showMessage(
            tr("A message with your code is on the clipboard: paste it into a chat or an e-mail "
               "to your friend."),
            6000);
    });
    connect(m_chatView, &ChatView::acceptRequested, this,
        [this](const QString &id) { answerOffer(id, true); });
    connect(m_chatView, &ChatView::declineRequested, this,
        [this](const QString &id) { answerOffer(id, false); });
    connect(m_chatView, &ChatView::cancelRequested, this, [this](const QString &id) {
        if (m_node)
            m_node->cancelTransfer(m_transferOwner.value(id), id);
    });
    connect(m_chatView, &ChatView::openFolderRequested, this, [this](const QString &folder) {
        if (folder.isEmpty() || !QFileInfo(folder).isDir()) {
            m_notice->showNotice(
                NoticeBar::Kind::Warning, tr("The folder \"%1\" no longer exists.").arg(folder));
            return;
        }
        if (!QDesktopServices::openUrl(QUrl::fromLocalFile(folder)))
            m_notice->showNotice(NoticeBar::Kind::Info,
                tr("No file manager is set up to open folders. The files are in %1")
                    .arg(QDir::toNativeSeparators(folder)));
    });
    connect(m_chatView, &ChatView::openFileRequested, this, [this](const QString &path) {
        if (path.isEmpty() || !QFileInfo(path).isFile()) {
            m_notice->showNotice(
                NoticeBar::Kind::Warning, tr("The file \"%1\" no longer exists.").arg(path));
            return;
        }
        if (!QDesktopServices::openUrl(QUrl::fromLocalFile(path)))
            m_notice->showNotice(NoticeBar::Kind::Info,
                tr("No program is set up to open this file. It is %1")
                    .arg(QDir::toNativeSeparators(path)));
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
    m_quitAction = file->addAction(tr("&Quit"), this, &MainWindow::quitApp);
    m_quitAction->setObjectName(QStringLiteral("quitAction"));
    m_quitAction->setShortcut(QKeySequence::Quit);
    m_quitAction->setMenuRole(QAction::QuitRole);

    QMenu *friends = menuBar()->addMenu(tr("F&riends"));
    m_addFriendAction = friends->addAction(tr("&Add Friend…"), this, &MainWindow::showAddFriend);
    m_addFriendAction->setShortcut(QKeySequence::New);
    m_copyCodeAction
        = friends->addAction(tr("&Copy My Code"), m_localPanel, &LocalInfoPanel::copyCode);
    m_copyCodeAction->setObjectName(QStringLiteral("copyCodeAction"));
    m_copyCodeAction->setShortcut(QKeySequence(Qt::CTRL | Qt::SHIFT | Qt::Key_C));
    m_copyCodeAction->setShortcutContext(Qt::WindowShortcut);
    m_shareCodeAction
        = friends->addAction(tr("S&hare My Code…"), m_localPanel, &LocalInfoPanel::shareCode);
    m_shareCodeAction->setObjectName(QStringLiteral("shareCodeAction"));
    m_pasteCodeAction = friends->addAction(tr("&Paste Friend's Code"), this, [this] {
        showAddFriend();
        m_connectBar->field()->setText(QGuiApplication::clipboard()->text().trimmed());
        m_connectBar->field()->setFocus();
    });
    m_pasteCodeAction->setShortcut(QKeySequence(Qt::CTRL | Qt::SHIFT | Qt::Key_V));
    friends->addSeparator();
    m_connectAction = friends->addAction(
        tr("Co&nnect / Reconnect"), this, [this] { reconnectFriend(m_shown); });
    m_cancelAction = friends->addAction(tr("S&top Connecting"), this, [this] {
        if (!m_node)
            return;
        if (m_shown.isEmpty())
            m_node->cancelConnect({});
        else
            m_node->cancelConnect(m_shown);
    });
    m_cancelAction->setShortcut(QKeySequence(Qt::Key_Escape));
    m_cancelAction->setShortcutContext(Qt::WindowShortcut);
    m_disconnectAction = friends->addAction(tr("&Disconnect"), this, [this] {
        if (m_node && !m_shown.isEmpty())
            m_node->disconnectFriend(m_shown);
    });
    m_forgetAction = friends->addAction(tr("&Forget…"), this, [this] {
        if (!m_shown.isEmpty())
            Q_EMIT m_conversations->forgetRequested(m_shown);
    });

    QMenu *view = menuBar()->addMenu(tr("&View"));
    m_logAction = m_logDock->toggleViewAction();
    m_logAction->setText(tr("&Log"));
    m_logAction->setShortcut(QKeySequence(Qt::CTRL | Qt::Key_L));
    view->addAction(m_logAction);
    m_sidebarAction = view->addAction(tr("&Conversations"));
    m_sidebarAction->setObjectName(QStringLiteral("sidebarAction"));
    m_sidebarAction->setCheckable(true);
    m_sidebarAction->setChecked(true);
    m_sidebarAction->setShortcut(QKeySequence(Qt::Key_F9));
    m_sidebarAction->setToolTip(tr("Show or hide the conversations beside the chat (F9)"));
    connect(m_sidebarAction, &QAction::toggled, this, &MainWindow::setSidebarShown);
    connect(m_splitter, &QSplitter::splitterMoved, this, [this] {
        const QSignalBlocker block(m_sidebarAction);
        m_sidebarAction->setChecked(m_splitter->sizes().value(0) > 0);
    });

    QMenu *help = menuBar()->addMenu(tr("&Help"));
    QAction *how = help->addAction(tr("&How Punchline Works"), this, &MainWindow::showHowItWorks);
    how->setShortcut(QKeySequence::HelpContents);
    help->addAction(tr("&About Punchline"), this, &MainWindow::showAbout);
    help->addAction(tr("About &Qt"), qApp, &QApplication::aboutQt);
}

void MainWindow::buildTray()
{
    // The menu exists without a tray too (tests, and the same actions as the window's menus).
    m_trayMenu = new QMenu(this);
    m_trayMenu->setObjectName(QStringLiteral("trayMenu"));
    const auto showWindow = [this] {
        if (isHidden() || isMinimized())
            showNormal();
        raise();
        activateWindow();
    };
    m_trayMenu->addAction(tr("&Show Punchline"), this, showWindow);
    m_trayMenu->addSeparator();
    m_trayMenu->addAction(m_addFriendAction);
    m_trayMenu->addAction(m_copyCodeAction);
    m_trayMenu->addAction(m_shareCodeAction);
    m_trayMenu->addSeparator();
    m_trayMenu->addAction(m_quitAction);
    // "Add friend" from the tray also brings the window up.
    connect(m_addFriendAction, &QAction::triggered, this, showWindow);
    if (!QSystemTrayIcon::isSystemTrayAvailable())
        return;
    m_tray = new QSystemTrayIcon(IconFactory::appIcon(), this);
    m_tray->setContextMenu(m_trayMenu);
    connect(m_tray, &QSystemTrayIcon::activated, this,
        [this, showWindow](QSystemTrayIcon::ActivationReason reason) {
            if (reason != QSystemTrayIcon::Trigger && reason != QSystemTrayIcon::DoubleClick)
                return;
            if (isVisible() && isActiveWindow() && reason == QSystemTrayIcon::Trigger)
                hide(); // a click on the icon toggles the window, as in KDE Connect
            else
                showWindow();
        });
    connect(m_tray, &QSystemTrayIcon::messageClicked, this, showWindow);
    m_tray->show();
}

void MainWindow::connectNode()
{
    if (!m_node)
        return;
    connect(m_node, &Node::stateChanged, this, &MainWindow::onStateChanged);
    connect(m_node, &Node::localInfoReady, this, &MainWindow::onLocalInfo);
    connect(m_node, &Node::friendsChanged, this, &MainWindow::onFriendsChanged);
    connect(m_node, &Node::friendStateChanged, this, &MainWindow::onFriendStateChanged);
    connect(m_node, &Node::connectProgress, this, &MainWindow::onProgress);
    connect(m_node, &Node::connected, this, &MainWindow::onConnected);
    connect(m_node, &Node::disconnected, this, &MainWindow::onDisconnected);
    connect(m_node, &Node::errorOccurred, this, &MainWindow::onError);
    connect(m_node, &Node::chatReceived, this, &MainWindow::onChatReceived);
    connect(m_node, &Node::chatDelivered, this, &MainWindow::onChatDelivered);
    connect(m_node, &Node::rttMeasured, this, &MainWindow::onRtt);
    connect(m_node, &Node::transferUpdated, this, &MainWindow::onTransferUpdated);
    connect(m_node, &Node::logLine, this, &MainWindow::onLogLine);
    connect(m_node, &Node::friendRequest, this, &MainWindow::onFriendRequest);
    connect(m_node, &Node::friendRequestExpired, m_requests, &FriendRequestBar::removeRequest);
}

void MainWindow::onFriendRequest(const FriendRequest &request)
{
    if (request.fingerprint.isEmpty())
        return;
    bool again = false;
    for (const FriendRequest &r : m_requests->pending())
        again = again || r.fingerprint == request.fingerprint;
    m_requests->addRequest(request);
    refreshStatus(); // the tray's tooltip counts waiting requests
    if (again)
        return; // asked again: the strip has it, no second notification
    onLogLine(
        tr("%1 asks to connect (fingerprint %2)")
            .arg(request.name.isEmpty() ? tr("someone") : MessageFormat::isolate(request.name),
                QString::fromLatin1(request.fingerprint.toHex())));
    if (!isActiveWindow()) {
        notify(FriendRequestBar::titleFor(request),
            tr("Someone who has your code asks to connect. Open Punchline to accept or decline."));
        QApplication::alert(this);
    }
}

void MainWindow::answerFriendRequest(const QByteArray &fingerprint, bool accept)
{
    const QList<FriendRequest> pending = m_requests->pending();
    for (const FriendRequest &r : pending) {
        if (r.fingerprint == fingerprint) {
            m_requests->removeRequest(fingerprint);
            onRequestAnswered(r, accept);
            return;
        }
    }
}

void MainWindow::onRequestAnswered(const FriendRequest &request, bool accept)
{
    const QByteArray &fingerprint = request.fingerprint;
    const QString who
        = request.name.isEmpty() ? tr("someone") : MessageFormat::isolate(request.name);
    onLogLine(accept ? tr("accepted the request of %1").arg(who)
                     : tr("declined the request of %1").arg(who));
    if (m_node)
        m_node->answerRequest(fingerprint, accept);
    refreshStatus();
    if (!accept)
        return;
    // The conversation exists from now on (as after pasting a code); friendsChanged confirms it.
    Friend &f = friendFor(fingerprint);
    if (!m_friendsKnown || !m_conversations->contains(fingerprint))
        f.provisional = true;
    if (f.info.name.isEmpty())
        f.info.name = request.name;
    f.info.via = FoundVia::Dht;
    f.info.state = State::Connecting;
    f.status.setTargetName(f.info.name);
    f.status.setState(State::Connecting);
    publishFriends();
    showConversation(fingerprint);
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
    showAddFriend();
    m_connectBar->field()->setText(codeOrAddresses);
    m_connectBar->requestConnect();
}

// ---------------------------------------------------------------------------------------------
// Friends and conversations

MainWindow::Friend &MainWindow::friendFor(const QByteArray &fingerprint)
{
    auto it = m_friends.find(fingerprint);
    if (it == m_friends.end()) {
        Friend f;
        f.info.fingerprint = fingerprint;
        if (m_history)
            f.info.name = m_history->peerName(fingerprint);
        it = m_friends.insert(fingerprint, f);
    }
    return *it;
}

QString MainWindow::plainNameOf(const QByteArray &fingerprint) const
{
    auto it = m_friends.constFind(fingerprint);
    if (it != m_friends.constEnd() && !it->info.name.isEmpty())
        return it->info.name;
    return QString();
}

QString MainWindow::nameOf(const QByteArray &fingerprint) const
{
    const QString name = plainNameOf(fingerprint);
    return name.isEmpty() ? tr("your friend") : MessageFormat::isolate(name);
}

bool MainWindow::reachable(const QByteArray &fingerprint) const
{
    if (fingerprint.isEmpty())
        return false;
    const State s = friendState(fingerprint);
    return s == State::Connected || s == State::Reconnecting;
}

State MainWindow::friendState(const QByteArray &fingerprint) const
{
    auto it = m_friends.constFind(fingerprint);
    return it == m_friends.constEnd() ? State::Idle : it->status.state();
}

const ConnectionStatus *MainWindow::friendStatus(const QByteArray &fingerprint) const
{
    auto it = m_friends.constFind(fingerprint);
    return it == m_friends.constEnd() ? nullptr : &it->status;
}

State MainWindow::state() const
{
    if (!m_shown.isEmpty())
        return friendState(m_shown);
    return m_deviceStatus.state();
}

bool MainWindow::isAddFriendShown() const
{
    return m_pages->currentWidget() == m_addScroll;
}

void MainWindow::publishFriends()
{
    QList<FriendInfo> infos;
    infos.reserve(m_friends.size());
    for (const Friend &f : std::as_const(m_friends))
        infos.append(f.info);
    const bool wasEmpty = m_conversations->count() == 0;
    m_conversations->setFriends(infos);
    // Last messages from the history for friends the list has not shown yet.
    if (m_history) {
        for (const FriendInfo &info : std::as_const(infos)) {
            const ConversationList::Entry *e = m_conversations->entry(info.fingerprint);
            if (!e || e->lastTime.isValid())
                continue;
            const QList<ChatMessage> last = m_history->messages(info.fingerprint, 1);
            if (!last.isEmpty())
                m_conversations->setLastActivity(info.fingerprint,
                    last.constFirst().outgoing
                        ? tr("You: %1").arg(firstLine(last.constFirst().text))
                        : firstLine(last.constFirst().text),
                    last.constFirst().time);
        }
    }
    // The first time friends are known: show the most recent conversation.
    if (wasEmpty && m_shown.isEmpty() && m_conversations->count() > 0
        && m_connectBar->field()->text().isEmpty() && !m_pendingAttempt)
        showConversation(m_conversations->order().constFirst());
}

void MainWindow::showConversation(const QByteArray &fingerprint)
{
    if (fingerprint.isEmpty()) {
        showAddFriend();
        return;
    }
    const bool same = fingerprint == m_shown && m_pages->currentWidget() == m_chatPage;
    m_shown = fingerprint;
    m_conversations->setCurrentFriend(fingerprint);
    m_pages->setCurrentWidget(m_chatPage);
    if (!same) {
        Friend &f = friendFor(fingerprint);
        m_chatView->setNames(m_localInfo.displayName, f.info.name);
        m_chatView->setConversation(
            m_history ? m_history->messages(fingerprint) : QList<ChatMessage>(), f.transfers);
        m_notice->hide();
    }
    // The keyboard goes to this conversation's message box, unless the user is browsing the
    // list with the arrow keys (a click or Enter there picks the conversation: friendChosen).
    if (!m_conversations->list()->hasFocus())
        m_chatInput->setFocus();
    updateChatHeader();
    refreshStatus();
    updateActions();
    updateTitle();
}

void MainWindow::showAddFriend()
{
    m_shown.clear();
    m_conversations->setCurrentFriend({});
    m_pages->setCurrentWidget(m_addScroll);
    m_connectBar->field()->setFocus();
    refreshStatus();
    updateActions();
    updateTitle();
}

void MainWindow::updateChatHeader()
{
    if (m_shown.isEmpty())
        return;
    const Friend &f = friendFor(m_shown);
    m_chatTitle->setText(MessageFormat::isolate(ConversationList::displayName(f.info)));
    QString presence = ConversationList::presenceText(f.info, QDateTime::currentDateTime());
    if (f.status.state() == State::Connected && f.status.rttMs() >= 0)
        presence += tr(" · %1 ms").arg(f.status.rttMs());
    // Only a session that was up has had its identity checked.
    if (f.info.lastSeen.isValid())
        presence += f.info.pinnedByCode ? tr(" · identity checked against their code")
                                        : tr(" · identity trusted on first use");
    else if (f.info.pinnedByCode)
        presence += tr(" · their identity will be checked against their code");
    const QString via = ConversationList::foundViaText(f.info);
    if (!via.isEmpty())
        presence += QStringLiteral(" · ") + via;
    m_chatPresence->setText(presence);
    const State s = f.status.state();
    const bool trying = isTrying(s);
    m_friendConnect->setText(f.info.lastSeen.isValid() ? tr("Reconnect") : tr("Connect"));
    m_friendConnect->setVisible(!trying && s != State::Connected);
    m_friendCancel->setVisible(trying);
    m_friendDisconnect->setVisible(s == State::Connected);
    m_chatView->setPeerPresent(s == State::Connected);
}

void MainWindow::reconnectFriend(const QByteArray &fingerprint)
{
    if (!m_node || fingerprint.isEmpty())
        return;
    m_notice->hide();
    Friend &f = friendFor(fingerprint);
    f.status.setTargetName(f.info.name);
    f.status.setState(State::Connecting);
    f.info.state = State::Connecting;
    publishFriends();
    if (m_shown != fingerprint)
        showConversation(fingerprint);
    else
        updateChatHeader();
    refreshStatus();
    onLogLine(tr("reconnecting to %1").arg(nameOf(fingerprint)));
    m_node->reconnectFriend(fingerprint);
}

void MainWindow::forgetFriend(const QByteArray &fingerprint)
{
    if (fingerprint.isEmpty())
        return;
    if (m_node)
        m_node->forgetFriend(fingerprint);
    m_friends.remove(fingerprint);
    publishFriends();
    if (m_shown == fingerprint) {
        if (m_conversations->count() > 0)
            showConversation(m_conversations->order().constFirst());
        else
            showAddFriend();
    }
}

void MainWindow::onConnectRequested(const QString &text, const QString &expectedName)
{
    if (!m_node)
        return;
    m_notice->hide();
    const PeerInput input = parsePeerInput(text);
    if (input.code && input.code->fingerprint.size() == PeerCode::FingerprintBytes) {
        // Pinned by the code: the conversation exists from now on.
        const QByteArray fingerprint = input.code->fingerprint;
        Friend &f = friendFor(fingerprint);
        if (!m_friendsKnown || !m_conversations->contains(fingerprint))
            f.provisional = true;
        if (f.info.name.isEmpty())
            f.info.name = expectedName;
        f.info.pinnedByCode = true;
        f.info.state = State::Connecting;
        f.status.setTargetName(f.info.name);
        f.status.setState(State::Connecting);
        m_connectBar->field()->clear();
        publishFriends();
        showConversation(fingerprint);
    } else {
        m_pendingAttempt = true;
        m_deviceStatus.setTargetName(QString());
        m_deviceStatus.setState(State::Connecting);
        m_connectBar->setState(State::Connecting);
        refreshStatus();
    }
    onLogLine(tr("connecting to %1")
                  .arg(expectedName.isEmpty() ? tr("the pasted addresses")
                                              : MessageFormat::isolate(expectedName)));
    m_node->connectToPeer(text);
}

// ---------------------------------------------------------------------------------------------
// Node signals

void MainWindow::onStateChanged(State state)
{
    if (!m_pendingAttempt || state == State::Failed || state == State::Discovering)
        m_deviceStatus.setState(state);
    if (!m_pendingAttempt)
        m_connectBar->setState(state);
    refreshStatus();
    updateActions();
}

void MainWindow::onLocalInfo(const LocalInfo &info)
{
    m_localInfo = info;
    m_connectBar->setOwnFingerprint(info.fingerprint);
    m_deviceStatus.setLocalNat(info.nat);
    for (Friend &f : m_friends)
        f.status.setLocalNat(info.nat);
    openHistory();
    setOwnName(info.displayName); // also the panel with the new code
    refreshStatus();
    updateActions(); // "Copy my code" works from the moment there is a code
    const bool defaultName = info.displayName.isEmpty()
        || info.displayName == QLatin1String("Friend"); // core's name when $USER is unset
    if (m_askForName && !m_askedForName && defaultName
        && !AppSettings(m_saved.profileDir).nameChosen()) {
        m_askedForName = true;
        QTimer::singleShot(0, this, &MainWindow::askForName);
    }
}

void MainWindow::setOwnName(const QString &name)
{
    m_localInfo.displayName = name;
    m_localPanel->setLocalInfo(m_localInfo);
    m_myName->setText(name.isEmpty() ? tr("You") : name);
    if (!m_shown.isEmpty())
        m_chatView->setNames(name, plainNameOf(m_shown));
    updateTitle();
}

void MainWindow::askForName()
{
    auto *dialog = new QDialog(this);
    dialog->setObjectName(QStringLiteral("firstStartDialog"));
    dialog->setAttribute(Qt::WA_DeleteOnClose);
    dialog->setWindowTitle(tr("Welcome to Punchline"));
    auto *question = new QLabel(
        tr("What name should your friends see? It goes with your code, and you can change it "
           "later in Settings."),
        dialog);
    question->setWordWrap(true);
    auto *field = new QLineEdit(dialog);
    field->setObjectName(QStringLiteral("firstStartName"));
    field->setMaxLength(64);
    field->setPlaceholderText(tr("Your name"));
    question->setBuddy(field);
    auto *buttons = new QDialogButtonBox(QDialogButtonBox::Ok | QDialogButtonBox::Cancel, dialog);
    buttons->button(QDialogButtonBox::Ok)->setEnabled(false);
    connect(field, &QLineEdit::textChanged, dialog, [buttons](const QString &text) {
        buttons->button(QDialogButtonBox::Ok)->setEnabled(!text.simplified().isEmpty());
    });
    connect(buttons, &QDialogButtonBox::accepted, dialog, &QDialog::accept);
    connect(buttons, &QDialogButtonBox::rejected, dialog, &QDialog::reject);
    auto *layout = new QVBoxLayout(dialog);
    layout->addWidget(question);
    layout->addWidget(field);
    layout->addWidget(buttons);
    connect(dialog, &QDialog::accepted, this, [this, field] {
        const QString name = field->text().simplified();
        if (name.isEmpty())
            return;
        AppSettings(m_saved.profileDir).setNameChosen();
        Settings chosen = m_saved;
        chosen.displayName = name;
        chosen.port = -1; // unchanged
        applySettings(chosen);
    });
    dialog->open();
    field->setFocus();
}

void MainWindow::onFriendsChanged(const QList<FriendInfo> &friends)
{
    openHistory();
    m_friendsKnown = true;
    QSet<QByteArray> listed;
    for (const FriendInfo &info : friends) {
        if (info.fingerprint.isEmpty())
            continue;
        listed.insert(info.fingerprint);
        Friend &f = friendFor(info.fingerprint);
        f.info = info;
        f.provisional = false;
        if (f.status.state() != info.state
            && !(info.state == State::Idle && f.status.state() == State::Idle))
            f.status.setState(info.state);
        f.status.setTargetName(info.name);
        if (m_history && !info.name.isEmpty())
            m_history->rememberPeer(info.fingerprint, info.name);
    }
    for (auto it = m_friends.begin(); it != m_friends.end();) {
        if (!listed.contains(it.key()) && !it->provisional)
            it = m_friends.erase(it);
        else
            ++it;
    }
    publishFriends();
    if (!m_shown.isEmpty() && !m_friends.contains(m_shown)) {
        if (m_conversations->count() > 0)
            showConversation(m_conversations->order().constFirst());
        else
            showAddFriend();
    }
    if (!m_shown.isEmpty()) {
        m_chatView->setNames(m_localInfo.displayName, plainNameOf(m_shown));
        updateChatHeader();
    }
    refreshStatus();
    updateActions();
    updateTitle();
}

void MainWindow::onFriendStateChanged(const QByteArray &peer, State state)
{
    if (peer.isEmpty()) {
        // The attempt by plain addresses, before TLS proved who answered.
        m_deviceStatus.setState(state);
        m_connectBar->setState(state);
        m_pendingAttempt = isTrying(state);
        refreshStatus();
        updateActions();
        return;
    }
    Friend &f = friendFor(peer);
    f.status.setState(state);
    f.info.state = state;
    if (state == State::Failed || state == State::Idle || state == State::Disconnected)
        f.provisional = f.provisional && m_conversations->contains(peer) && state != State::Failed;
    publishFriends();
    if (peer == m_shown)
        updateChatHeader();
    refreshStatus();
    updateActions();
    updateTitle();
}

void MainWindow::onProgress(const QByteArray &peer, const ConnectProgress &progress)
{
    if (peer.isEmpty())
        m_deviceStatus.setProgress(progress);
    else
        friendFor(peer).status.setProgress(progress);
    refreshStatus();
}

void MainWindow::onConnected(const QByteArray &peer, const ConnectionInfo &info)
{
    const QByteArray fingerprint = peer.isEmpty() ? info.peerFingerprint : peer;
    if (fingerprint.isEmpty())
        return;
    const bool fromAddPage = m_pendingAttempt && isAddFriendShown();
    if (m_pendingAttempt && (peer.isEmpty() || !m_conversations->contains(fingerprint))) {
        m_pendingAttempt = false;
        m_deviceStatus.setState(State::Ready);
        m_connectBar->setState(State::Ready);
        m_connectBar->field()->clear();
    }
    m_requests->removeRequest(fingerprint); // connected some other way: nothing to answer
    Friend &f = friendFor(fingerprint);
    f.info.via = info.via;
    f.status.setConnection(info);
    f.status.setTargetName(info.peerName);
    f.status.setState(State::Connected);
    f.info.state = State::Connected;
    f.info.pathKnown = true;
    f.info.path = info.path;
    f.info.remote = info.remote;
    f.info.pinnedByCode = info.peerPinnedByCode;
    f.info.lastSeen = QDateTime::currentDateTimeUtc();
    if (!info.peerName.isEmpty())
        f.info.name = info.peerName;
    if (m_history)
        m_history->rememberPeer(fingerprint, f.info.name);
    publishFriends();
    if (fromAddPage || (m_shown.isEmpty() && m_conversations->count() == 1))
        showConversation(fingerprint);
    if (m_shown == fingerprint) {
        m_notice->hide();
        m_chatView->setNames(m_localInfo.displayName, f.info.name);
        updateChatHeader();
        if (!focusWidget() || focusWidget() == m_connectBar->field())
            m_chatInput->setFocus();
    }
    if (!isActiveWindow())
        notify(tr("%1 is connected").arg(nameOf(fingerprint)),
            ConnectionStatus::pathDescription(info.path));
    refreshStatus();
    updateActions();
    updateTitle();
}

void MainWindow::onDisconnected(const QByteArray &peer, const Error &why)
{
    if (peer.isEmpty()) {
        m_deviceStatus.setDisconnectReason(why);
    } else {
        Friend &f = friendFor(peer);
        f.status.setDisconnectReason(why);
        f.info.lastError = why;
    }
    refreshStatus();
    updateActions();
}

void MainWindow::onError(const QByteArray &peer, const Error &error)
{
    onLogLine(peer.isEmpty() ? tr("error: %1").arg(error.message)
                             : tr("error with %1: %2").arg(nameOf(peer), error.message));
    if (peer.isEmpty()) {
        m_deviceStatus.setError(error);
        if (m_deviceStatus.state() == State::Failed && m_localInfo.code.isEmpty())
            m_localPanel->setFailed(MessageFormat::sentence(error.message));
        if (m_pendingAttempt) {
            m_pendingAttempt = false;
            m_connectBar->setState(m_localInfo.code.isEmpty() ? State::Discovering : State::Ready);
        }
        // A code that could not be used: its provisional conversation goes again.
        for (auto it = m_friends.begin(); it != m_friends.end();) {
            if (it->provisional
                && (error.code == ErrorCode::BadCode || error.code == ErrorCode::CodeChecksum
                    || error.code == ErrorCode::CodeVersion
                    || error.code == ErrorCode::ConnectedToSelf))
                it = m_friends.erase(it);
            else
                ++it;
        }
        publishFriends();
        if (!m_shown.isEmpty() && !m_friends.contains(m_shown))
            showAddFriend();
        if (m_deviceStatus.state() != State::Failed || !m_localInfo.code.isEmpty())
            showError(error);
        refreshStatus();
        return;
    }
    Friend &f = friendFor(peer);
    f.status.setError(error);
    f.info.lastError = error;
    refreshStatus(); // the banner first: showError says only what it does not
    if (peer == m_shown)
        showError(error);
}

void MainWindow::showError(const Error &error)
{
    if (error.code == ErrorCode::CodeChecksum || error.code == ErrorCode::CodeVersion) {
        m_notice->showNotice(NoticeBar::Kind::Warning, ConnectBar::problemText({}, error));
        return;
    }
    const QString next = ConnectionStatus::advice(error);
    const QString text = next.isEmpty()
        ? MessageFormat::sentence(error.message)
        : MessageFormat::sentence(error.message) + QLatin1Char(' ') + next;
    // The banner already explains this failure: once is enough.
    if (m_banner->isVisibleTo(this)
        && m_banner->detail().contains(MessageFormat::sentence(error.message)))
        return;
    const bool serious = error.code == ErrorCode::FileError || error.code == ErrorCode::DiskFull
        || error.code == ErrorCode::IdentityError || error.code == ErrorCode::PeerIdentityMismatch;
    m_notice->showNotice(serious ? NoticeBar::Kind::Error : NoticeBar::Kind::Warning, text);
}

void MainWindow::onChatReceived(const QByteArray &peer, const ChatMessage &message)
{
    if (peer.isEmpty())
        return;
    friendFor(peer);
    if (m_history)
        m_history->store(peer, message);
    const bool shown = peer == m_shown && m_pages->currentWidget() == m_chatPage;
    if (shown)
        m_chatView->appendMessage(message);
    m_conversations->noteIncoming(peer, firstLine(message.text), message.time);
    if (!isActiveWindow() || !shown) {
        // "Alice: hi" (the name isolated, so it cannot turn the line around).
        notify(tr("Message from %1").arg(nameOf(peer)),
            tr("%1: %2").arg(nameOf(peer), message.text.left(200)));
        if (!isActiveWindow())
            QApplication::alert(this);
    }
}

void MainWindow::onChatDelivered(const QByteArray &peer, const QString &id)
{
    if (m_history)
        m_history->markDelivered(peer, id);
    if (peer == m_shown)
        m_chatView->markDelivered(id);
}

void MainWindow::onRtt(const QByteArray &peer, int milliseconds)
{
    if (peer.isEmpty())
        return;
    friendFor(peer).status.setRtt(milliseconds);
    if (peer == m_shown) {
        updateChatHeader();
        refreshStatus();
    }
}

namespace {

bool sameFiles(const TransferInfo &a, const TransferInfo &b)
{
    if (a.total != b.total || a.files.size() != b.files.size())
        return false;
    for (qsizetype i = 0; i < a.files.size(); ++i) {
        if (a.files.at(i).relativePath != b.files.at(i).relativePath
            || a.files.at(i).size != b.files.at(i).size)
            return false;
    }
    return true;
}

} // namespace

void MainWindow::onTransferUpdated(const QByteArray &rawPeer, const TransferInfo &info)
{
    if (info.id.isEmpty() || m_superseded.contains(info.id))
        return;
    const QByteArray peer = rawPeer.isEmpty() ? m_transferOwner.value(info.id) : rawPeer;
    if (peer.isEmpty())
        return;
    Friend &f = friendFor(peer);
    m_transferOwner.insert(info.id, peer);
    bool isNew = true;
    QDateTime time = QDateTime::currentDateTime();
    for (ChatView::Transfer &t : f.transfers) {
        if (t.info.id == info.id) {
            t.info = info; // a resumed transfer is the same item continuing
            time = t.time;
            isNew = false;
        }
    }
    if (isNew && info.direction == TransferDirection::In && info.state == TransferState::Offered) {
        // The sender restarted and offers the same files again under a new id: the stopped
        // entry continues as this one (core keeps the part received), not "Failed" plus a new one.
        for (qsizetype i = 0; i < f.transfers.size(); ++i) {
            const TransferInfo &old = f.transfers.at(i).info;
            const bool unfinished
                = old.state == TransferState::Accepted || old.state == TransferState::Progress;
            if (old.direction == TransferDirection::In && unfinished && sameFiles(old, info)) {
                m_superseded.insert(old.id);
                if (peer == m_shown)
                    m_chatView->removeTransfer(old.id);
                f.transfers.removeAt(i);
                break;
            }
        }
    }
    if (isNew)
        f.transfers.append({ info, time });
    if (peer == m_shown) {
        // Keep the keyboard where the user works when the item's focused button goes away.
        TransferItem *item = m_chatView->transferItem(info.id);
        QWidget *focused = QApplication::focusWidget();
        const bool focusInItem = item && focused && item->isAncestorOf(focused);
        m_chatView->updateTransfer(info, time);
        if (focusInItem && (!focused->isVisible() || QApplication::focusWidget() != focused))
            m_chatInput->setFocus();
    }

    const bool in = info.direction == TransferDirection::In;
    const QString name = MessageFormat::isolate(info.name);
    const QString who = nameOf(peer);
    if (isNew && !in)
        m_conversations->setLastActivity(peer, tr("You offered %1").arg(name), time);
    if (in && info.state == TransferState::Offered && !f.notifiedOffers.contains(info.id)) {
        f.notifiedOffers.insert(info.id);
        onLogLine(tr("%1 offers %2 (%3)").arg(who, name, MessageFormat::size(info.total)));
        m_conversations->noteIncoming(peer, tr("Offers %1").arg(name), time);
        if (!isActiveWindow() || peer != m_shown) {
            notify(tr("%1 sends %2").arg(who, name),
                tr("%1 sends %2 (%n file(s), %3)", nullptr, int(info.files.size()))
                    .arg(who, name, MessageFormat::size(info.total)));
            if (!isActiveWindow())
                QApplication::alert(this);
        }
    } else if (in && info.state == TransferState::Done && (!isActiveWindow() || peer != m_shown)) {
        notify(tr("%1 sent %2").arg(who, name),
            tr("%1 sent %2, saved as %3")
                .arg(who, name, MessageFormat::isolate(TransferItem::shownName(info))));
    }
}

void MainWindow::onLogLine(const QString &line)
{
    m_log->appendPlainText(QTime::currentTime().toString(QStringLiteral("HH:mm:ss.zzz  ")) + line);
}

// ---------------------------------------------------------------------------------------------
// Chat

void MainWindow::submitChat()
{
    const QString text = m_chatInput->toPlainText();
    if (text.trimmed().isEmpty())
        return;
    if (!sendChatText(text).isEmpty())
        m_chatInput->clear();
    // Send turns disabled with the box empty: the keyboard stays for the next message.
    m_chatInput->setFocus();
}

QString MainWindow::sendChatText(const QString &rawText)
{
    // Trailing blank lines are a slip of the finger; leading spaces may be intentional.
    QString text = rawText;
    while (!text.isEmpty() && text.back().isSpace())
        text.chop(1);
    if (text.trimmed().isEmpty() || !m_node || m_shown.isEmpty())
        return QString();
    if (!reachable(m_shown)) {
        m_notice->showNotice(NoticeBar::Kind::Info,
            tr("You are not connected to %1: the message stays in the box "
               "and can be sent once you are connected.")
                .arg(nameOf(m_shown)));
        return QString();
    }
    const qsizetype bytes = text.toUtf8().size();
    if (bytes > Limits::ChatTextBytes) {
        m_tooLongText
            = tr("This message is too long (%1; at most %2). Send it as a file instead.")
                  .arg(MessageFormat::size(bytes), MessageFormat::size(Limits::ChatTextBytes));
        m_notice->showNotice(NoticeBar::Kind::Warning, m_tooLongText);
        return QString();
    }
    ChatMessage message;
    message.id = m_node->sendChat(m_shown, text);
    message.text = text;
    message.time = QDateTime::currentDateTime();
    message.outgoing = true;
    if (m_history)
        m_history->store(m_shown, message);
    m_chatView->appendMessage(message);
    m_conversations->setLastActivity(m_shown, tr("You: %1").arg(firstLine(text)), message.time);
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
    if (!reachable(m_shown)) {
        m_notice->showNotice(
            NoticeBar::Kind::Info, tr("Pick a connected friend first, then send the files again."));
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
        const QString id = m_node->sendPaths(m_shown, paths);
        if (!id.isEmpty())
            m_transferOwner.insert(id, m_shown);
        onLogLine(tr("offering %n item(s) to %1 as %2", nullptr, int(paths.size()))
                      .arg(nameOf(m_shown), id));
    }
    return true;
}

void MainWindow::answerOffer(const QString &transferId, bool accept)
{
    if (!m_node)
        return;
    const QByteArray peer = m_transferOwner.value(transferId);
    if (peer.isEmpty())
        return;
    if (accept && !reachable(peer)) {
        m_notice->showNotice(NoticeBar::Kind::Warning,
            tr("The connection to %1 is closed, so this offer cannot be accepted now. "
               "Reconnect and ask them to send it again.")
                .arg(nameOf(peer)));
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
    m_node->acceptTransfer(peer, transferId, accept);
    // The next thing typed is a reply ("thanks"), never a change to a friend's code.
    if (peer == m_shown && m_pages->currentWidget() == m_chatPage)
        m_chatInput->setFocus();
}

void MainWindow::sendFilesDialog()
{
    if (!reachable(m_shown)) {
        m_notice->showNotice(
            NoticeBar::Kind::Info, tr("Pick a connected friend first, then send files."));
        return;
    }
    const QStringList files = QFileDialog::getOpenFileNames(
        this, tr("Send Files to %1").arg(nameOf(m_shown)), QDir::homePath());
    if (!files.isEmpty())
        sendPaths(files);
}

void MainWindow::sendFolderDialog()
{
    if (!reachable(m_shown)) {
        m_notice->showNotice(
            NoticeBar::Kind::Info, tr("Pick a connected friend first, then send a folder."));
        return;
    }
    const QString folder = QFileDialog::getExistingDirectory(
        this, tr("Send a Folder to %1").arg(nameOf(m_shown)), QDir::homePath());
    if (!folder.isEmpty())
        sendPaths({ folder });
}

void MainWindow::showDropOverlay(bool show)
{
    if (show) {
        m_dropOverlay->setText(reachable(m_shown) ? tr("Drop to send to %1").arg(nameOf(m_shown))
                                                  : tr("Pick a connected friend first"));
        m_dropOverlay->setGeometry(m_rightPane->rect());
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

QString MainWindow::trayToolTip() const
{
    QStringList unread;
    int connected = 0;
    for (const QByteArray &fingerprint : m_conversations->order()) {
        const int n = m_conversations->unreadCount(fingerprint);
        if (n > 0)
            unread << tr("%1 (%2)").arg(nameOf(fingerprint)).arg(n);
        connected += friendState(fingerprint) == State::Connected ? 1 : 0;
    }
    QString text = tr("Punchline: %n friend(s) connected", nullptr, connected);
    if (!unread.isEmpty())
        text += QLatin1Char('\n') + tr("Unread: %1").arg(unread.join(QStringLiteral(", ")));
    if (const int waiting = int(m_requests->pending().size()); waiting > 0)
        text += QLatin1Char('\n') + tr("%n friend request(s) waiting", nullptr, waiting);
    return text;
}

void MainWindow::refreshStatus()
{
    const ConnectionStatus *shown = m_shown.isEmpty() ? nullptr : friendStatus(m_shown);
    const ConnectionStatus &status = shown ? *shown : m_deviceStatus;
    m_banner->showStatus(status);
    // The banner says what matters: hidden while the friend shown is simply connected (the
    // header says so) or offline without news.
    const State s = status.state();
    // On the add page, a device that is simply ready needs no banner: the page says what to do.
    m_banner->setVisible(shown ? (s != State::Connected && s != State::Idle) : s != State::Ready);
    // Said once: a notice repeating what the banner now explains goes (either may come first).
    if (m_banner->isVisibleTo(this) && m_notice->isVisibleTo(this) && !m_banner->detail().isEmpty()
        && m_banner->detail().contains(m_notice->text()))
        m_notice->hide();
    int connected = 0;
    for (const Friend &f : std::as_const(m_friends))
        connected += f.status.state() == State::Connected ? 1 : 0;
    QString text = status.shortText();
    if (connected > 1 || (connected == 1 && s != State::Connected))
        text += QStringLiteral(" · ") + tr("%n friend(s) connected", nullptr, connected);
    m_statusText->setText(text);
    if (m_tray)
        m_tray->setToolTip(trayToolTip());
}

void MainWindow::updateActions()
{
    const bool onChat = !m_shown.isEmpty() && m_pages->currentWidget() == m_chatPage;
    const bool canSend = onChat && reachable(m_shown);
    const State s = onChat ? friendState(m_shown) : m_deviceStatus.state();
    m_sendFilesAction->setEnabled(canSend);
    m_sendFolderAction->setEnabled(canSend);
    m_fileButton->setEnabled(canSend);
    m_sendButton->setEnabled(canSend && !m_chatInput->toPlainText().trimmed().isEmpty());
    QString placeholder;
    if (canSend)
        placeholder
            = tr("Message %1 (Enter sends, Shift+Enter for a new line)").arg(nameOf(m_shown));
    else if (onChat)
        placeholder = friendFor(m_shown).info.lastSeen.isValid()
            ? tr("%1 is not connected: reconnect to chat").arg(nameOf(m_shown))
            : tr("%1 is not connected yet: connect to chat").arg(nameOf(m_shown));
    if (m_chatInput->placeholderText() != placeholder) {
        m_chatInput->setPlaceholderText(placeholder);
        m_chatInput->viewport()->update(); // QPlainTextEdit does not repaint for a new placeholder
    }
    m_copyCodeAction->setEnabled(!m_localInfo.code.isEmpty());
    m_shareCodeAction->setEnabled(!m_localInfo.code.isEmpty());
    if (auto *copy = findChild<QPushButton *>(QStringLiteral("sidebarCopyCode")))
        copy->setEnabled(!m_localInfo.code.isEmpty());
    m_connectAction->setEnabled(onChat && !isTrying(s) && s != State::Connected);
    m_cancelAction->setEnabled(isTrying(s));
    m_disconnectAction->setEnabled(onChat && (s == State::Connected || s == State::Reconnecting));
    m_forgetAction->setEnabled(onChat);
}

void MainWindow::updateTitle()
{
    QString title = QStringLiteral("Punchline");
    if (!m_localInfo.displayName.isEmpty())
        title = tr("%1 — Punchline").arg(m_localInfo.displayName);
    if (!m_shown.isEmpty() && m_pages->currentWidget() == m_chatPage)
        title = tr("%1 ⇄ %2 — Punchline").arg(m_localInfo.displayName, nameOf(m_shown));
    const int unread = m_conversations->totalUnread();
    if (unread > 0)
        title = QStringLiteral("(%1) %2").arg(unread).arg(title);
    setWindowTitle(title);
}

void MainWindow::updateIcons()
{
    const QPalette pal = palette();
    m_sendButton->setIcon(IconFactory::glyph(QStringLiteral("send"), pal));
    m_fileButton->setIcon(IconFactory::glyph(QStringLiteral("attach"), pal));
    m_friendConnect->setIcon(IconFactory::glyph(QStringLiteral("reconnect"), pal));
    m_friendCancel->setIcon(IconFactory::glyph(QStringLiteral("cancel"), pal));
    m_friendDisconnect->setIcon(IconFactory::glyph(QStringLiteral("disconnect"), pal));
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

bool MainWindow::closesToTray() const
{
    return m_tray && m_tray->isVisible() && m_closeToTray;
}

int MainWindow::runningTransferCount() const
{
    int running = 0;
    for (const Friend &f : m_friends) {
        for (const ChatView::Transfer &t : f.transfers) {
            if (m_superseded.contains(t.info.id))
                continue;
            const TransferState st = t.info.state;
            running += (st == TransferState::Accepted || st == TransferState::Progress) ? 1 : 0;
        }
    }
    return running;
}

bool MainWindow::confirmQuit()
{
    const int running = runningTransferCount();
    if (running == 0)
        return true;
    QMessageBox box(QMessageBox::Warning, tr("Quit Punchline?"),
        tr("%n transfer(s) still running. Quitting stops them; when you start Punchline again "
           "and your friend sends again, they continue where they stopped.",
            nullptr, running),
        QMessageBox::NoButton, this);
    box.setObjectName(QStringLiteral("quitQuestion"));
    QPushButton *quit = box.addButton(tr("&Quit"), QMessageBox::DestructiveRole);
    quit->setObjectName(QStringLiteral("quitAnyway"));
    QPushButton *stay = box.addButton(tr("&Keep Running"), QMessageBox::RejectRole);
    stay->setObjectName(QStringLiteral("keepRunning"));
    box.setDefaultButton(stay);
    box.setEscapeButton(stay);
    box.exec();
    return box.clickedButton() == quit;
}

void MainWindow::quitApp()
{
    m_quitting = true;
    if (!close()) {
        m_quitting = false;
        return;
    }
    qApp->quit(); // the tray and other windows (the demo) go too
}

void MainWindow::closeEvent(QCloseEvent *event)
{
    AppSettings(m_saved.profileDir).saveWindow(saveGeometry(), saveState());
    if (!m_quitting && closesToTray()) {
        // Like Signal Desktop and KDE Connect: friends can still reach you; Quit ends it.
        hide();
        event->ignore();
        if (!m_trayHintShown) {
            m_trayHintShown = true;
            notify(tr("Punchline is still running"),
                tr("Friends can still reach you. To quit, use Quit in the tray icon's menu "
                   "(Settings can turn this off)."));
        }
        return;
    }
    if (!confirmQuit()) {
        event->ignore();
        return;
    }
    if (m_tray)
        m_tray->hide();
    QMainWindow::closeEvent(event);
}

void MainWindow::setSidebarShown(bool shown)
{
    QList<int> sizes = m_splitter->sizes();
    const int total = sizes.value(0) + sizes.value(1);
    const int side = shown ? std::clamp(total * 3 / 10, m_sidebar->minimumWidth(), 300) : 0;
    m_splitter->setSizes({ side, total - side });
    const QSignalBlocker block(m_sidebarAction);
    m_sidebarAction->setChecked(shown);
}

void MainWindow::resizeEvent(QResizeEvent *event)
{
    QMainWindow::resizeEvent(event);
    // The conversation gets the space first: a sidebar wider than three tenths of a narrow
    // window gives way (down to its minimum; F9 or the splitter hide it completely). After the
    // splitter has its new size.
    QTimer::singleShot(0, this, [this] {
        const QList<int> sizes = m_splitter->sizes();
        const int total = sizes.value(0) + sizes.value(1);
        const int side = std::max(total * 3 / 10, m_sidebar->minimumWidth());
        if (sizes.value(0) > 0 && side < sizes.value(0))
            m_splitter->setSizes({ side, total - side });
    });
    if (m_dropOverlay->isVisible())
        m_dropOverlay->setGeometry(m_rightPane->rect());
}

void MainWindow::notify(const QString &title, const QString &text)
{
    if (m_tray && m_tray->isVisible())
        m_tray->showMessage(title, text, IconFactory::appIcon(), 6000);
    Q_EMIT notificationShown(title, text);
}

void MainWindow::openSettings()
{
    Settings current = m_saved;
    // The name and the port are the profile's: shown as the engine reports them.
    current.displayName = m_localInfo.displayName;
    current.port = m_localInfo.port;
    SettingsDialog dialog(current, this);
    dialog.setCloseToTray(m_closeToTray, m_tray != nullptr);
    QStringList oneRun;
    if (m_oneRun.port)
        oneRun << QStringLiteral("--port");
    if (m_oneRun.stunServers)
        oneRun << QStringLiteral("--stun");
    if (m_oneRun.ipEchoUrl)
        oneRun << QStringLiteral("--ip-echo");
    if (m_oneRun.turnServers)
        oneRun << QStringLiteral("--turn");
    if (m_oneRun.dht || m_oneRun.dhtBootstrap)
        oneRun << QStringLiteral("--dht");
    if (m_oneRun.dhtPort)
        oneRun << QStringLiteral("--dht-port");
    if (m_oneRun.dhtLocalDiscovery)
        oneRun << QStringLiteral("--dht-local-discovery");
    if (m_oneRun.acceptFriends)
        oneRun << QStringLiteral("--accept-friends");
    if (m_oneRun.inviteLifetimeSeconds)
        oneRun << QStringLiteral("--invite-lifetime");
    if (m_oneRun.inviteSingleUse)
        oneRun << QStringLiteral("--invite-single-use");
    if (!oneRun.isEmpty())
        dialog.setOneRunNote(tr("This run uses %1 from the command line. The values shown here "
                                "are your saved ones; the command line's are not saved.")
                                 .arg(oneRun.join(QStringLiteral(", "))));
    if (dialog.exec() != QDialog::Accepted)
        return;
    if (m_tray && dialog.closeToTray() != m_closeToTray) {
        m_closeToTray = dialog.closeToTray();
        AppSettings(m_saved.profileDir).setCloseToTray(m_closeToTray);
    }
    applySettings(dialog.settings());
}

bool MainWindow::applySettings(const Settings &chosen)
{
    // Compared with what is saved, not with this run's command-line choices.
    const bool discoveryChanged = chosen.stunServers != m_saved.stunServers
        || chosen.ipEchoUrl != m_saved.ipEchoUrl || chosen.portMapping != m_saved.portMapping;
    const bool finderChanged = chosen.dht != m_saved.dht
        || chosen.dhtBootstrap != m_saved.dhtBootstrap
        || chosen.dhtLocalDiscovery != m_saved.dhtLocalDiscovery;
    const bool relaysChanged = chosen.turnServers != m_saved.turnServers;
    // Only a changed list is written: a turn.json that could not be read stays as it is.
    Error turnError;
    if (relaysChanged
        && !AppSettings(m_saved.profileDir).saveTurnServers(chosen.turnServers, &turnError)) {
        m_notice->showNotice(NoticeBar::Kind::Error,
            tr("The relay servers could not be saved (%1); nothing was changed.")
                .arg(turnError.message));
        return false;
    }
    if (!AppSettings(m_saved.profileDir).save(chosen)) {
        m_notice->showNotice(NoticeBar::Kind::Error,
            tr("The settings could not be saved to %1; nothing was changed.")
                .arg(QDir::toNativeSeparators(AppSettings(m_saved.profileDir).path())));
        return false;
    }
    const QString name = chosen.displayName.simplified();
    const bool nameChanged = !name.isEmpty() && name != m_localInfo.displayName;
    const bool portChanged = chosen.port >= 0 && chosen.port != int(m_localInfo.port);
    Settings saved = chosen;
    saved.profileDir = m_saved.profileDir;
    saved.displayName = m_saved.displayName; // the profile's
    saved.port = m_saved.port;
    saved.localAddresses = m_saved.localAddresses;
    m_saved = saved;
    setOneRunOptions(m_oneRun); // this run keeps its command-line choices
    if (m_node) {
        // Core's profile owns the name and the port: empty name and port -1 keep them.
        Settings update = m_settings;
        update.displayName = nameChanged ? name : QString();
        update.port = portChanged ? chosen.port : -1;
        m_node->updateSettings(update);
    }
    if (nameChanged)
        setOwnName(name); // the engine confirms with localInfoReady
    // Say what changed, and only that.
    QStringList later;
    if (portChanged)
        later << tr("the new port");
    if (discoveryChanged)
        later << tr("the new address discovery settings");
    if (relaysChanged)
        later << tr("the new relay servers");
    if (finderChanged)
        later << tr("the new friend finder settings");
    if (!later.isEmpty()) {
        QString what = later.join(tr(" and "));
        what[0] = what.at(0).toUpper();
        m_notice->showNotice(
            NoticeBar::Kind::Info, tr("Saved. %1 apply the next time Punchline starts.").arg(what));
    } else if (nameChanged) {
        statusBar()->showMessage(
            tr("Saved. Connected friends now see you as %1.").arg(MessageFormat::isolate(name)),
            5000);
    } else {
        statusBar()->showMessage(tr("Settings saved."), 3000);
    }
    return true;
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
           "2. Press \"Add friend\", paste your friend's code and press Connect. Your friend does "
           "the same with yours, at about the same time.\n"
           "3. Punchline opens a path through both routers and connects you directly. Then chat, "
           "or drop files and folders on the window to send them.\n\n"
           "Every friend has a conversation on the left; several can be connected at once. Next "
           "time, pick a friend and press Reconnect."));
}

} // namespace Punchline
