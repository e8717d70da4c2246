#pragma once
// The friend's side: a field for the friend's code or addresses, checked on every keystroke
// (parsePeerInput), with Connect / Cancel / Disconnect following the engine's state.

#include "common/types.h"
#include "identity/peercode.h"

#include <QWidget>

class QLabel;
class QLineEdit;
class QPushButton;

namespace Punchline {

class ConnectBar : public QWidget
{
    Q_OBJECT
public:
    explicit ConnectBar(QWidget *parent = nullptr);

    void setState(State state);
    void setOwnFingerprint(const QByteArray &fingerprint)
    {
        m_ownFingerprint = fingerprint;
        validate();
    }
    QLineEdit *field() const { return m_field; }
    QPushButton *connectButton() const { return m_connect; }
    QWidget *lastInTabOrder() const;
    const PeerInput &input() const { return m_input; }
    bool isInputValid() const; // parsable and not our own code
    QString validationText() const;
    // One short sentence for a code or address that cannot be used.
    static QString problemText(const QString &text, const Error &error);

Q_SIGNALS:
    void connectRequested(const QString &codeOrAddresses, const QString &expectedName);
    void cancelRequested();
    void disconnectRequested();

public Q_SLOTS:
    void requestConnect();

protected:
    void changeEvent(QEvent *event) override;

private:
    void validate();
    void updateButtons();
    void updateIcons();
    void updateValidityIcon();

    QLineEdit *m_field;
    QLabel *m_validIcon;
    QLabel *m_validText;
    QPushButton *m_connect;
    QPushButton *m_cancel;
    QPushButton *m_disconnect;
    PeerInput m_input;
    QString m_inputText; // the part of the field that is the code (a pasted invite has more)
    QString m_iconName;
    QByteArray m_ownFingerprint;
    State m_state = State::Idle;
};

} // namespace Punchline
