#include "chatinput.h"

#include <QKeyEvent>
#include <QTextBlock>
#include <QTextDocument>
#include <QTextLayout>

#include <algorithm>

namespace Punchline {

namespace {
constexpr int MinLines = 2;
constexpr int MaxLines = 8;
} // namespace

ChatInput::ChatInput(QWidget *parent)
    : QPlainTextEdit(parent)
{
    setTabChangesFocus(true); // Tab moves on (keyboard users); no tabs typed into messages
    setSizePolicy(QSizePolicy::Expanding, QSizePolicy::Fixed);
    connect(this, &QPlainTextEdit::textChanged, this, &ChatInput::adjustHeight);
    adjustHeight();
}

int ChatInput::heightForLines(int lines) const
{
    const int margins = int(document()->documentMargin() * 2) + contentsMargins().top()
        + contentsMargins().bottom();
    return fontMetrics().lineSpacing() * lines + margins + 2;
}

QSize ChatInput::sizeHint() const
{
    return { QPlainTextEdit::sizeHint().width(), height() };
}

QSize ChatInput::minimumSizeHint() const
{
    return { QPlainTextEdit::minimumSizeHint().width(), heightForLines(MinLines) };
}

void ChatInput::adjustHeight()
{
    // Grows with the text up to MaxLines, then scrolls.
    int lines = 0;
    for (QTextBlock block = document()->begin(); block.isValid() && lines <= MaxLines;
         block = block.next())
        lines += std::max(1, block.layout() ? block.layout()->lineCount() : 1);
    setFixedHeight(heightForLines(std::clamp(lines, MinLines, MaxLines)));
}

void ChatInput::keyPressEvent(QKeyEvent *event)
{
    const bool enter = event->key() == Qt::Key_Return || event->key() == Qt::Key_Enter;
    if (enter && !(event->modifiers() & Qt::ShiftModifier)) {
        Q_EMIT submitted();
        event->accept();
        return;
    }
    if (enter) {
        // Shift+Enter: a plain new line (QPlainTextEdit would insert a line separator otherwise).
        textCursor().insertText(QStringLiteral("\n"));
        event->accept();
        return;
    }
    QPlainTextEdit::keyPressEvent(event);
}

} // namespace Punchline
