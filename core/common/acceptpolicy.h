#pragma once
// What happens to an incoming transfer offer before the user sees it. Lives in common (not in
// engine/settings.h) because the transfer module below the engine needs it.

namespace Punchline {

enum class AcceptPolicy { Ask, All, None };

} // namespace Punchline
