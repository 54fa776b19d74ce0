// A compiled log_line_prefix: matches the prefix of a stderr-format log line without regular
// expressions and fills the entry fields it carries (time, pid, user, database...). Escapes
// understood: %m %t %n %s (times), %p %l %c %v %x %e %i %b %Q (skipped or pid), %u %d %a %h %r,
// %q (the rest is only printed for session processes) and %%. Immutable after construction;
// safe to share between threads.
#pragma once

#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "diagnose/log_entry.hpp"

namespace dbmedic::diagnose {

class LogLinePrefix {
 public:
  // Throws Error(kUsage) for an escape it cannot parse.
  explicit LogLinePrefix(std::string_view prefix);

  // Matches the start of `line`; fills time/pid/user/database/application/client of `entry`
  // and returns the length of the prefix, or nullopt if the line does not start with it.
  std::optional<std::size_t> Match(std::string_view line, LogEntry& entry) const;

  const std::string& text() const { return text_; }

 private:
  struct Token {
    char escape = 0;      // 0: literal
    std::string literal;  // for literals
  };
  std::optional<std::size_t> MatchEscape(const Token& token, const Token* next,
                                         std::string_view rest, LogEntry& entry) const;

  std::string text_;
  std::vector<Token> tokens_;
};

// After the prefix: "SEVERITY:  text". Returns the severity and sets `text`; kUnknown (and
// leaves `text`) if the line does not continue that way.
Severity ParseSeverityAndText(std::string_view after_prefix, std::string_view& text);

// The log_line_prefix settings most servers use (Debian's default first), for detection.
std::span<const std::string_view> CommonPrefixes();

// Picks the prefix among `candidates` that parses most of `sample_lines` (lines that start with
// a tab are ignored). nullopt if none parses any line.
std::optional<std::string> DetectPrefix(std::span<const std::string> sample_lines,
                                        std::span<const std::string_view> candidates);

}  // namespace dbmedic::diagnose
