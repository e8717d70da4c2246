#pragma once
// An inline message strip at the top of the window (like KMessageWidget): says what went wrong
// and what to do, without a modal dialog in the way. Hidden until show*() is called.

#include <QFrame>

class QLabel;
class QToolButton;

namespace Punchline {

class NoticeBar : public QFrame
{
    Q_OBJECT
public:
    enum class Kind { Info, Warning, Error };

    explicit NoticeBar(QWidget *parent = nullptr);

    void showNotice(Kind kind, const QString &text);
    QString text() const;
    Kind kind() const { return m_kind; }

protected:
    void changeEvent(QEvent *event) override;

private:
    void updateIcon();

    QLabel *m_icon;
    QLabel *m_text;
    QToolButton *m_close;
    Kind m_kind = Kind::Info;
};

} // namespace Punchline
