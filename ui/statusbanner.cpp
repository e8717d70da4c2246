#include "statusbanner.h"

#include "iconfactory.h"

#include <QEvent>
#include <QGridLayout>
#include <QLabel>
#include <QProgressBar>
#include <QStyle>

namespace Punchline {

StatusBanner::StatusBanner(QWidget *parent)
    : QFrame(parent)
    , m_icon(new QLabel(this))
    , m_headline(new QLabel(this))
    , m_detail(new QLabel(this))
    , m_busy(new QProgressBar(this))
{
    setObjectName(QStringLiteral("statusBanner"));
    setFrameShape(QFrame::StyledPanel);
    setAutoFillBackground(true);
    setBackgroundRole(QPalette::Base);
    m_headline->setObjectName(QStringLiteral("statusHeadline"));
    m_detail->setObjectName(QStringLiteral("statusDetail"));
    for (QLabel *label : { m_headline, m_detail }) {
        label->setTextFormat(Qt::PlainText); // peer names and error sentences
        label->setWordWrap(true);
        label->setTextInteractionFlags(Qt::TextSelectableByMouse);
    }
    QFont font = m_headline->font();
    font.setBold(true);
    font.setPointSizeF(font.pointSizeF() * 1.15);
    m_headline->setFont(font);
    m_detail->setForegroundRole(QPalette::PlaceholderText);
    m_busy->setRange(0, 0);
    m_busy->setTextVisible(false);
    m_busy->setMaximumHeight(4);
    m_busy->setAccessibleName(tr("Working"));
    m_busy->hide();

    auto *grid = new QGridLayout(this);
    grid->setContentsMargins(10, 8, 10, 8);
    grid->setHorizontalSpacing(10);
    grid->setVerticalSpacing(2);
    grid->addWidget(m_icon, 0, 0, 2, 1, Qt::AlignTop);
    grid->addWidget(m_headline, 0, 1);
    grid->addWidget(m_detail, 1, 1);
    grid->addWidget(m_busy, 2, 0, 1, 2);
    grid->setColumnStretch(1, 1);
    updateIcon();
}

void StatusBanner::showStatus(const ConnectionStatus &status)
{
    m_headline->setText(status.headline());
    m_detail->setText(status.detail());
    m_detail->setVisible(!m_detail->text().isEmpty());
    m_busy->setVisible(status.tone() == ConnectionStatus::Tone::Busy
        || status.tone() == ConnectionStatus::Tone::Warning);
    setAccessibleDescription(status.headline() + QLatin1Char('\n') + status.detail());
    if (m_iconName != status.iconName()) {
        m_iconName = status.iconName();
        updateIcon();
    }
}

QString StatusBanner::headline() const
{
    return m_headline->text();
}

QString StatusBanner::detail() const
{
    return m_detail->text();
}

void StatusBanner::changeEvent(QEvent *event)
{
    QFrame::changeEvent(event);
    if (event->type() == QEvent::PaletteChange)
        updateIcon();
}

void StatusBanner::updateIcon()
{
    const int size = style()->pixelMetric(QStyle::PM_LargeIconSize, nullptr, this);
    // Good news in the highlight colour; everything else in the text colour (shape tells apart).
    const QPalette::ColorRole role
        = m_iconName == QLatin1String("status-ok") ? QPalette::Highlight : QPalette::WindowText;
    m_icon->setPixmap(IconFactory::pixmap(m_iconName, palette(), size, role));
}

} // namespace Punchline
