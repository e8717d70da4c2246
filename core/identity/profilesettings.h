#pragma once
// Small per-profile preferences that must survive restarts: the display name friends see and the
// local port (so the addresses in a code stay valid across restarts). <profile>/profile.json.

#include "common/types.h"

#include <QString>

namespace Punchline {

class ProfileSettings
{
public:
    static constexpr const char *FileName = "profile.json";

    explicit ProfileSettings(const QString &profileDir);

    // A missing file gives defaults (empty name, port 0). A damaged file is moved aside to
    // profile.json.damaged; defaults are used and an IdentityError says so (returns false).
    bool load(Error *error = nullptr);
    bool save(Error *error = nullptr) const;

    QString displayName() const { return m_displayName; }
    // Cleaned (no control characters) and cut to 64 UTF-8 bytes.
    void setDisplayName(const QString &name);
    quint16 port() const { return m_port; } // 0 = none saved yet
    void setPort(quint16 port) { m_port = port; }

private:
    QString m_path;
    QString m_displayName;
    quint16 m_port = 0;
};

} // namespace Punchline
