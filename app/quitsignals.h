#pragma once
// SIGINT and SIGTERM (Ctrl-C, kill, a session's logout) end the program the polite way: the
// handler runs from the event loop, the program returns from main, and Node's destructor says
// Bye to every friend and resets each direct connection once the Bye is acknowledged (no
// TIME_WAIT left for a restart to run into). SIGKILL cannot be caught: then the kernel closes
// the sockets with a plain FIN, and the friend's side finds out when the link breaks.
// Shared by punchline (the window) and punchline-cli. POSIX only; elsewhere it does nothing.

#include <functional>

class QObject;

namespace Punchline {

// Calls onSignal (on context's thread, from the event loop) each time SIGINT or SIGTERM arrives.
// Call once, after the application object exists.
void callOnQuitSignals(QObject *context, std::function<void()> onSignal);

} // namespace Punchline
