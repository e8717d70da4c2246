#pragma once
// The one place the window checks a STUN server's "host:port" (settings dialog, --stun). Core will
// get a parser of its own for host:port; this function is where it plugs in.

#include <QString>

namespace Punchline {

// Empty when text is host:port (port 1-65535, a host without spaces or slashes); otherwise a
// sentence naming the text.
QString checkStunServer(const QString &text);

} // namespace Punchline
