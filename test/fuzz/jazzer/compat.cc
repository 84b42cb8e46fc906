// What the prebuilt Jazzer.js addon (@jazzer.js/fuzzer 4.0.0, linux-x64) needs of a C library and a
// C++ library newer than Debian bookworm's (glibc 2.36, libstdc++ of GCC 12): glibc 2.38's C23
// strtol/strtoul, which differ from the old ones only in reading 0b binary prefixes, and GCC 13's
// iostream initialisation hook. Loaded into the process before the addon (see loader.ts), with
// its symbols global, so that the addon, whose need of those versions is marked weak, finds them.
// Built by compat.ts with g++ when the addon does not load as it is.

#include <cstdlib>
#include <ios>
#include <node_api.h>

extern "C" long __isoc23_strtol(const char *text, char **end, int base) { return std::strtol(text, end, base); }
extern "C" unsigned long __isoc23_strtoul(const char *text, char **end, int base) { return std::strtoul(text, end, base); }

namespace std {
// GCC 13 calls this from every translation unit that includes <iostream>, instead of each one
// holding its own static ios_base::Init.
void ios_base_library_init() { static ios_base::Init init; }
}

// A Node-API module with nothing in it: node loads it like any addon, which is what puts the
// functions above into the process.
NAPI_MODULE_INIT() { return exports; }
