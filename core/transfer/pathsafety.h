#pragma once
// The receiver's name validator (croc's lessons): a peer-supplied relative path is accepted only
// if it cannot leave the download folder, address a device, hide escape sequences or confuse
// Windows tools later. Also the naming rules for "name (1).ext" and partial files.

#include <QString>

namespace Punchline {

class PathSafety
{
public:
    static constexpr int MaxPathBytes = 1024; // UTF-8, whole relative path
    static constexpr int MaxComponentBytes = 255; // UTF-8, one name (NAME_MAX)
    static constexpr int MaxDepth = 64;
    static QString partialSuffix() { return QStringLiteral(".punchline-part"); }

    // The NFC form of a '/'-separated relative path, or a null QString (and *why, a sentence
    // fragment such as "contains '..'") when the path is unsafe.
    static QString normalizedRelativePath(const QString &path, QString *why = nullptr);
    // One already-NFC name (no '/').
    static bool isSafeComponent(const QString &name, QString *why = nullptr);
    // CON, PRN, AUX, NUL, COM1-9, LPT1-9 (also "nul.txt", "COM1 .log", superscript digits).
    static bool isWindowsDeviceName(const QString &name);

    // "name.ext" -> "name (n).ext" (".tar.gz" kept together), within MaxComponentBytes.
    static QString numberedName(const QString &name, int n);
    // "name.ext" -> "name.ext.<tag>.punchline-part", within MaxComponentBytes.
    static QString partialName(const QString &name, const QString &tag);
    // Peer-provided text made safe to show: control/format characters replaced, length capped.
    static QString displaySafe(const QString &text, int maxChars = 200);
    // Cut to at most maxBytes of UTF-8 without splitting a character.
    static QString truncatedToUtf8Bytes(const QString &text, int maxBytes);
};

} // namespace Punchline
