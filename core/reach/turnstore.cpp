#include "turnstore.h"

#include "identity/jsonfile.h"
#include "reach/turnclient.h"

#include <QDir>
#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QSaveFile>

namespace Punchline::TurnStore {

namespace {

constexpr QFileDevice::Permissions OwnerOnly = QFileDevice::ReadOwner | QFileDevice::WriteOwner;

QString pathIn(const QString &profileDir)
{
    return QDir(profileDir).filePath(QString::fromLatin1(FileName));
}

} // namespace

std::optional<QStringList> load(const QString &profileDir, Error *error)
{
    const QString path = pathIn(profileDir);
    constexpr QFileDevice::Permissions others = QFileDevice::ReadGroup | QFileDevice::WriteGroup
        | QFileDevice::ExeGroup | QFileDevice::ReadOther | QFileDevice::WriteOther
        | QFileDevice::ExeOther;
    if (QFile::exists(path) && (QFile::permissions(path) & others))
        QFile::setPermissions(path, OwnerOnly);
    const std::optional<QJsonObject> root = JsonFile::read(path, error);
    if (!root)
        return std::nullopt;
    QStringList servers;
    QStringList refused;
    const QJsonArray list = root->value(QStringLiteral("servers")).toArray();
    for (const QJsonValue &v : list) {
        const QString text = v.toString();
        Error why;
        if (parseTurnServer(text, &why))
            servers << text.trimmed();
        else
            refused << why.message; // never the password
    }
    if (!refused.isEmpty() && error)
        *error = { ErrorCode::BadUsage,
            QStringLiteral("%1 has TURN servers that cannot be used: %2")
                .arg(path, refused.join(QLatin1Char(' '))) };
    return servers;
}

bool save(const QString &profileDir, const QStringList &servers, Error *error)
{
    const QString path = pathIn(profileDir);
    if (servers.isEmpty()) {
        if (!QFile::exists(path) || QFile::remove(path))
            return true;
        if (error)
            *error = { ErrorCode::IdentityError, QStringLiteral("cannot remove %1").arg(path) };
        return false;
    }
    QDir().mkpath(profileDir);
    const QJsonObject root { { QStringLiteral("version"), 1 },
        { QStringLiteral("servers"), QJsonArray::fromStringList(servers) } };
    const QByteArray data = QJsonDocument(root).toJson(QJsonDocument::Indented);
    QSaveFile file(path);
    // Restricted before the credentials are in it; the rename keeps the mode.
    const bool ok = file.open(QIODevice::WriteOnly) && file.setPermissions(OwnerOnly)
        && file.write(data) == data.size() && file.commit();
    if (!ok) {
        file.cancelWriting();
        if (error)
            *error = { ErrorCode::IdentityError,
                QStringLiteral("cannot save %1: %2").arg(path, file.errorString()) };
        return false;
    }
    QFile::setPermissions(path, OwnerOnly);
    return true;
}

} // namespace Punchline::TurnStore
