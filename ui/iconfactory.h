#pragma once
// The window's icons: monochrome SVG glyphs from the resources, tinted with a palette colour so
// they follow light and dark themes, plus the application icon.

#include <QIcon>
#include <QPalette>
#include <QString>

namespace Punchline {

class IconFactory
{
public:
    // ":/icons/ui/<name>.svg" drawn in the palette's role colour (disabled state included).
    static QIcon glyph(const QString &name, const QPalette &palette,
        QPalette::ColorRole role = QPalette::ButtonText);
    // Same glyph as a pixmap, for labels.
    static QPixmap pixmap(const QString &name, const QPalette &palette, int size,
        QPalette::ColorRole role = QPalette::WindowText);
    static QIcon appIcon();
    // The static library's resources are not registered on their own: every entry point calls this.
    static void ensureResources();

private:
    static QIcon makeGlyph(const QString &name, const QPalette &palette, QPalette::ColorRole role);
};

} // namespace Punchline
