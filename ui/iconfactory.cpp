#include "iconfactory.h"

#include <QFile>
#include <QHash>
#include <QPainter>
#include <QPixmap>

// Q_INIT_RESOURCE must be used outside any namespace.
static void initPunchlineResources()
{
    Q_INIT_RESOURCE(resources);
}

namespace Punchline {

namespace {

QPixmap tinted(const QIcon &source, int size, const QColor &colour)
{
    QPixmap pixmap = source.pixmap(QSize(size, size));
    if (pixmap.isNull())
        return pixmap;
    QPainter painter(&pixmap);
    painter.setCompositionMode(QPainter::CompositionMode_SourceIn);
    painter.fillRect(pixmap.rect(), colour);
    return pixmap;
}

QIcon sourceIcon(const QString &name)
{
    IconFactory::ensureResources();
    return QIcon(QStringLiteral(":/icons/ui/%1.svg").arg(name));
}

} // namespace

void IconFactory::ensureResources()
{
    static const bool done = [] {
        initPunchlineResources();
        return true;
    }();
    Q_UNUSED(done)
}

QIcon IconFactory::glyph(const QString &name, const QPalette &palette, QPalette::ColorRole role)
{
    // Tinting renders every size: keep the result per glyph, role and palette (UI thread only).
    static QHash<QString, QIcon> cache;
    const QString key = QStringLiteral("%1/%2/%3").arg(name).arg(int(role)).arg(palette.cacheKey());
    const auto hit = cache.constFind(key);
    if (hit != cache.constEnd())
        return *hit;
    if (cache.size() > 512)
        cache.clear();
    const QIcon icon = makeGlyph(name, palette, role);
    cache.insert(key, icon);
    return icon;
}

QIcon IconFactory::makeGlyph(const QString &name, const QPalette &palette, QPalette::ColorRole role)
{
    const QIcon source = sourceIcon(name);
    QIcon icon;
    for (const int size : { 16, 22, 24, 32, 48, 64 }) {
        const QPixmap normal = tinted(source, size, palette.color(QPalette::Active, role));
        if (normal.isNull())
            return source; // no SVG support at run time: the untinted icon is better than none
        icon.addPixmap(normal, QIcon::Normal);
        icon.addPixmap(
            tinted(source, size, palette.color(QPalette::Disabled, role)), QIcon::Disabled);
        icon.addPixmap(
            tinted(source, size, palette.color(QPalette::Active, QPalette::HighlightedText)),
            QIcon::Selected);
    }
    return icon;
}

QPixmap IconFactory::pixmap(
    const QString &name, const QPalette &palette, int size, QPalette::ColorRole role)
{
    return tinted(sourceIcon(name), size, palette.color(QPalette::Active, role));
}

QIcon IconFactory::appIcon()
{
    ensureResources();
    QIcon icon(QStringLiteral(":/icons/punchline.svg"));
    for (const int size : { 16, 32, 48, 64, 128, 256 }) {
        const QString png = QStringLiteral(":/icons/png/punchline-%1.png").arg(size);
        if (QFile::exists(png))
            icon.addFile(png, QSize(size, size));
    }
    return icon;
}

} // namespace Punchline
