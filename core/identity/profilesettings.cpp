#include "profilesettings.h"

#include "common/textfilter.h"
#include "jsonfile.h"

#include <QDir>
#include <QJsonObject>

namespace Punchline {

namespace {
constexpr int MaxNameBytes = 64;
}

ProfileSettings::ProfileSettings(const QString &profileDir)
    : m_path(QDir(profileDir).filePath(QString::fromLatin1(FileName)))
{
}

bool ProfileSettings::load(Error *error)
{
    m_displayName.clear();
    m_port = 0;
    const auto root = JsonFile::read(m_path, error);
    if (!root)
        return false;
    setDisplayName(root->value(QStringLiteral("displayName")).toString());
    const int port = root->value(QStringLiteral("port")).toInt(0);
    m_port = port > 0 && port <= 65535 ? quint16(port) : 0;
    return true;
}

bool ProfileSettings::save(Error *error) const
{
    QJsonObject root { { QStringLiteral("version"), 1 },
        { QStringLiteral("displayName"), m_displayName } };
    if (m_port != 0)
        root.insert(QStringLiteral("port"), int(m_port));
    return JsonFile::write(m_path, root, error);
}

void ProfileSettings::setDisplayName(const QString &name)
{
    m_displayName = sanitizeDisplayName(name, MaxNameBytes);
}

} // namespace Punchline
