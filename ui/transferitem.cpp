#include "transferitem.h"

#include "connectionstatus.h"
#include "iconfactory.h"
#include "messageformat.h"

#include <QDir>
#include <QEvent>
#include <QFileInfo>
#include <QGridLayout>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QLabel>
#include <QProgressBar>
#include <QPushButton>
#include <QStyle>
#include <QToolButton>
#include <QTreeWidget>

#include <algorithm>

namespace Punchline {

namespace {

QLabel *plain(QWidget *parent, const QString &objectName)
{
    auto *label = new QLabel(parent);
    label->setObjectName(objectName);
    label->setTextFormat(Qt::PlainText); // file names come from the other side
    label->setTextInteractionFlags(Qt::TextSelectableByMouse);
    return label;
}

} // namespace

TransferItem::TransferItem(const TransferInfo &info, QWidget *parent)
    : QFrame(parent)
    , m_info(info)
    , m_icon(new QLabel(this))
    , m_name(plain(this, QStringLiteral("transferName")))
    , m_state(plain(this, QStringLiteral("transferState")))
    , m_summary(plain(this, QStringLiteral("transferSummary")))
    , m_progress(new QProgressBar(this))
    , m_detail(plain(this, QStringLiteral("transferDetail")))
    , m_filesToggle(new QToolButton(this))
    , m_files(new QTreeWidget(this))
    , m_accept(new QPushButton(tr("Accep&t"), this))
    , m_decline(new QPushButton(tr("Dec&line"), this))
    , m_cancel(new QPushButton(tr("Cancel"), this))
    , m_open(new QPushButton(tr("Open folder"), this))
    , m_openFile(new QPushButton(tr("Open"), this))
{
    setObjectName(QStringLiteral("transfer-%1").arg(info.id));
    setFrameShape(QFrame::StyledPanel);
    setAutoFillBackground(true);
    setBackgroundRole(QPalette::Base);
    QFont bold = m_name->font();
    bold.setBold(true);
    m_name->setFont(bold);
    m_name->setWordWrap(true);
    m_detail->setWordWrap(true);
    m_summary->setForegroundRole(QPalette::PlaceholderText);
    m_state->setAlignment(Qt::AlignRight | Qt::AlignTop);
    m_progress->setRange(0, 1000);
    m_progress->setTextVisible(true);
    m_accept->setObjectName(QStringLiteral("acceptButton"));
    m_decline->setObjectName(QStringLiteral("declineButton"));
    m_cancel->setObjectName(QStringLiteral("cancelTransferButton"));
    m_open->setObjectName(QStringLiteral("openFolderButton"));
    m_openFile->setObjectName(QStringLiteral("openFileButton"));
    m_accept->setToolTip(tr("Receive these files into your download folder"));
    m_decline->setToolTip(tr("Refuse this offer; nothing is written"));
    m_filesToggle->setCheckable(true);
    m_filesToggle->setToolButtonStyle(Qt::ToolButtonTextBesideIcon);
    m_filesToggle->setArrowType(Qt::RightArrow);
    m_filesToggle->setAutoRaise(true);
    m_files->setObjectName(QStringLiteral("transferFiles"));
    m_files->setColumnCount(2);
    m_files->setHeaderLabels({ tr("File"), tr("Size") });
    m_files->setRootIsDecorated(false);
    m_files->setUniformRowHeights(true);
    m_files->setAlternatingRowColors(true);
    m_files->header()->setStretchLastSection(false);
    m_files->header()->setSectionResizeMode(0, QHeaderView::Stretch);
    m_files->header()->setSectionResizeMode(1, QHeaderView::ResizeToContents);
    m_files->hide();

    auto *buttons = new QHBoxLayout;
    buttons->setContentsMargins(0, 0, 0, 0);
    buttons->addWidget(m_filesToggle);
    buttons->addStretch(1);
    for (QPushButton *b : { m_accept, m_decline, m_cancel, m_openFile, m_open })
        buttons->addWidget(b);

    auto *grid = new QGridLayout(this);
    grid->setContentsMargins(8, 6, 8, 6);
    grid->setHorizontalSpacing(8);
    grid->setVerticalSpacing(3);
    grid->addWidget(m_icon, 0, 0, 2, 1, Qt::AlignTop);
    grid->addWidget(m_name, 0, 1);
    grid->addWidget(m_state, 0, 2);
    grid->addWidget(m_summary, 1, 1, 1, 2);
    grid->addWidget(m_progress, 2, 1, 1, 2);
    grid->addWidget(m_detail, 3, 1, 1, 2);
    grid->addLayout(buttons, 4, 1, 1, 2); // above the file list: the decision stays in view
    grid->addWidget(m_files, 5, 1, 1, 2);
    grid->setColumnStretch(1, 1);

    connect(m_filesToggle, &QToolButton::toggled, this, [this](bool on) {
        if (on)
            fillFiles();
        m_files->setVisible(on);
        m_filesToggle->setArrowType(on ? Qt::DownArrow : Qt::RightArrow);
    });
    connect(m_accept, &QPushButton::clicked, this, [this] { Q_EMIT acceptRequested(m_info.id); });
    connect(m_decline, &QPushButton::clicked, this, [this] { Q_EMIT declineRequested(m_info.id); });
    connect(m_cancel, &QPushButton::clicked, this, [this] { Q_EMIT cancelRequested(m_info.id); });
    connect(m_openFile, &QPushButton::clicked, this,
        [this] { Q_EMIT openFileRequested(fileToOpen(m_info)); });
    connect(m_open, &QPushButton::clicked, this,
        [this] { Q_EMIT openFolderRequested(folderToOpen(m_info)); });

    updateIcons();
    refresh();
    // An offer to us shows its full list right away: that is what the user decides on.
    if (m_info.direction == TransferDirection::In && m_info.state == TransferState::Offered)
        m_filesToggle->setChecked(true);
}

void TransferItem::setInfo(const TransferInfo &info)
{
    const bool filesChanged = info.files.size() != m_info.files.size();
    m_info = info;
    if (filesChanged)
        m_filledFiles = -1;
    if (m_files->isVisible() || m_filesToggle->isChecked())
        fillFiles();
    refresh();
}

void TransferItem::setPeerName(const QString &name)
{
    m_peerName = name;
    refresh();
}

void TransferItem::setPeerPresent(bool present)
{
    if (m_peerPresent == present)
        return;
    m_peerPresent = present;
    refresh();
}

bool TransferItem::isPaused() const
{
    // Core zeroes the rate when the link goes down; a transfer still moving is not paused.
    return !m_peerPresent && m_info.rateBytesPerSec <= 0
        && (m_info.state == TransferState::Accepted || m_info.state == TransferState::Progress);
}

bool TransferItem::isFinished() const
{
    return m_info.state == TransferState::Done || m_info.state == TransferState::Failed
        || m_info.state == TransferState::Canceled || m_info.state == TransferState::Declined;
}

bool TransferItem::isActive() const
{
    return !isFinished();
}

QString TransferItem::stateText() const
{
    return m_state->text();
}

QString TransferItem::detailText() const
{
    return m_detail->text();
}

QString TransferItem::stateTextFor(const TransferInfo &info, const QString &peerName)
{
    const QString peer = peerName.isEmpty() ? tr("your friend") : MessageFormat::isolate(peerName);
    const bool in = info.direction == TransferDirection::In;
    switch (info.state) {
    case TransferState::Offered:
        return in ? tr("%1 offers this").arg(peer) : tr("Waiting for %1 to accept").arg(peer);
    case TransferState::Accepted:
        return tr("Starting…");
    case TransferState::Progress:
        if (info.resumedFrom >= 0)
            return in ? tr("Receiving (resumed)") : tr("Sending (resumed)");
        return in ? tr("Receiving") : tr("Sending");
    case TransferState::Done:
        return in ? tr("Received") : tr("Sent");
    case TransferState::Failed:
        return tr("Failed");
    case TransferState::Canceled:
        return tr("Canceled");
    case TransferState::Declined:
        return in ? tr("Declined") : tr("%1 declined").arg(peer);
    }
    return QString();
}

QString TransferItem::detailTextFor(const TransferInfo &info)
{
    QStringList parts;
    switch (info.state) {
    case TransferState::Offered:
        if (info.direction == TransferDirection::In)
            return tr("Accept to receive into your download folder, or decline.");
        return tr("Nothing is sent until your friend accepts.");
    case TransferState::Accepted:
    case TransferState::Progress:
        parts
            << tr("%1 of %2").arg(MessageFormat::size(info.bytes), MessageFormat::size(info.total));
        if (info.rateBytesPerSec > 0)
            parts << MessageFormat::rate(info.rateBytesPerSec);
        if (info.etaMs >= 0 && info.rateBytesPerSec > 0)
            parts << tr("%1 left").arg(MessageFormat::duration(info.etaMs));
        if (info.resumedFrom > 0)
            parts << tr("resumed at %1: the part already received was kept")
                         .arg(MessageFormat::size(info.resumedFrom));
        return parts.join(QStringLiteral(" · "));
    case TransferState::Done: {
        if (info.elapsedMs > 0)
            parts << tr("%1 in %2")
                         .arg(MessageFormat::size(info.total),
                             MessageFormat::duration(info.elapsedMs));
        if (info.resumedFrom > 0)
            parts << tr("resumed at %1").arg(MessageFormat::size(info.resumedFrom));
        if (!info.path.isEmpty()) {
            const QFileInfo landed(info.path);
            if (info.direction == TransferDirection::In)
                parts << tr("saved as %1 in %2")
                             .arg(landed.fileName(),
                                 QDir::toNativeSeparators(landed.absolutePath()));
            else
                parts << tr("from %1").arg(QDir::toNativeSeparators(info.path));
        }
        if (!info.sha256.isEmpty())
            parts << tr("checked (SHA-256 %1…)").arg(info.sha256.left(12));
        return parts.join(QStringLiteral(" · "));
    }
    case TransferState::Failed:
    case TransferState::Canceled:
    case TransferState::Declined: {
        QString text;
        if (info.error.isError() && !info.error.message.isEmpty())
            text = MessageFormat::sentence(info.error.message);
        else if (info.state == TransferState::Failed)
            text = tr("The transfer stopped.");
        if (info.state == TransferState::Failed) {
            const QString next = ConnectionStatus::advice(info.error);
            if (!next.isEmpty())
                text += QLatin1Char(' ') + next;
            if (info.bytes > 0 && info.direction == TransferDirection::In)
                text += QLatin1Char(' ')
                    + tr("The %1 already received are kept; sending again resumes from there.")
                          .arg(MessageFormat::size(info.bytes));
        }
        return text.trimmed();
    }
    }
    return QString();
}

QString TransferItem::folderToOpen(const TransferInfo &info)
{
    if (info.path.isEmpty())
        return QString();
    const QFileInfo fi(info.path);
    // A received folder opens as itself; a file opens its folder.
    if (info.direction == TransferDirection::In && fi.isDir())
        return fi.absoluteFilePath();
    return fi.absolutePath();
}

QString TransferItem::fileToOpen(const TransferInfo &info)
{
    if (info.state != TransferState::Done || info.path.isEmpty())
        return QString();
    return QFileInfo(info.path).isFile() ? info.path : QString();
}

QString TransferItem::shownName(const TransferInfo &info)
{
    if (info.direction == TransferDirection::In && info.state == TransferState::Done
        && !info.path.isEmpty()) {
        const QString landed = QFileInfo(info.path).fileName();
        if (!landed.isEmpty())
            return landed;
    }
    return info.name.isEmpty() ? tr("Files") : info.name;
}

void TransferItem::refresh()
{
    const bool in = m_info.direction == TransferDirection::In;
    m_name->setText(shownName(m_info));
    m_state->setText(stateTextFor(m_info, m_peerName));
    m_summary->setText(
        tr("%1 · %n file(s) · %2", nullptr, int(m_info.files.size()))
            .arg(in ? tr("incoming") : tr("outgoing"), MessageFormat::size(m_info.total)));
    const bool moving
        = m_info.state == TransferState::Accepted || m_info.state == TransferState::Progress;
    m_progress->setVisible(moving || m_info.state == TransferState::Done
        || (m_info.state != TransferState::Offered && m_info.bytes > 0));
    const int permille = m_info.total > 0
        ? int(std::clamp<qint64>(m_info.bytes * 1000 / m_info.total, 0, 1000))
        : (m_info.state == TransferState::Done ? 1000 : 0);
    m_progress->setValue(permille);
    m_progress->setFormat(QStringLiteral("%1 %").arg(permille / 10));
    m_detail->setText(detailTextFor(m_info));
    if (isPaused()) {
        const QString peer
            = m_peerName.isEmpty() ? tr("your friend") : MessageFormat::isolate(m_peerName);
        m_state->setText(tr("Paused — waiting for %1").arg(peer));
        m_detail->setText(
            tr("%1 of %2 · continues when %3 is back; what arrived is kept")
                .arg(MessageFormat::size(m_info.bytes), MessageFormat::size(m_info.total), peer));
    }
    m_detail->setVisible(!m_detail->text().isEmpty());
    m_detail->setForegroundRole(
        m_info.state == TransferState::Failed ? QPalette::WindowText : QPalette::PlaceholderText);

    const bool offeredToUs = in && m_info.state == TransferState::Offered;
    m_accept->setVisible(offeredToUs);
    m_decline->setVisible(offeredToUs);
    m_cancel->setVisible(!offeredToUs && isActive());
    m_open->setVisible(m_info.state == TransferState::Done && !m_info.path.isEmpty());
    m_openFile->setVisible(!fileToOpen(m_info).isEmpty());
    m_filesToggle->setText(tr("%n file(s)", nullptr, int(m_info.files.size())));
    m_filesToggle->setVisible(!m_info.files.isEmpty());
    setAccessibleName(tr("%1, %2").arg(m_name->text(), m_state->text()));
}

void TransferItem::fillFiles()
{
    if (m_filledFiles == m_info.files.size())
        return;
    m_files->clear();
    const qsizetype shown = std::min<qsizetype>(m_info.files.size(), MaxListedFiles);
    QList<QTreeWidgetItem *> rows;
    rows.reserve(shown + 1);
    for (qsizetype i = 0; i < shown; ++i) {
        const TransferFile &f = m_info.files.at(i);
        auto *row = new QTreeWidgetItem({ f.relativePath, MessageFormat::size(f.size) });
        row->setTextAlignment(1, Qt::AlignRight | Qt::AlignVCenter);
        rows.append(row);
    }
    if (m_info.files.size() > shown)
        rows.append(new QTreeWidgetItem(
            { tr("… and %n more", nullptr, int(m_info.files.size() - shown)), QString() }));
    m_files->addTopLevelItems(rows);
    // As tall as the list, up to six rows; longer lists scroll.
    const int rowHeight = std::max(m_files->sizeHintForRow(0), fontMetrics().lineSpacing());
    const int shownRows = int(std::min<qsizetype>(std::max<qsizetype>(rows.size(), 1), 6));
    m_files->setFixedHeight(m_files->header()->sizeHint().height() + rowHeight * shownRows
        + 2 * m_files->frameWidth() + 2);
    m_filledFiles = int(m_info.files.size());
}

void TransferItem::changeEvent(QEvent *event)
{
    QFrame::changeEvent(event);
    if (event->type() == QEvent::PaletteChange)
        updateIcons();
}

void TransferItem::updateIcons()
{
    const int size = style()->pixelMetric(QStyle::PM_LargeIconSize, nullptr, this);
    const bool in = m_info.direction == TransferDirection::In;
    m_icon->setPixmap(IconFactory::pixmap(
        in ? QStringLiteral("download") : QStringLiteral("upload"), palette(), size));
    m_accept->setIcon(IconFactory::glyph(QStringLiteral("accept"), palette()));
    m_decline->setIcon(IconFactory::glyph(QStringLiteral("cancel"), palette()));
    m_cancel->setIcon(IconFactory::glyph(QStringLiteral("cancel"), palette()));
    m_open->setIcon(IconFactory::glyph(QStringLiteral("folder-open"), palette()));
    m_openFile->setIcon(IconFactory::glyph(QStringLiteral("attach"), palette()));
}

} // namespace Punchline
