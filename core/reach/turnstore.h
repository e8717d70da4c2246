#pragma once
// The TURN servers of a profile, with their credentials: <profile>/turn.json, readable and
// writable by the owner only (0600, as the identity key), so another user of the machine cannot
// borrow the account. The one place they are stored; the CLI and the window read and write it.

#include "common/types.h"

#include <QString>
#include <QStringList>
#include <optional>

namespace Punchline::TurnStore {

inline constexpr const char *FileName = "turn.json";

// The servers as the user wrote them ("turn:USER:PASS@HOST:PORT"); a missing file is an empty
// list. Entries parseTurnServer() refuses are left out and named in *error (without their
// passwords). A file others may read is restricted to the owner first.
std::optional<QStringList> load(const QString &profileDir, Error *error = nullptr);
// Replaces the list (an empty list removes the file). The file is owner-only before any
// credential is written into it.
bool save(const QString &profileDir, const QStringList &servers, Error *error = nullptr);

} // namespace Punchline::TurnStore
