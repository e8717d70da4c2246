#include "settingsdialog.h"

#include "common/hostport.h"
#include "reach/turnclient.h"
#include "reach/turnstore.h"
#include "stuncheck.h"

#include <QCheckBox>
#include <QComboBox>
#include <QDialogButtonBox>
#include <QDir>
#include <QFileDialog>
#include <QFileInfo>
#include <QFormLayout>
#include <QHBoxLayout>
#include <QLabel>
#include <QLineEdit>
#include <QPlainTextEdit>
#include <QPushButton>
#include <QSpinBox>
#include <QTemporaryFile>
#include <QUrl>
#include <QVBoxLayout>

#include <algorithm>

namespace Punchline {

SettingsDialog::SettingsDialog(const Settings &current, QWidget *parent)
    : QDialog(parent)
    , m_settings(current)
    , m_name(new QLineEdit(this))
    , m_downloadDir(new QLineEdit(this))
    , m_port(new QSpinBox(this))
    , m_stun(new QPlainTextEdit(this))
    , m_ipEchoEnabled(
          new QCheckBox(tr("&Ask a web service for my public address if STUN finds nothing"), this))
    , m_ipEchoUrl(new QLineEdit(this))
    , m_portMapping(
          new QCheckBox(tr("Ask my router to open a p&ort for Punchline (UPnP / NAT-PMP)"), this))
    , m_keepalive(new QSpinBox(this))
    , m_dht(new QCheckBox(
          tr("Use the friend finde&r: friends find you with one code and reconnect by themselves"),
          this))
    , m_dhtBootstrap(new QPlainTextEdit(this))
    , m_dhtLocal(new QCheckBox(
          tr("Find friends on this &local network too (works without Internet)"), this))
    , m_acceptFriends(new QComboBox(this))
    , m_turn(new QPlainTextEdit(this))
    , m_closeToTray(new QCheckBox(
          tr("&Closing the window keeps Punchline running in the tray, so friends can reach you"),
          this))
    , m_oneRunNote(new QLabel(this))
    , m_error(new QLabel(this))
{
    setWindowTitle(tr("Punchline Settings"));
    setObjectName(QStringLiteral("settingsDialog"));

    m_name->setObjectName(QStringLiteral("displayNameField"));
    m_name->setText(current.displayName);
    m_name->setMaxLength(64);
    m_name->setPlaceholderText(tr("the name your friends see"));
    m_downloadDir->setObjectName(QStringLiteral("downloadDirField"));
    m_downloadDir->setText(QDir::toNativeSeparators(current.downloadDir));
    auto *browse = new QPushButton(tr("&Browse…"), this);
    connect(browse, &QPushButton::clicked, this, &SettingsDialog::browseDownloadDir);
    auto *downloadRow = new QHBoxLayout;
    downloadRow->addWidget(m_downloadDir, 1);
    downloadRow->addWidget(browse);

    m_port->setObjectName(QStringLiteral("portField"));
    m_port->setRange(0, 65535);
    m_port->setSpecialValueText(tr("Automatic (keeps the same port between runs)"));
    m_port->setValue(current.port > 0 ? current.port : 0);
    auto *portNote = new QLabel(
        tr("Saved in your profile; a new port takes effect the next time Punchline starts."), this);
    portNote->setObjectName(QStringLiteral("portNote"));
    portNote->setWordWrap(true);
    portNote->setForegroundRole(QPalette::PlaceholderText);

    m_stun->setObjectName(QStringLiteral("stunField"));
    m_stun->setPlainText(current.stunServers.join(QLatin1Char('\n')));
    m_stun->setTabChangesFocus(true);
    m_stun->setPlaceholderText(tr("host:port, one per line; empty turns STUN off"));
    m_stun->setFixedHeight(m_stun->fontMetrics().lineSpacing() * 4 + 12);
    auto *stunDefaults = new QPushButton(tr("Use the &default servers"), this);
    connect(stunDefaults, &QPushButton::clicked, this,
        [this] { m_stun->setPlainText(Settings::defaultStunServers().join(QLatin1Char('\n'))); });

    m_portMapping->setObjectName(QStringLiteral("portMappingEnabled"));
    m_portMapping->setChecked(current.portMapping);
    m_portMapping->setToolTip(tr("Lets friends behind strict routers reach you directly. The "
                                 "port is closed again when Punchline quits."));
    m_ipEchoEnabled->setObjectName(QStringLiteral("ipEchoEnabled"));
    m_ipEchoEnabled->setChecked(!current.ipEchoUrl.isEmpty());
    m_ipEchoUrl->setObjectName(QStringLiteral("ipEchoField"));
    m_ipEchoUrl->setText(
        current.ipEchoUrl.isEmpty() ? Settings::defaultIpEchoUrl() : current.ipEchoUrl);
    m_ipEchoUrl->setEnabled(m_ipEchoEnabled->isChecked());
    connect(m_ipEchoEnabled, &QCheckBox::toggled, m_ipEchoUrl, &QWidget::setEnabled);

    m_keepalive->setObjectName(QStringLiteral("keepaliveField"));
    m_keepalive->setRange(5, 600);
    m_keepalive->setSuffix(tr(" s"));
    m_keepalive->setValue(current.keepaliveIntervalMs / 1000);
    m_keepalive->setToolTip(
        tr("How often a small packet keeps your router's path open and measures the round trip"));

    m_dht->setObjectName(QStringLiteral("dhtEnabled"));
    m_dht->setChecked(current.dht);
    m_dht->setToolTip(tr("Through the public OpenDHT network, encrypted so only you and your "
                         "friends can read it. Off: both of you paste each other's code."));
    m_dhtBootstrap->setObjectName(QStringLiteral("dhtBootstrapField"));
    m_dhtBootstrap->setPlainText(current.dhtBootstrap.join(QLatin1Char('\n')));
    m_dhtBootstrap->setTabChangesFocus(true);
    m_dhtBootstrap->setPlaceholderText(
        tr("host:port, one per line; empty: only computers on this network"));
    m_dhtBootstrap->setFixedHeight(m_dhtBootstrap->fontMetrics().lineSpacing() * 3 + 12);
    auto *dhtDefaults = new QPushButton(tr("Use &the default nodes"), this);
    dhtDefaults->setObjectName(QStringLiteral("dhtDefaultsButton"));
    connect(dhtDefaults, &QPushButton::clicked, this, [this] {
        m_dhtBootstrap->setPlainText(Settings::defaultDhtBootstrap().join(QLatin1Char('\n')));
    });
    m_dhtLocal->setObjectName(QStringLiteral("dhtLocalDiscovery"));
    m_dhtLocal->setChecked(current.dhtLocalDiscovery);
    m_acceptFriends->setObjectName(QStringLiteral("acceptFriendsField"));
    m_acceptFriends->addItem(tr("Ask me"), int(AcceptPolicy::Ask));
    m_acceptFriends->addItem(tr("Accept everyone who has my code"), int(AcceptPolicy::All));
    m_acceptFriends->addItem(tr("Decline everyone (only codes I paste)"), int(AcceptPolicy::None));
    m_acceptFriends->setCurrentIndex(
        std::max(0, m_acceptFriends->findData(int(current.acceptFriends))));
    m_acceptFriends->setToolTip(
        tr("What happens when someone who has your code asks to connect through the friend "
           "finder"));
    auto enableFinder = [this, dhtDefaults](bool on) {
        m_dhtBootstrap->setEnabled(on);
        dhtDefaults->setEnabled(on);
        m_dhtLocal->setEnabled(on);
        m_acceptFriends->setEnabled(on);
    };
    enableFinder(current.dht);
    connect(m_dht, &QCheckBox::toggled, this, enableFinder);

    // TURN relays: plain text, like the other lists; the file they go to is owner-only.
    m_turn->setObjectName(QStringLiteral("turnField"));
    m_turn->setPlainText(current.turnServers.join(QLatin1Char('\n')));
    m_turn->setTabChangesFocus(true);
    m_turn->setPlaceholderText(tr("turn:USER:PASSWORD@HOST:PORT, one per line; empty: no relay"));
    m_turn->setFixedHeight(m_turn->fontMetrics().lineSpacing() * 3 + 12);
    m_turn->setToolTip(tr("Used when no direct path to a friend works. The relay only passes "
                          "on encrypted bytes; one of you having a relay is enough."));
    auto *turnNote = new QLabel(
        tr("Kept in %1 in your profile, readable only by you (not in punchline.ini). Run your "
           "own for your friends: on a server, apt install coturn, then turnserver "
           "--lt-cred-mech --user NAME:PASSWORD (see the README).")
            .arg(QString::fromLatin1(TurnStore::FileName)),
        this);
    turnNote->setObjectName(QStringLiteral("turnNote"));
    turnNote->setWordWrap(true);
    turnNote->setForegroundRole(QPalette::PlaceholderText);

    m_closeToTray->setObjectName(QStringLiteral("closeToTray"));
    m_closeToTray->setChecked(true);
    m_closeToTray->hide();
    m_oneRunNote->setObjectName(QStringLiteral("oneRunNote"));
    m_oneRunNote->setTextFormat(Qt::PlainText);
    m_oneRunNote->setWordWrap(true);
    m_oneRunNote->hide();

    m_error->setObjectName(QStringLiteral("settingsError"));
    m_error->setTextFormat(Qt::PlainText);
    m_error->setWordWrap(true);
    m_error->hide();

    auto *form = new QFormLayout;
    auto addRow = [form](const QString &text, QWidget *field, QLayout *layout = nullptr) {
        auto *label = new QLabel(text);
        label->setBuddy(field);
        if (layout)
            form->addRow(label, layout);
        else
            form->addRow(label, field);
    };
    addRow(tr("Display &name:"), m_name);
    addRow(tr("Download &folder:"), m_downloadDir, downloadRow);
    addRow(tr("&Port:"), m_port);
    form->addRow(QString(), portNote);
    addRow(tr("&STUN servers:"), m_stun);
    form->addRow(QString(), stunDefaults);
    form->addRow(QString(), m_ipEchoEnabled);
    addRow(tr("IP echo &URL:"), m_ipEchoUrl);
    form->addRow(QString(), m_portMapping);
    addRow(tr("&Relay servers (TURN):"), m_turn);
    form->addRow(QString(), turnNote);
    addRow(tr("&Keepalive every:"), m_keepalive);
    form->addRow(QString(), m_dht);
    addRow(tr("Friend finder nod&es:"), m_dhtBootstrap);
    form->addRow(QString(), dhtDefaults);
    form->addRow(QString(), m_dhtLocal);
    addRow(tr("New fr&iends:"), m_acceptFriends);
    form->addRow(QString(), m_closeToTray);

    auto *note = new QLabel(
        tr("Your name and what happens to new friends apply at once. Port, STUN, IP echo, port "
           "mapping, relay server and friend finder changes apply the next time Punchline starts."),
        this);
    note->setWordWrap(true);
    note->setForegroundRole(QPalette::PlaceholderText);

    auto *buttons = new QDialogButtonBox(QDialogButtonBox::Ok | QDialogButtonBox::Cancel, this);
    connect(buttons, &QDialogButtonBox::accepted, this, &SettingsDialog::accept);
    connect(buttons, &QDialogButtonBox::rejected, this, &SettingsDialog::reject);

    auto *layout = new QVBoxLayout(this);
    layout->addLayout(form);
    layout->addWidget(note);
    layout->addWidget(m_oneRunNote);
    layout->addWidget(m_error);
    layout->addWidget(buttons);
    setMinimumWidth(520);
}

Settings SettingsDialog::settings() const
{
    return m_settings;
}

void SettingsDialog::setCloseToTray(bool on, bool trayAvailable)
{
    m_closeToTray->setChecked(on);
    m_closeToTray->setVisible(trayAvailable);
}

bool SettingsDialog::closeToTray() const
{
    return m_closeToTray->isChecked();
}

void SettingsDialog::setOneRunNote(const QString &text)
{
    m_oneRunNote->setText(text);
    m_oneRunNote->setVisible(!text.isEmpty());
}

QString SettingsDialog::errorText() const
{
    return m_error->isHidden() ? QString() : m_error->text();
}

QString SettingsDialog::checkDownloadDir(const QString &dir)
{
    if (dir.trimmed().isEmpty())
        return tr("Choose a download folder.");
    const QFileInfo info(dir);
    if (info.exists() && !info.isDir())
        return tr("\"%1\" is a file, not a folder.").arg(QDir::toNativeSeparators(dir));
    if (!info.exists() && !QDir().mkpath(dir))
        return tr("The folder \"%1\" does not exist and cannot be created.")
            .arg(QDir::toNativeSeparators(dir));
    // Permissions alone do not tell (read-only mounts, ACLs): try writing.
    QTemporaryFile probe(QDir(dir).filePath(QStringLiteral(".punchline-write-test-XXXXXX")));
    if (!probe.open())
        return tr("Punchline cannot write into \"%1\": %2")
            .arg(QDir::toNativeSeparators(dir), probe.errorString());
    return QString();
}

QString SettingsDialog::checkStunServers(const QStringList &servers)
{
    for (const QString &server : servers) {
        const QString problem = checkStunServer(server);
        if (!problem.isEmpty())
            return problem;
    }
    return QString();
}

QString SettingsDialog::checkDhtBootstrap(const QStringList &nodes)
{
    for (const QString &node : nodes) {
        QString why;
        if (!parseHostPort(node, DhtDefaultPort, &why))
            return tr("\"%1\" is not a friend finder node: %2. Write host:port, for example "
                      "bootstrap.jami.net:4222.")
                .arg(node, why);
    }
    return QString();
}

QString SettingsDialog::checkTurnServers(const QStringList &servers)
{
    for (int i = 0; i < servers.size(); ++i) {
        Error why;
        if (!parseTurnServer(servers.at(i), &why))
            // parseTurnServer's sentence never repeats the password; the line is not quoted.
            return tr("Relay server line %1: %2").arg(i + 1).arg(why.message);
    }
    return QString();
}

void SettingsDialog::showError(const QString &text, QWidget *field)
{
    m_error->setText(text);
    m_error->show();
    if (field)
        field->setFocus();
}

void SettingsDialog::accept()
{
    const QString downloadDir = QDir::fromNativeSeparators(m_downloadDir->text().trimmed());
    QString problem = checkDownloadDir(downloadDir);
    if (!problem.isEmpty()) {
        showError(problem, m_downloadDir);
        return;
    }
    QStringList stun;
    const QStringList lines = m_stun->toPlainText().split(QLatin1Char('\n'));
    for (const QString &line : lines) {
        if (!line.trimmed().isEmpty())
            stun << line.trimmed();
    }
    problem = checkStunServers(stun);
    if (!problem.isEmpty()) {
        showError(problem, m_stun);
        return;
    }
    QStringList bootstrap;
    const QStringList nodeLines = m_dhtBootstrap->toPlainText().split(QLatin1Char('\n'));
    for (const QString &line : nodeLines) {
        if (!line.trimmed().isEmpty())
            bootstrap << line.trimmed();
    }
    problem = checkDhtBootstrap(bootstrap);
    if (!problem.isEmpty()) {
        showError(problem, m_dhtBootstrap);
        return;
    }
    QStringList turn;
    const QStringList turnLines = m_turn->toPlainText().split(QLatin1Char('\n'));
    for (const QString &line : turnLines) {
        if (!line.trimmed().isEmpty())
            turn << line.trimmed();
    }
    problem = checkTurnServers(turn);
    if (!problem.isEmpty()) {
        showError(problem, m_turn);
        return;
    }
    QString ipEcho;
    if (m_ipEchoEnabled->isChecked()) {
        const QUrl url(m_ipEchoUrl->text().trimmed(), QUrl::StrictMode);
        if (!url.isValid()
            || (url.scheme() != QLatin1String("https") && url.scheme() != QLatin1String("http"))
            || url.host().isEmpty()) {
            showError(tr("The IP echo address must be a web address (https://…)."), m_ipEchoUrl);
            return;
        }
        ipEcho = url.toString();
    }
    Settings s = m_settings;
    s.displayName = m_name->text().simplified();
    s.downloadDir = QDir::cleanPath(downloadDir);
    s.port = m_port->value(); // 0: automatic
    s.stunServers = stun;
    s.ipEchoUrl = ipEcho;
    s.portMapping = m_portMapping->isChecked();
    s.turnServers = turn;
    s.keepaliveIntervalMs = m_keepalive->value() * 1000;
    s.peerSilentLimitMs = 3 * s.keepaliveIntervalMs;
    s.dht = m_dht->isChecked();
    s.dhtBootstrap = bootstrap;
    s.dhtLocalDiscovery = m_dhtLocal->isChecked();
    s.acceptFriends = AcceptPolicy(m_acceptFriends->currentData().toInt());
    m_settings = s;
    m_error->hide();
    QDialog::accept();
}

void SettingsDialog::browseDownloadDir()
{
    const QString dir
        = QFileDialog::getExistingDirectory(this, tr("Download folder"), m_downloadDir->text());
    if (!dir.isEmpty())
        m_downloadDir->setText(QDir::toNativeSeparators(dir));
}

} // namespace Punchline
