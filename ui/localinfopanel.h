#pragma once
// "You": this side's name, Punchline code (shown whole: wrapped, monospace, in groups of five)
// with one-click Copy and Share…, and the addresses and router behaviour discovery found, each
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
    QWidget *codeField() const;
    QString shownCode() const; // as displayed, grouped

    // "PL1-ABCDE FGHIJ …": groups of five after the prefix (whitespace inside a code is ignored
    // when it is pasted back).
    static QString groupedCode(const QString &code);
    // The ready-to-send sentence Share… puts on the clipboard.
    static QString shareText(const QString &code);

    static QString natDescription(const LocalInfo &info);
    static QString publicDescription(const LocalInfo &info);

Q_SIGNALS:
    void codeCopied();
    void codeShared();

public Q_SLOTS:
    void copyCode(); // the code alone, ungrouped
    void shareCode(); // a sentence with the code, for a chat or an e-mail

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
    QLabel *m_mapping; // what the router said to port mapping; its row hidden while it is off
    QFormLayout *m_form;
};

} // namespace Punchline
