#include "diagnose/log_prefix.hpp"

#include <charconv>

#include <fmt/format.h>

#include "core/error.hpp"

namespace dbmedic::diagnose {
namespace {

constexpr std::string_view kKnownEscapes = "mtnsplcvxeibQudahrq";

constexpr std::string_view kCommon[] = {
    "%m [%p] %q%u@%d ",  // Debian's default
    "%t [%p]: [%l-1] user=%u,db=%d,app=%a,client=%h ",  // pgBadger's recommendation
    "%m [%p]: [%l-1] user=%u,db=%d,app=%a,client=%h ",
    "%t [%p]: user=%u,db=%d,app=%a,client=%h ",
    "%m [%p]: user=%u,db=%d,app=%a,client=%h ",
    "%t [%p]: [%l-1] ",
    "%m [%p] %q[user=%u,db=%d,app=%a] ",
    "%t [%p]: [%l-1] user=%u,db=%d ",  // pgBadger's older recommendation
    "%m [%p]: [%l-1] db=%d,user=%u ",  // Google Cloud SQL
    "%t:%r:%u@%d:[%p]:",               // Amazon RDS
    "%t-%c-",                          // Azure Database for PostgreSQL
    "%t [%p-%l] %q%u@%d ",             // Debian's default before PostgreSQL 10
    "%m [%p] ",  // PostgreSQL's own default
    "%t [%p] ",
    "%m ",
    "%t ",
};

bool IsDigitChar(char c) { return c >= '0' && c <= '9'; }
bool IsLetter(char c) { return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z'); }

// After a timestamp's space: the zone as PostgreSQL prints it, an abbreviation ("UTC", "CEST")
// or an offset ("+03", "-0330"). Not "up to the next space": RDS's "%t:%r:..." puts a ':'
// right after it.
std::size_t SkipTimeZone(std::string_view text, std::size_t pos) {
  if (pos < text.size() && (text[pos] == '+' || text[pos] == '-')) {
    ++pos;
    while (pos < text.size() && (IsDigitChar(text[pos]) || text[pos] == ':')) ++pos;
    return pos;
  }
  while (pos < text.size() && IsLetter(text[pos])) ++pos;
  return pos;
}

}  // namespace

LogLinePrefix::LogLinePrefix(std::string_view prefix) : text_(prefix) {
  for (std::size_t i = 0; i < prefix.size(); ++i) {
    char c = prefix[i];
    if (c == '%' && i + 1 < prefix.size() && prefix[i + 1] != '%') {
      char e = prefix[++i];
      // %-10u style padding is rare in practice; refuse it clearly rather than mis-parse.
      if (kKnownEscapes.find(e) == std::string_view::npos) {
        throw Error(ErrorCode::kUsage,
                    fmt::format("log_line_prefix '{}' has escape '%{}' that log-report cannot "
                                "parse", prefix, e),
                    "use the server's log_line_prefix without padding, or csvlog");
      }
      tokens_.push_back(Token{e, {}});
      continue;
    }
    if (c == '%') ++i;  // "%%" is a literal '%'
    if (tokens_.empty() || tokens_.back().escape != 0) tokens_.push_back(Token{});
    tokens_.back().literal.push_back(c);
  }
}

std::optional<std::size_t> LogLinePrefix::Match(std::string_view line, LogEntry& entry) const {
  std::size_t pos = 0;
  for (std::size_t t = 0; t < tokens_.size(); ++t) {
    const Token& token = tokens_[t];
    std::string_view rest = line.substr(pos);
    if (token.escape == 0) {
      if (!rest.starts_with(token.literal)) return std::nullopt;
      pos += token.literal.size();
      continue;
    }
    if (token.escape == 'q') {
      // Background processes stop printing here: accept if a severity follows right away.
      std::string_view text;
      if (ParseSeverityAndText(rest, text) != Severity::kUnknown) return pos;
      continue;
    }
    const Token* next = t + 1 < tokens_.size() ? &tokens_[t + 1] : nullptr;
    auto used = MatchEscape(token, next, rest, entry);
    if (!used) return std::nullopt;
    pos += *used;
  }
  return pos;
}

std::optional<std::size_t> LogLinePrefix::MatchEscape(const Token& token, const Token* next,
                                                      std::string_view rest,
                                                      LogEntry& entry) const {
  switch (token.escape) {
    case 'm': case 't': case 's': {
      std::int64_t seconds = 0;
      std::size_t used = 0;
      if (!ParseLogTimestamp(rest, seconds, used)) return std::nullopt;
      if (token.escape != 's') entry.time = seconds;
      if (used < rest.size() && rest[used] == ' ') used = SkipTimeZone(rest, used + 1);
      return used;
    }
    case 'n': {
      std::size_t used = 0;
      while (used < rest.size() && (IsDigitChar(rest[used]) || rest[used] == '.')) ++used;
      if (used == 0) return std::nullopt;
      std::int64_t seconds = 0;
      std::from_chars(rest.data(), rest.data() + used, seconds);
      entry.time = seconds;
      return used;
    }
    default: break;
  }
  // Variable text: up to the first character of the next literal (or a space).
  char stop = ' ';
  if (next != nullptr && next->escape == 0) stop = next->literal[0];
  std::size_t used = rest.find(stop);
  if (used == std::string_view::npos) return std::nullopt;
  std::string_view value = rest.substr(0, used);
  switch (token.escape) {
    case 'p': {
      if (value.empty()) return std::nullopt;
      auto [ptr, ec] = std::from_chars(value.data(), value.data() + value.size(), entry.pid);
      if (ec != std::errc() || ptr != value.data() + value.size()) return std::nullopt;
      break;
    }
    case 'l':
      if (value.empty() || !IsDigitChar(value[0])) return std::nullopt;
      break;
    case 'u': entry.user.assign(value); break;
    case 'd': entry.database.assign(value); break;
    case 'a': entry.application.assign(value); break;
    case 'h': case 'r': entry.client.assign(value); break;
    default: break;
  }
  return used;
}

Severity ParseSeverityAndText(std::string_view s, std::string_view& text) {
  std::size_t i = 0;
  while (i < s.size() && ((s[i] >= 'A' && s[i] <= 'Z') || IsDigitChar(s[i]))) ++i;
  if (i == 0 || i + 3 > s.size() || s[i] != ':' || s[i + 1] != ' ' || s[i + 2] != ' ') {
    return Severity::kUnknown;
  }
  Severity severity = ParseSeverity(s.substr(0, i));
  if (severity != Severity::kUnknown) text = s.substr(i + 3);
  return severity;
}

std::span<const std::string_view> CommonPrefixes() { return kCommon; }

std::optional<std::string> DetectPrefix(std::span<const std::string> sample_lines,
                                        std::span<const std::string_view> candidates) {
  std::optional<std::string> best;
  int best_score = 0;
  LogEntry scratch;
  for (std::string_view candidate : candidates) {
    LogLinePrefix prefix(candidate);
    int score = 0;
    for (const std::string& line : sample_lines) {
      if (line.empty() || line[0] == '\t') continue;
      auto used = prefix.Match(line, scratch);
      std::string_view text;
      if (used && ParseSeverityAndText(std::string_view(line).substr(*used), text) !=
                      Severity::kUnknown) {
        ++score;
      }
    }
    if (score > best_score) {
      best_score = score;
      best = std::string(candidate);
    }
  }
  return best;
}

}  // namespace dbmedic::diagnose
