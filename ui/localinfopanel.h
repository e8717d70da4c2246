#pragma once
// "You": this side's name, Punchline code (shown whole: wrapped, monospace, in groups of five)
// with one-click Copy and Share…, how long the code works and "New code" (asks first: the old
// code stops working), the friend finder's status, and the addresses and router behaviour
// discovery found (with port mapping, relay and STUN lines when there is something to say), each
// explained in plain words.

#include "common/types.h"

#include <QWidget>

class QFormLayout;
class QLabel;
class QPushButton;

namespace Punchline {

class LocalInfoPanel : public QWidget
{
    Q_OBJECT
public:
    explicit LocalInfoPanel(QWidget *parent = nullptr);

    void setLocalInfo(const LocalInfo &info);
    void setDiscovering();
    void setFailed(const QString &why);
    const LocalInfo &localInfo() const { return m_info; }
    QString code() const { return m_info.code; }
    QPushButton *copyButton() const { return m_copy; }
    QPushButton *shareButton() const { return m_share; }
    QPushButton *newCodeButton() const { return m_newCode; }
    QWidget *codeField() const;
    QString shownCode() const; // as displayed, grouped

    // "PL1-ABCDE FGHIJ …": groups of five after the prefix (whitespace inside a code is ignored
    // when it is pasted back).
    static QString groupedCode(const QString &code);
    // The ready-to-send sentence Share… puts on the clipboard.
    static QString shareText(const QString &code);

    static QString natDescription(const LocalInfo &info);
    static QString publicDescription(const LocalInfo &info);
    // "Valid until Tue 14:05", "Valid for one friend, until 14:05"; with the friend finder off,
    // that the friend must paste this code too.
    static QString validityText(const LocalInfo &info, const QDateTime &now);
    // "online", "offline: <why>", "off".
    static QString finderText(const LocalInfo &info);

Q_SIGNALS:
    void codeCopied();
    void codeShared();
    // The user confirmed "New code": the current code is to stop working (Node::newCode).
    void newCodeRequested();

public Q_SLOTS:
    void copyCode(); // the code alone, ungrouped
    void shareCode(); // a sentence with the code, for a chat or an e-mail
    // Asks "Your current code will stop working…" (Cancel is the default), then newCodeRequested.
    void askForNewCode();

protected:
    void changeEvent(QEvent *event) override;

private:
    void updateIcons();

    LocalInfo m_info;
    QLabel *m_name;
    QLabel *m_code;
    QPushButton *m_copy;
    QPushButton *m_share;
    QLabel *m_fingerprint;
    QLabel *m_local;
    QLabel *m_public;
    QLabel *m_nat;
    QLabel *m_natIcon;
    QLabel *m_explanation;
    QLabel *m_validity;
    QPushButton *m_newCode;
    QLabel *m_finder;
    QLabel *m_mapping;
    QLabel *m_relay;
    QLabel *m_stun;
    QFormLayout *m_form = nullptr;
};

} // namespace Punchline
