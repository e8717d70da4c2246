#pragma once
// The profile's small JSON files: read with a size cap, written atomically (QSaveFile), and a
// damaged file is moved aside instead of being overwritten.

#include "common/types.h"

#include <QJsonObject>
#include <QString>
#include <optional>

namespace Punchline::JsonFile {

// Missing file: an empty object. Unreadable or damaged: the file is renamed to
// "<path>.damaged" (replacing an older one), *error says so, nullopt.
std::optional<QJsonObject> read(const QString &path, Error *error);
bool write(const QString &path, const QJsonObject &object, Error *error);

} // namespace Punchline::JsonFile
