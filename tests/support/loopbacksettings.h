#pragma once
// Settings for a Node in a test: its own profile and download folders under dir, loopback only,
// no STUN or IP echo (tests never leave the machine), any free port.

#include "engine/settings.h"

namespace Punchline {

inline Settings loopbackSettings(const QString &dir, const QString &name)
{
    Settings s;
    s.profileDir = dir + QStringLiteral("/profile");
    s.displayName = name;
    s.port = 0;
    s.localAddresses = { QStringLiteral("127.0.0.1") };
    s.downloadDir = dir + QStringLiteral("/downloads");
    s.discoveryTimeoutMs = 1000;
    s.connectTimeoutMs = 30000;
    return s;
}

} // namespace Punchline
