// SQL fingerprints: statements that differ only in literals, parameters, IN-list lengths,
// comments, whitespace or keyword case get the same normalised text and the same 64-bit id.
// Pure functions; safe from any thread.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace dbmedic::diagnose {

// Normalises `sql`: literals (strings, numbers, dollar-quoted bodies, typed literals) and
// parameters ($1) become '?'; a parenthesised or bracketed list made only of '?' becomes "(...)"
// / "[...]", and a run of such lists ("VALUES (?,?), (?,?)") becomes one; comments are dropped;
// unquoted words are lower-cased; tokens are separated by single spaces (none after "(", "[",
// ".", "::", none before ")", "]", ",", ".", "::"); a trailing ';' is dropped.
std::string NormalizeQuery(std::string_view sql);

// FNV-1a 64 of a normalised text.
std::uint64_t FingerprintOf(std::string_view normalized);

// 16 lower-case hex digits, the form shown to users.
std::string FingerprintHex(std::uint64_t fingerprint);

// Normalises an error message for grouping: quoted parts ("..." and '...') and numbers become
// '?' so that `relation "t1" does not exist` and `relation "t2" does not exist` group together.
std::string NormalizeMessage(std::string_view message);

}  // namespace dbmedic::diagnose
