#pragma once
// One offer in a conversation's stream: name, files and sizes, progress, rate and time left, and
// the buttons that fit its state (Accept / Decline, Cancel, Open, Open folder). A received file
// shows the name it was actually saved under. Failures and resumed transfers say so in words.

#include "common/types.h"

#include <QFrame>

class QLabel;
class QProgressBar;
class QPushButton;
class QToolButton;
class QTreeWidget;

namespace Punchline {

class TransferItem : public QFrame
{
    Q_OBJECT
public:
    static constexpr int MaxListedFiles = 1000;

    explicit TransferItem(const TransferInfo &info, QWidget *parent = nullptr);

    void setInfo(const TransferInfo &info);
    void setPeerName(const QString &name);
    // False while the friend is away: a running transfer shows "Paused — waiting for <friend>"
    // (core keeps what arrived and continues the same transfer when they are back).
    void setPeerPresent(bool present);
    bool isPaused() const;
    const TransferInfo &info() const { return m_info; }
    bool isFinished() const;
    bool isActive() const; // offered, accepted or moving bytes
    QString stateText() const;
    QString detailText() const;
    QPushButton *acceptButton() const { return m_accept; }
    QPushButton *openFileButton() const { return m_openFile; }
    QPushButton *openFolderButton() const { return m_open; }

    static QString stateTextFor(const TransferInfo &info, const QString &peerName);
    static QString detailTextFor(const TransferInfo &info);
    static QString folderToOpen(const TransferInfo &info);
    // The file to open when done (a single received or sent file), else empty.
    static QString fileToOpen(const TransferInfo &info);
    // The name shown: the offer's name, or for a received file the name it was saved under
    // ("report (1).pdf" when "report.pdf" existed).
    static QString shownName(const TransferInfo &info);

Q_SIGNALS:
    void acceptRequested(const QString &id);
    void declineRequested(const QString &id);
    void cancelRequested(const QString &id);
    void openFolderRequested(const QString &folder);
    void openFileRequested(const QString &path);

protected:
    void changeEvent(QEvent *event) override;

private:
    void refresh();
    void fillFiles();
    void updateIcons();

    TransferInfo m_info;
    QString m_peerName;
    bool m_peerPresent = true;
    int m_filledFiles = -1;
    QLabel *m_icon;
    QLabel *m_name;
    QLabel *m_state;
    QLabel *m_summary;
    QProgressBar *m_progress;
    QLabel *m_detail;
    QToolButton *m_filesToggle;
    QTreeWidget *m_files;
    QPushButton *m_accept;
    QPushButton *m_decline;
    QPushButton *m_cancel;
    QPushButton *m_open;
    QPushButton *m_openFile;
};

} // namespace Punchline
