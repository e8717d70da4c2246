#pragma once
// punchline --demo: three windows, three temporary profiles, one machine. Alice connects to Bob
// and Carol (two conversations at once) on loopback as soon as both sides know their addresses;
// Alice greets Bob with a message and a small file, Carol writes to Alice. The same windows, one at
// a time, also play the scenes of the screenshot script (scripts/screenshot.sh).

#include "engine/commandline.h"

#include <QByteArray>
#include <QObject>
#include <QRect>
#include <QTemporaryDir>
#include <memory>
#include <optional>

namespace Punchline {

class MainWindow;
class Node;

class Demo : public QObject
{
    Q_OBJECT
public:
    // Demo: the three windows. The others show one window filling the screen, real nodes behind:
    // Chat (Alice's, Bob replied), Offer (Bob's, Alice offers a file), Transfer (Bob's, a large
    // file arriving), Failed (Alice's, a friend whose address does not answer, on loopback).
    enum class Scene { Demo, Chat, Offer, Transfer, Failed };
    static std::optional<Scene> sceneFromName(const QString &name); // "chat", "offer", ...

    // overrides: the shared command-line options (a demo never uses STUN or the saved profile).
    explicit Demo(
        const NetworkOptions &overrides, Scene scene = Scene::Demo, QObject *parent = nullptr);
    ~Demo() override; // the windows go before their nodes

    // False (and errorText()) when the temporary profiles cannot be made.
    bool isValid() const { return m_error.isEmpty(); }
    QString errorText() const { return m_error; }
    // Places the windows on the primary screen's available area (Alice left, Bob and Carol right,
    // all inside it), shows and starts them.
    void start();
    void start(const QRect &area);

    MainWindow *alice() const { return m_windows[0].get(); }
    MainWindow *bob() const { return m_windows[1].get(); }
    MainWindow *carol() const { return m_windows[2].get(); }
    QString sampleFile() const { return m_sample; }

Q_SIGNALS:
    void aliceGreetedBob(); // the welcome message and the file offer were sent
    void carolGreetedAlice();
    void sceneReady(); // what the scene shows is on screen (the Demo scene: both greetings sent)

private:
    void greetBob();
    void greetAlice();
    void placeDemo(const QRect &area);
    void setUpScene();
    void readyLater();
    MainWindow *shownWindow() const;

    std::unique_ptr<QTemporaryDir> m_dirs[3];
    std::unique_ptr<Node> m_nodes[3];
    std::unique_ptr<MainWindow> m_windows[3];
    Scene m_scene = Scene::Demo;
    QString m_error;
    QString m_sample;
    QString m_large; // the Transfer scene's file
    QString m_failedCode; // the Failed scene's friend
    QByteArray m_aliceFingerprint;
    QByteArray m_bobFingerprint;
    QByteArray m_carolFingerprint;
    bool m_bobGreeted = false;
    bool m_aliceGreeted = false;
    bool m_ready = false;
};

} // namespace Punchline
