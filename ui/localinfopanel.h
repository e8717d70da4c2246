#pragma once
// "You": this side's name, Punchline code with one-click Copy, and the addresses and router
// behaviour discovery found, each explained in plain words.

#include "common/types.h"

#include <QWidget>

class QLabel;
class QLineEdit;
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
    QWidget *codeField() const;

    static QString natDescription(const LocalInfo &info);
    static QString publicDescription(const LocalInfo &info);

Q_SIGNALS:
    void codeCopied();

public Q_SLOTS:
    void copyCode();

protected:
    void changeEvent(QEvent *event) override;

private:
    void updateIcons();

    LocalInfo m_info;
    QLabel *m_name;
    QLineEdit *m_code;
    QPushButton *m_copy;
    QLabel *m_fingerprint;
    QLabel *m_local;
    QLabel *m_public;
    QLabel *m_nat;
    QLabel *m_natIcon;
    QLabel *m_explanation;
};

} // namespace Punchline
