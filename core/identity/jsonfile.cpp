#include "jsonfile.h"

#include "common/logging.h"

#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QJsonDocument>
#include <QJsonParseError>
#include <QSaveFile>

namespace Punchline::JsonFile {

namespace {

constexpr qint64 MaxBytes = qint64(4) * 1024 * 1024;

void setError(Error *error, const QString &message)
{
    qCWarning(lcIdentity).noquote() << message;
    if (error)
        *error = Error { ErrorCode::IdentityError, message };
}

} // namespace

std::optional<QJsonObject> read(const QString &path, Error *error)
{
    QFile file(path);
    if (!file.exists())
        return QJsonObject();
    QString why;
    QJsonObject object;
    if (!file.open(QIODevice::ReadOnly)) {
        setError(error, QStringLiteral("cannot read %1: %2").arg(path, file.errorString()));
        return std::nullopt; // unreadable, but maybe not damaged: leave it where it is
    }
    if (file.size() > MaxBytes) {
        why = QStringLiteral("it is too large");
    } else {
        QJsonParseError parseError;
        const QJsonDocument doc = QJsonDocument::fromJson(file.readAll(), &parseError);
        if (parseError.error != QJsonParseError::NoError)
            why = parseError.errorString();
        else if (!doc.isObject())
            why = QStringLiteral("it does not hold a JSON object");
        else
            object = doc.object();
    }
    file.close();
    if (why.isEmpty())
        return object;
    const QString aside = path + QStringLiteral(".damaged");
    QFile::remove(aside);
    const bool moved = QFile::rename(path, aside);
    setError(error,
        moved ? QStringLiteral("%1 was damaged (%2); it was moved to %3 and Punchline "
                               "starts from an empty one")
                    .arg(QFileInfo(path).fileName(), why, aside)
              : QStringLiteral("%1 is damaged (%2) and could not be moved aside").arg(path, why));
    return std::nullopt;
}

bool write(const QString &path, const QJsonObject &object, Error *error)
{
    QDir().mkpath(QFileInfo(path).absolutePath());
    QSaveFile file(path);
    const QByteArray data = QJsonDocument(object).toJson(QJsonDocument::Indented);
    // Owner-only: these files hold friends' rendezvous secrets and relay credentials.
    if (!file.open(QIODevice::WriteOnly)
        || !file.setPermissions(QFileDevice::ReadOwner | QFileDevice::WriteOwner)
        || file.write(data) != data.size() || !file.commit()) {
        setError(error, QStringLiteral("cannot save %1: %2").arg(path, file.errorString()));
        return false;
    }
    return true;
}

} // namespace Punchline::JsonFile
