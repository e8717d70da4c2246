#pragma once
// The multi-line message box: Enter sends, Shift+Enter starts a new line. Pasting or dropping
// rich text inserts it as plain text.

#include <QPlainTextEdit>

namespace Punchline {

class ChatInput : public QPlainTextEdit
{
    Q_OBJECT
public:
    explicit ChatInput(QWidget *parent = nullptr);

    QSize sizeHint() const override;
    QSize minimumSizeHint() const override;

Q_SIGNALS:
    void submitted(); // Enter (or Ctrl+Enter) pressed

protected:
    void keyPressEvent(QKeyEvent *event) override;

private:
    void adjustHeight();
    int heightForLines(int lines) const;
};

} // namespace Punchline
