#pragma once
// The always-visible connection status: an icon, a headline ("Waiting for Sam…", "Connected to
// Sam") and a detail line (attempt n, path, round-trip time, or the reason and what to try next).

#include "connectionstatus.h"

#include <QFrame>

class QLabel;
class QProgressBar;

namespace Punchline {

class StatusBanner : public QFrame
{
    Q_OBJECT
public:
    explicit StatusBanner(QWidget *parent = nullptr);

    void showStatus(const ConnectionStatus &status);
    QString headline() const;
    QString detail() const;

protected:
    void changeEvent(QEvent *event) override;

private:
    void updateIcon();

    QLabel *m_icon;
    QLabel *m_headline;
    QLabel *m_detail;
    QProgressBar *m_busy;
    QString m_iconName = QStringLiteral("status-idle");
};

} // namespace Punchline
