#pragma once
// punchline --demo: three windows, three temporary profiles, one machine. Alice connects to Bob
// and Carol (two conversations at once) on loopback as soon as both sides know their addresses;
// Alice greets Bob with a message and a small file, Carol writes to Alice.

#include "engine/commandline.h"

#include <QByteArray>
#include <QObject>
#include <QTemporaryDir>
#include <memory>

namespace Punchline {

class MainWindow;
class Node;

class Demo : public QObject
{
    Q_OBJECT
public:
    // overrides: the shared command-line options (a demo never uses STUN or the saved profile).
    explicit Demo(const NetworkOptions &overrides, QObject *parent = nullptr);
    ~Demo() override; // the windows go before their nodes

    // False (and errorText()) when the temporary profiles cannot be made.
    bool isValid() const { return m_error.isEmpty(); }
    QString errorText() const { return m_error; }
    // Places the windows on the screen (Alice left, Bob and Carol right), shows and starts them.
    void start();

    MainWindow *alice() const { return m_windows[0].get(); }
    MainWindow *bob() const { return m_windows[1].get(); }
    MainWindow *carol() const { return m_windows[2].get(); }
    QString sampleFile() const { return m_sample; }

Q_SIGNALS:
    void aliceGreetedBob(); // the welcome message and the file offer were sent
    void carolGreetedAlice();

private:
    void greetBob();
    void greetAlice();

    std::unique_ptr<QTemporaryDir> m_dirs[3];
    std::unique_ptr<Node> m_nodes[3];
    std::unique_ptr<MainWindow> m_windows[3];
    QString m_error;
    QString m_sample;
    QByteArray m_aliceFingerprint;
    QByteArray m_bobFingerprint;
    QByteArray m_carolFingerprint;
    bool m_bobGreeted = false;
    bool m_aliceGreeted = false;
};

} // namespace Punchline
