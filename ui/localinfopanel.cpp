#include "localinfopanel.h"

#include "iconfactory.h"
#include "identity/identity.h"
#include "messageformat.h"

#include <QApplication>
#include <QClipboard>
#include <QEvent>
#include <QFontDatabase>
#include <QFormLayout>
#include <QHBoxLayout>
#include <QLabel>
#include <QMessageBox>
#include <QPushButton>
#include <QStyle>
#include <QTimer>
#include <QVBoxLayout>

namespace Punchline {

namespace {

QLabel *plainLabel(QWidget *parent, const QString &objectName)
{
    auto *label = new QLabel(parent);
    label->setObjectName(objectName);
    label->setTextFormat(Qt::PlainText);
    label->setWordWrap(true);
    label->setTextInteractionFlags(Qt::TextSelectableByMouse);
    return label;
}

QLabel *dimmed(QLabel *label)
{
    label->setForegroundRole(QPalette::PlaceholderText);
    return label;
}

} // namespace

LocalInfoPanel::LocalInfoPanel(QWidget *parent)
    : QWidget(parent)
    , m_name(plainLabel(this, QStringLiteral("myName")))
    , m_code(new QLabel(this))
    , m_copy(new QPushButton(tr("Co&py"), this))
    , m_share(new QPushButton(tr("S&hare…"), this))
    , m_fingerprint(dimmed(plainLabel(this, QStringLiteral("myFingerprint"))))
    , m_local(plainLabel(this, QStringLiteral("myLocalAddresses")))
    , m_public(plainLabel(this, QStringLiteral("myPublicAddress")))
    , m_nat(plainLabel(this, QStringLiteral("myNat")))
    , m_natIcon(new QLabel(this))
    , m_explanation(dimmed(plainLabel(this, QStringLiteral("myExplanation"))))
    , m_validity(dimmed(plainLabel(this, QStringLiteral("myCodeValidity"))))
    , m_newCode(new QPushButton(tr("&New code…"), this))
    , m_finder(plainLabel(this, QStringLiteral("myFriendFinder")))
    , m_mapping(plainLabel(this, QStringLiteral("myPortMapping")))
    , m_relay(plainLabel(this, QStringLiteral("myRelay")))
    , m_stun(plainLabel(this, QStringLiteral("myStunServers")))
{
    QFont big = m_name->font();
    big.setPointSizeF(big.pointSizeF() * 1.3);
    big.setBold(true);
    m_name->setFont(big);
    m_name->setWordWrap(false);

    m_code->setObjectName(QStringLiteral("myCode"));
    m_code->setTextFormat(Qt::PlainText);
    m_code->setWordWrap(true);
    m_code->setTextInteractionFlags(Qt::TextSelectableByMouse | Qt::TextSelectableByKeyboard);
    m_code->setFont(QFontDatabase::systemFont(QFontDatabase::FixedFont));
    m_code->setFrameShape(QFrame::StyledPanel);
    m_code->setAutoFillBackground(true);
    m_code->setBackgroundRole(QPalette::Base);
    m_code->setMargin(6);
    m_code->setText(tr("being prepared…"));
    m_code->setAccessibleName(tr("Your Punchline code"));
    m_copy->setObjectName(QStringLiteral("copyCodeButton"));
    m_copy->setToolTip(
        tr("Copy your code to the clipboard, then send it to your friend (Ctrl+Shift+C)"));
    m_copy->setEnabled(false);
    connect(m_copy, &QPushButton::clicked, this, &LocalInfoPanel::copyCode);
    m_share->setObjectName(QStringLiteral("shareCodeButton"));
    m_share->setToolTip(tr("Copy a short message with your code, ready to paste into a chat or "
                           "an e-mail to your friend"));
    m_share->setEnabled(false);
    connect(m_share, &QPushButton::clicked, this, &LocalInfoPanel::shareCode);
    m_newCode->setObjectName(QStringLiteral("newCodeButton"));
    m_newCode->setToolTip(tr("Make a new code; your current code stops working (friends you "
                             "already have stay your friends)"));
    m_newCode->hide(); // only with the friend finder: a code without an invitation cannot expire
    connect(m_newCode, &QPushButton::clicked, this, &LocalInfoPanel::askForNewCode);

    auto *codeLabel = new QLabel(tr("Your code (send it to your friend):"), this);
    codeLabel->setBuddy(m_copy); // Alt+ the label's key: straight to Copy
    auto *codeButtons = new QVBoxLayout;
    codeButtons->setContentsMargins(0, 0, 0, 0);
    codeButtons->addWidget(m_copy);
    codeButtons->addWidget(m_share);
    codeButtons->addWidget(m_newCode);
    codeButtons->addStretch(1);
    auto *codeRow = new QHBoxLayout;
    codeRow->addWidget(m_code, 1);
    codeRow->addLayout(codeButtons);

    auto *natRow = new QHBoxLayout;
    natRow->setContentsMargins(0, 0, 0, 0);
    natRow->addWidget(m_natIcon, 0, Qt::AlignTop);
    natRow->addWidget(m_nat, 1);
    m_natIcon->hide();

    auto *form = new QFormLayout;
    form->setRowWrapPolicy(QFormLayout::WrapLongRows);
    form->setFieldGrowthPolicy(QFormLayout::AllNonFixedFieldsGrow);
    form->addRow(tr("Friend finder:"), m_finder);
    form->addRow(tr("This network:"), m_local);
    form->addRow(tr("Internet:"), m_public);
    form->addRow(tr("Router:"), natRow);
    form->addRow(tr("Port mapping:"), m_mapping);
    form->addRow(tr("Relay:"), m_relay);
    form->addRow(tr("STUN answered:"), m_stun);
    m_form = form;
    for (QLabel *line : { m_finder, m_mapping, m_relay, m_stun })
        form->setRowVisible(line, false); // until there is something to say

    auto *layout = new QVBoxLayout(this);
    layout->setContentsMargins(0, 0, 0, 0);
    layout->addWidget(m_name);
    layout->addWidget(m_fingerprint);
    layout->addSpacing(6);
    layout->addWidget(codeLabel);
    layout->addLayout(codeRow);
    layout->addWidget(m_validity);
    layout->addSpacing(6);
    layout->addLayout(form);
    layout->addWidget(m_explanation);
    setDiscovering();
}

QWidget *LocalInfoPanel::codeField() const
{
    return m_code;
}

QString LocalInfoPanel::shownCode() const
{
    return m_code->text();
}

QString LocalInfoPanel::groupedCode(const QString &code)
{
    const qsizetype dash = code.indexOf(QLatin1Char('-'));
    if (dash < 0 || dash > 8)
        return code;
    QString out = code.left(dash + 1);
    const QString rest = code.mid(dash + 1);
    for (qsizetype i = 0; i < rest.size(); i += 5) {
        if (i > 0)
            out += QLatin1Char(' ');
        out += rest.mid(i, 5);
    }
    return out;
}

QString LocalInfoPanel::shareText(const QString &code)
{
    return tr("Add me on Punchline: paste this code in Punchline → Add friend: %1").arg(code);
}

void LocalInfoPanel::setDiscovering()
{
    m_name->setText(m_info.displayName.isEmpty() ? tr("Starting…") : m_info.displayName);
    m_local->setText(tr("looking…"));
    m_public->setText(tr("looking…"));
    m_nat->setText(tr("looking…"));
    m_explanation->hide();
}

void LocalInfoPanel::setFailed(const QString &why)
{
    if (!m_info.code.isEmpty())
        return;
    m_local->setText(tr("not available"));
    m_public->setText(tr("not available"));
    m_nat->setText(tr("unknown"));
    m_explanation->setText(why);
    m_explanation->setVisible(!why.isEmpty());
}

QString LocalInfoPanel::publicDescription(const LocalInfo &info)
{
    if (!info.publicEndpoint)
        return tr("not known: only friends on the same network can reach you");
    const QString address = info.publicEndpoint->toString();
    switch (info.publicSource) {
    case PublicSource::Stun:
        return tr("%1 (found by STUN)").arg(address);
    case PublicSource::IpEcho:
        return info.publicPortGuessed
            ? tr("%1 (found by IP echo; the port is a guess)").arg(address)
            : tr("%1 (found by IP echo)").arg(address);
    case PublicSource::None:
        break;
    }
    return address;
}

QString LocalInfoPanel::natDescription(const LocalInfo &info)
{
    switch (info.nat) {
    case NatKind::EndpointIndependent:
        return tr("keeps the same port for every destination: direct connections should work");
    case NatKind::EndpointDependent:
        return tr("your network changes ports per destination: direct connections may fail");
    case NatKind::Unknown:
        break;
    }
    if (!info.publicEndpoint)
        return tr("unknown: no STUN server was asked or none answered");
    if (info.publicEndpoint && info.local.contains(*info.publicEndpoint))
        return tr("none: this machine has a public address");
    return tr("unknown: one answer is not enough to tell how your router behaves");
}

void LocalInfoPanel::setLocalInfo(const LocalInfo &info)
{
    m_info = info;
    m_name->setText(info.displayName);
    m_code->setText(info.code.isEmpty() ? tr("being prepared…") : groupedCode(info.code));
    m_copy->setEnabled(!info.code.isEmpty());
    m_share->setEnabled(!info.code.isEmpty());
    if (!info.fingerprint.isEmpty()) {
        const QString fp = Identity::formatFingerprint(info.fingerprint);
        m_fingerprint->setText(tr("Fingerprint %1…").arg(fp.left(19)));
        m_fingerprint->setToolTip(
            tr("Your identity's full fingerprint, for comparing by phone:\n%1").arg(fp));
    }
    QStringList local;
    for (const Endpoint &e : info.local)
        local << e.toString();
    m_local->setText(
        local.isEmpty() ? tr("no usable network interface") : local.join(QStringLiteral(", ")));
    m_public->setText(publicDescription(info));
    m_nat->setText(natDescription(info));
    m_natIcon->setVisible(info.nat == NatKind::EndpointDependent);
    m_explanation->setText(info.explanation);
    m_explanation->setVisible(!info.explanation.isEmpty());

    m_validity->setText(
        info.code.isEmpty() ? QString() : validityText(info, QDateTime::currentDateTimeUtc()));
    m_validity->setVisible(!m_validity->text().isEmpty());
    m_newCode->setVisible(info.codeExpires.isValid() && !info.code.isEmpty());
    m_finder->setText(finderText(info));
    m_form->setRowVisible(m_finder, !info.code.isEmpty() || info.dhtEnabled);
    m_mapping->setText(info.mappingStatus);
    m_form->setRowVisible(m_mapping, !info.mappingStatus.isEmpty());
    m_relay->setText(info.relayStatus);
    m_form->setRowVisible(m_relay, !info.relayStatus.isEmpty());
    m_stun->setText(info.stunAnswered.join(QStringLiteral(", ")));
    m_form->setRowVisible(m_stun, !info.stunAnswered.isEmpty());
    updateIcons();
}

QString LocalInfoPanel::validityText(const LocalInfo &info, const QDateTime &now)
{
    if (!info.codeExpires.isValid())
        return info.dhtEnabled
            ? QString()
            : tr("The friend finder is off: your friend pastes your code and you paste theirs.");
    if (info.codeExpires <= now)
        return tr("This code has expired; a new one is being made.");
    const QString until = MessageFormat::dayAndTime(info.codeExpires, now);
    return info.codeSingleUse ? tr("Valid for one friend, until %1.").arg(until)
                              : tr("Valid until %1.").arg(until);
}

QString LocalInfoPanel::finderText(const LocalInfo &info)
{
    if (!info.dhtEnabled)
        return tr("off (turn it on in Settings so friends find you by themselves)");
    if (info.dhtOnline)
        return info.dhtStatus.isEmpty() ? tr("online: friends find you by themselves")
                                        : info.dhtStatus;
    return info.dhtStatus.isEmpty() ? tr("offline: paste both codes to connect") : info.dhtStatus;
}

void LocalInfoPanel::askForNewCode()
{
    QMessageBox box(QMessageBox::Question, tr("New code"),
        tr("Your current code will stop working."), QMessageBox::NoButton, this);
    box.setObjectName(QStringLiteral("newCodeConfirm"));
    box.setInformativeText(
        tr("Anyone who has it but has not connected yet will need the new one. Friends you "
           "already have stay your friends."));
    QPushButton *make = box.addButton(tr("Make a &new code"), QMessageBox::AcceptRole);
    make->setObjectName(QStringLiteral("newCodeConfirmButton"));
    QPushButton *cancel = box.addButton(QMessageBox::Cancel);
    cancel->setObjectName(QStringLiteral("newCodeCancelButton"));
    box.setDefaultButton(cancel); // Enter does not throw a code away
    box.setEscapeButton(cancel);
    box.exec();
    if (box.clickedButton() == make)
        Q_EMIT newCodeRequested();
}

void LocalInfoPanel::copyCode()
{
    if (m_info.code.isEmpty())
        return;
    QGuiApplication::clipboard()->setText(m_info.code);
    m_copy->setText(tr("Copied"));
    QTimer::singleShot(2000, this, [this] { m_copy->setText(tr("Co&py")); });
    Q_EMIT codeCopied();
}

void LocalInfoPanel::shareCode()
{
    if (m_info.code.isEmpty())
        return;
    QGuiApplication::clipboard()->setText(shareText(m_info.code));
    Q_EMIT codeShared();
}

void LocalInfoPanel::changeEvent(QEvent *event)
{
    QWidget::changeEvent(event);
    if (event->type() == QEvent::PaletteChange)
        updateIcons();
}

void LocalInfoPanel::updateIcons()
{
    const int size = style()->pixelMetric(QStyle::PM_SmallIconSize, nullptr, this);
    m_copy->setIcon(IconFactory::glyph(QStringLiteral("copy"), palette()));
    m_natIcon->setPixmap(IconFactory::pixmap(QStringLiteral("status-warning"), palette(), size));
}

} // namespace Punchline
