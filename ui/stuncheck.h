#pragma once
// The window's check of a STUN server as a person writes it (the settings dialog): core's one
// parser, StunClient::parseServer, worded for the dialog.

#include <QString>

namespace Punchline {

// Empty when text is a STUN server ("host:port", "[ipv6]:port", or a host alone for port 3478);
// otherwise a sentence naming the text and saying what is wrong.
QString checkStunServer(const QString &text);

} // namespace Punchline
