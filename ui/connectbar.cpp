#include "connectbar.h"

#include "connectionstatus.h"
#include "iconfactory.h"
#include "messageformat.h"

#include <QEvent>
#include <QFontDatabase>
#include <QGridLayout>
#include <QHBoxLayout>
#include <QLabel>
#include <QLineEdit>
#include <QPushButton>
#include <QRegularExpression>
#include <QStyle>

namespace Punchline {

ConnectBar::ConnectBar(QWidget *parent)
    : QWidget(parent)
    , m_field(new QLineEdit(this))
    , m_validIcon(new QLabel(this))
    , m_validText(new QLabel(this))
    , m_connect(new QPushButton(tr("Co&nnect"), this))
    , m_cancel(new QPushButton(tr("C&ancel"), this))
    , m_disconnect(new QPushButton(tr("&Disconnect"), this))
{
    m_field->setObjectName(QStringLiteral("peerField"));
    m_field->setPlaceholderText(
        tr("Paste your friend's Punchline code (PL1-…) or addresses like 203.0.113.7:40123"));
    m_field->setClearButtonEnabled(true);
    m_field->setFont(QFontDatabase::systemFont(QFontDatabase::FixedFont));
    m_field->setAccessibleName(tr("Friend's code or addresses"));
    m_validIcon->setObjectName(QStringLiteral("peerFieldIcon"));
    m_validText->setObjectName(QStringLiteral("peerFieldStatus"));
    m_validText->setTextFormat(Qt::PlainText); // the name inside a code comes from someone else
    m_validText->setWordWrap(true);
    m_connect->setObjectName(QStringLiteral("connectButton"));
    m_cancel->setObjectName(QStringLiteral("cancelButton"));
    m_disconnect->setObjectName(QStringLiteral("disconnectButton"));
    m_connect->setDefault(false);
    m_connect->setToolTip(tr("Start connecting; your friend does the same with your code"));
    m_cancel->setToolTip(tr("Stop trying to connect"));
    m_disconnect->setToolTip(tr("Close the connection to your friend"));

    auto *label = new QLabel(tr("Fri&end's code:"), this);
    label->setBuddy(m_field);

    auto *grid = new QGridLayout(this);
    grid->setContentsMargins(0, 0, 0, 0);
    grid->addWidget(label, 0, 0);
    grid->addWidget(m_field, 0, 1);
    grid->addWidget(m_connect, 0, 2);
    grid->addWidget(m_cancel, 0, 3);
    grid->addWidget(m_disconnect, 0, 4);
    auto *statusRow = new QHBoxLayout;
    statusRow->setContentsMargins(0, 0, 0, 0);
    statusRow->addWidget(m_validIcon, 0, Qt::AlignTop);
    statusRow->addWidget(m_validText, 1);
    grid->addLayout(statusRow, 1, 1, 1, 4);
    grid->setColumnStretch(1, 1);

    connect(m_field, &QLineEdit::textChanged, this, &ConnectBar::validate);
    connect(m_field, &QLineEdit::returnPressed, this, &ConnectBar::requestConnect);
    connect(m_connect, &QPushButton::clicked, this, &ConnectBar::requestConnect);
    connect(m_cancel, &QPushButton::clicked, this, &ConnectBar::cancelRequested);
    connect(m_disconnect, &QPushButton::clicked, this, &ConnectBar::disconnectRequested);
    validate();
    updateIcons();
}

QWidget *ConnectBar::lastInTabOrder() const
{
    return m_disconnect;
}

bool ConnectBar::isInputValid() const
{
    if (!m_input.isValid())
        return false;
    return !(m_input.code && !m_ownFingerprint.isEmpty()
        && m_input.code->fingerprint == m_ownFingerprint);
}

QString ConnectBar::validationText() const
{
    return m_validText->text();
}

QString ConnectBar::problemText(const QString &text, const Error &error)
{
    switch (error.code) {
    case ErrorCode::CodeChecksum:
    case ErrorCode::CodeVersion:
        return MessageFormat::sentence(error.message); // says what to do already
    default:
        break;
    }
    // Something that looks like an address is told the form; anything else, what to paste.
    static const QRegularExpression addressLike(QStringLiteral("^[\\s\\d.:\\[\\]a-fA-F,]+$"));
    if (addressLike.match(text.trimmed()).hasMatch() && text.contains(QLatin1Char(':')))
        return tr("Not an address Punchline can use: write it as 203.0.113.5:4000.");
    if (text.trimmed().startsWith(QLatin1String("PL"), Qt::CaseInsensitive))
        return MessageFormat::sentence(error.message);
    return tr("This is not a Punchline code: paste the code your friend sent (it starts with "
              "PL1-).");
}

void ConnectBar::validate()
{
    const QString text = m_field->text();
    if (text.trimmed().isEmpty()) {
        m_input = PeerInput {};
        m_inputText.clear();
        m_input.error = { ErrorCode::BadCode, QString() };
        m_iconName = QStringLiteral("status-info");
        m_validText->setText(
            tr("Your friend sends you their code; you send them yours. Then both press Connect."));
        m_field->setProperty("valid", QVariant());
    } else {
        m_input = parsePeerInput(text);
        m_inputText = text;
        if (!m_input.isValid()) {
            // A whole invitation pasted ("Add me on Punchline: … PL1-…"): the code in it.
            static const QRegularExpression codeStart(
                QStringLiteral("PL\\d-"), QRegularExpression::CaseInsensitiveOption);
            const QRegularExpressionMatch match = codeStart.match(text);
            if (match.hasMatch() && match.capturedStart() > 0) {
                const QString inner = text.mid(match.capturedStart());
                const PeerInput parsed = parsePeerInput(inner);
                if (parsed.isValid() || parsed.error.code != ErrorCode::BadCode) {
                    m_input = parsed;
                    m_inputText = inner;
                }
            }
        }
        if (!m_input.isValid()) {
            m_iconName = QStringLiteral("status-error");
            m_validText->setText(problemText(m_inputText, m_input.error));
            m_field->setProperty("valid", false);
        } else if (!isInputValid()) {
            m_iconName = QStringLiteral("status-error");
            m_validText->setText(
                tr("This is your own code. %1")
                    .arg(ConnectionStatus::advice({ ErrorCode::ConnectedToSelf, {} })));
            m_field->setProperty("valid", false);
        } else if (m_input.code) {
            m_iconName = QStringLiteral("status-ok");
            const QString name = m_input.code->name.isEmpty()
                ? tr("your friend")
                : MessageFormat::isolate(m_input.code->name);
            m_validText->setText(tr("A valid code from %1 with %n address(es). Their identity will "
                                    "be checked when you connect.",
                nullptr, int(m_input.code->candidates.size()))
                                     .arg(name));
            m_field->setProperty("valid", true);
        } else {
            m_iconName = QStringLiteral("status-ok");
            m_validText->setText(
                tr("%n address(es). Without a code, the identity of whoever answers is trusted "
                   "the first time.",
                    nullptr, int(m_input.addresses.size())));
            m_field->setProperty("valid", true);
        }
    }
    m_field->setAccessibleDescription(m_validText->text());
    updateValidityIcon();
    updateButtons();
}

void ConnectBar::setState(State state)
{
    m_state = state;
    updateButtons();
}

void ConnectBar::updateButtons()
{
    const bool trying = m_state == State::Connecting || m_state == State::Securing
        || m_state == State::Reconnecting;
    const bool connected = m_state == State::Connected;
    const bool canStart = m_state == State::Discovering || m_state == State::Ready
        || m_state == State::Failed || m_state == State::Disconnected;
    m_connect->setVisible(!trying && !connected);
    m_connect->setEnabled(canStart && isInputValid());
    m_cancel->setVisible(trying);
    m_disconnect->setVisible(connected);
    m_field->setReadOnly(trying);
    // Once connected the hint about the code is old news: the status above says it all.
    m_validIcon->setVisible(!connected);
    m_validText->setVisible(!connected);
}

void ConnectBar::requestConnect()
{
    if (m_connect->isHidden() || !m_connect->isEnabled())
        return;
    const QString name = m_input.code ? m_input.code->name : QString();
    const QString text = m_inputText; // a copy: the receiver may clear the field
    Q_EMIT connectRequested(text, name);
}

void ConnectBar::changeEvent(QEvent *event)
{
    QWidget::changeEvent(event);
    if (event->type() == QEvent::PaletteChange)
        updateIcons();
}

void ConnectBar::updateValidityIcon()
{
    const int size = style()->pixelMetric(QStyle::PM_SmallIconSize, nullptr, this);
    m_validIcon->setPixmap(IconFactory::pixmap(m_iconName, palette(), size));
}

void ConnectBar::updateIcons()
{
    updateValidityIcon();
    m_connect->setIcon(IconFactory::glyph(QStringLiteral("connect"), palette()));
    m_cancel->setIcon(IconFactory::glyph(QStringLiteral("cancel"), palette()));
    m_disconnect->setIcon(IconFactory::glyph(QStringLiteral("disconnect"), palette()));
}

} // namespace Punchline
