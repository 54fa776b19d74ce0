#include "diagnose/fingerprint.hpp"

#include <array>
#include <vector>

namespace dbmedic::diagnose {
namespace {

enum class Kind { kNone, kWord, kLiteral, kOp, kOpen, kClose, kComma, kDot, kCast, kSemicolon };

bool IsWordStart(unsigned char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c >= 0x80;
}
bool IsWordChar(unsigned char c) { return IsWordStart(c) || (c >= '0' && c <= '9') || c == '$'; }
bool IsDigit(unsigned char c) { return c >= '0' && c <= '9'; }
bool IsSpace(unsigned char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}
bool IsOpChar(char c) {
  constexpr std::string_view kOps = "+-*/<>=~!@#%^&|`?";
  return kOps.find(c) != std::string_view::npos;
}
char Lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

// Writes tokens with canonical spacing and collapses placeholder-only lists as they close.
class Writer {
 public:
  explicit Writer(std::size_t reserve) { out_.reserve(reserve); }

  void Emit(Kind kind, std::string_view text) {
    Space(kind);
    if (kind == Kind::kOpen) MarkParent(false);
    out_.append(text);
    Track(kind);
  }
  void EmitLowered(std::string_view word) {
    Space(Kind::kWord);
    for (char c : word) out_.push_back(Lower(c));
    Track(Kind::kWord);
  }
  void EmitClose(char close) {
    Space(Kind::kClose);
    if (!groups_.empty()) {
      Group g = groups_.back();
      groups_.pop_back();
      if (g.only_placeholders && g.has_placeholder) {
        out_.resize(g.start);
        out_ += "...";
        out_.push_back(close);
        CollapseRun(close);
        prev_ = Kind::kClose;
        return;
      }
    }
    out_.push_back(close);
    prev_ = Kind::kClose;
  }
  Kind prev() const { return prev_; }
  std::string_view last_word() const {
    return std::string_view(out_).substr(last_word_start_, last_word_size_);
  }

  std::string Finish() {
    while (!out_.empty() && (out_.back() == ';' || out_.back() == ' ')) out_.pop_back();
    return std::move(out_);
  }

 private:
  struct Group {
    std::size_t start;  // output position just after the opening bracket
    bool only_placeholders = true;
    bool has_placeholder = false;
  };

  void Space(Kind kind) {
    bool no_space_after = prev_ == Kind::kNone || prev_ == Kind::kOpen || prev_ == Kind::kDot ||
                          prev_ == Kind::kCast;
    bool no_space_before = kind == Kind::kClose || kind == Kind::kComma || kind == Kind::kDot ||
                           kind == Kind::kCast || kind == Kind::kSemicolon;
    if (!no_space_after && !no_space_before) out_.push_back(' ');
  }
  void MarkParent(bool keep) {
    if (!groups_.empty() && !keep) groups_.back().only_placeholders = false;
  }
  void Track(Kind kind) {
    if (!groups_.empty()) {
      if (kind == Kind::kLiteral) {
        groups_.back().has_placeholder = true;
      } else if (kind != Kind::kComma && kind != Kind::kOpen) {
        groups_.back().only_placeholders = false;
      }
    }
    if (kind == Kind::kOpen) groups_.push_back(Group{out_.size()});
    if (kind == Kind::kWord) {
      std::size_t start = out_.size();
      while (start > 0 && out_[start - 1] != ' ' && out_[start - 1] != '(' &&
             out_[start - 1] != '.' && out_[start - 1] != ':' && out_[start - 1] != '[') {
        --start;
      }
      last_word_start_ = start;
      last_word_size_ = out_.size() - start;
    } else {
      last_word_size_ = 0;
    }
    prev_ = kind;
  }
  // "(...), (...)" -> "(...)": rows of a multi-row VALUES list count as one.
  void CollapseRun(char close) {
    std::string_view one = close == ')' ? "(...)" : "[...]";
    std::string two = std::string(one) + ", " + std::string(one);
    if (std::string_view(out_).ends_with(two)) out_.resize(out_.size() - one.size() - 2);
  }

  std::string out_;
  std::vector<Group> groups_;
  Kind prev_ = Kind::kNone;
  std::size_t last_word_start_ = 0;  // offsets, not a view: out_ may reallocate
  std::size_t last_word_size_ = 0;
};

// Keywords after which '-' followed by a digit is a sign, not a subtraction.
bool SignContextWord(std::string_view w) {
  constexpr std::array<std::string_view, 16> kWords = {
      "select", "where", "and",   "or",    "when",   "then",  "else",   "by",
      "between", "limit", "offset", "values", "return", "in",    "having", "not"};
  for (auto k : kWords) {
    if (w == k) return true;
  }
  return false;
}

class Normalizer {
 public:
  explicit Normalizer(std::string_view sql) : s_(sql), w_(sql.size()) {}

  std::string Run() {
    while (i_ < s_.size()) Step();
    return w_.Finish();
  }

 private:
  char At(std::size_t k) const { return k < s_.size() ? s_[k] : '\0'; }

  void Step() {
    unsigned char c = static_cast<unsigned char>(s_[i_]);
    if (IsSpace(c)) { ++i_; return; }
    if (c == '-' && At(i_ + 1) == '-') { SkipLineComment(); return; }
    if (c == '/' && At(i_ + 1) == '*') { SkipBlockComment(); return; }
    if (c == '\'') { SkipString(false); w_.Emit(Kind::kLiteral, "?"); return; }
    if (c == '"') { QuotedIdent(); return; }
    if (c == '$') { Dollar(); return; }
    if (IsDigit(c) || (c == '.' && IsDigit(static_cast<unsigned char>(At(i_ + 1))))) {
      Number();
      return;
    }
    if (IsWordStart(c)) { Word(); return; }
    Punct(static_cast<char>(c));
  }

  void SkipLineComment() {
    while (i_ < s_.size() && s_[i_] != '\n') ++i_;
  }
  void SkipBlockComment() {
    int depth = 0;
    while (i_ < s_.size()) {
      if (s_[i_] == '/' && At(i_ + 1) == '*') { ++depth; i_ += 2; continue; }
      if (s_[i_] == '*' && At(i_ + 1) == '/') {
        i_ += 2;
        if (--depth == 0) return;
        continue;
      }
      ++i_;
    }
  }
  // i_ at the opening quote. `backslash`: E'' strings where \' does not end the literal.
  void SkipString(bool backslash) {
    ++i_;
    while (i_ < s_.size()) {
      char c = s_[i_];
      if (backslash && c == '\\') { i_ += 2; continue; }
      if (c == '\'') {
        if (At(i_ + 1) == '\'') { i_ += 2; continue; }
        ++i_;
        return;
      }
      ++i_;
    }
  }
  void QuotedIdent() {
    std::size_t start = i_++;
    while (i_ < s_.size()) {
      if (s_[i_] == '"') {
        if (At(i_ + 1) == '"') { i_ += 2; continue; }
        ++i_;
        break;
      }
      ++i_;
    }
    w_.Emit(Kind::kWord, s_.substr(start, i_ - start));
  }
  void Dollar() {
    std::size_t j = i_ + 1;
    if (IsDigit(static_cast<unsigned char>(At(j)))) {
      while (IsDigit(static_cast<unsigned char>(At(j)))) ++j;
      i_ = j;
      w_.Emit(Kind::kLiteral, "?");
      return;
    }
    while (j < s_.size() && IsWordStart(static_cast<unsigned char>(s_[j]))) ++j;
    while (j < s_.size() && IsWordChar(static_cast<unsigned char>(s_[j])) && s_[j] != '$') ++j;
    if (At(j) != '$') {  // a lone '$': keep it as an operator character
      ++i_;
      w_.Emit(Kind::kOp, "$");
      return;
    }
    std::string_view tag = s_.substr(i_, j + 1 - i_);
    std::size_t end = s_.find(tag, j + 1);
    i_ = end == std::string_view::npos ? s_.size() : end + tag.size();
    w_.Emit(Kind::kLiteral, "?");
  }
  void Number() {
    while (IsDigit(static_cast<unsigned char>(At(i_))) || At(i_) == '.' || At(i_) == '_') ++i_;
    if ((At(i_) == 'e' || At(i_) == 'E') &&
        (IsDigit(static_cast<unsigned char>(At(i_ + 1))) ||
         ((At(i_ + 1) == '+' || At(i_ + 1) == '-') &&
          IsDigit(static_cast<unsigned char>(At(i_ + 2)))))) {
      i_ += 2;
      while (IsDigit(static_cast<unsigned char>(At(i_)))) ++i_;
    }
    // 0x1F, 0o17, 0b101 (PostgreSQL 16) and other alphanumeric tails stay part of the number.
    while (IsWordChar(static_cast<unsigned char>(At(i_))) && At(i_) != '$') ++i_;
    w_.Emit(Kind::kLiteral, "?");
  }
  void Word() {
    std::size_t start = i_;
    while (i_ < s_.size() && IsWordChar(static_cast<unsigned char>(s_[i_]))) ++i_;
    std::string_view word = s_.substr(start, i_ - start);
    if (word.size() == 1 && At(i_) == '\'') {  // E'..', B'..', X'..', N'..'
      char p = Lower(word[0]);
      if (p == 'e' || p == 'b' || p == 'x' || p == 'n') {
        SkipString(p == 'e');
        w_.Emit(Kind::kLiteral, "?");
        return;
      }
    }
    if (word.size() == 1 && Lower(word[0]) == 'u' && At(i_) == '&' && At(i_ + 1) == '\'') {
      ++i_;
      SkipString(false);
      w_.Emit(Kind::kLiteral, "?");
      return;
    }
    w_.EmitLowered(word);
  }
  bool SignAllowed() const {
    Kind p = w_.prev();
    return p == Kind::kNone || p == Kind::kOp || p == Kind::kOpen || p == Kind::kComma ||
           p == Kind::kCast || (p == Kind::kWord && SignContextWord(w_.last_word()));
  }
  void Punct(char c) {
    switch (c) {
      case '(': case '[': ++i_; w_.Emit(Kind::kOpen, std::string_view(&s_[i_ - 1], 1)); return;
      case ')': case ']': ++i_; w_.EmitClose(c); return;
      case ',': ++i_; w_.Emit(Kind::kComma, ","); return;
      case ';': ++i_; w_.Emit(Kind::kSemicolon, ";"); return;
      case '.': ++i_; w_.Emit(Kind::kDot, "."); return;
      case ':':
        if (At(i_ + 1) == ':') { i_ += 2; w_.Emit(Kind::kCast, "::"); return; }
        ++i_;
        w_.Emit(Kind::kOp, ":");
        return;
      default: break;
    }
    if (!IsOpChar(c)) {
      ++i_;
      w_.Emit(Kind::kOp, std::string_view(&s_[i_ - 1], 1));
      return;
    }
    Operator();
  }
  void Operator() {
    if ((s_[i_] == '-' || s_[i_] == '+') && SignAllowed() &&
        (IsDigit(static_cast<unsigned char>(At(i_ + 1))) ||
         (At(i_ + 1) == '.' && IsDigit(static_cast<unsigned char>(At(i_ + 2)))))) {
      ++i_;
      Number();
      return;
    }
    std::size_t start = i_;
    while (i_ < s_.size() && IsOpChar(s_[i_])) {
      if ((s_[i_] == '-' && At(i_ + 1) == '-') || (s_[i_] == '/' && At(i_ + 1) == '*')) break;
      ++i_;
    }
    if (i_ == start) ++i_;  // "--" or "/*" handled by the caller next round; never stall
    // PostgreSQL's lexer: a multi-character operator cannot end in + or - unless it contains
    // one of ~!@#%^&|`? ("=-1" is "=" followed by "-1").
    std::string_view op = s_.substr(start, i_ - start);
    if (op.size() > 1 && op.find_first_of("~!@#%^&|`?") == std::string_view::npos) {
      while (op.size() > 1 && (op.back() == '+' || op.back() == '-')) {
        op.remove_suffix(1);
        --i_;
      }
    }
    w_.Emit(Kind::kOp, op);
  }

  std::string_view s_;
  std::size_t i_ = 0;
  Writer w_;
};

}  // namespace

std::string NormalizeQuery(std::string_view sql) { return Normalizer(sql).Run(); }

std::uint64_t FingerprintOf(std::string_view normalized) {
  std::uint64_t h = 14695981039346656037ULL;
  for (unsigned char c : normalized) {
    h ^= c;
    h *= 1099511628211ULL;
  }
  return h;
}

std::string FingerprintHex(std::uint64_t fingerprint) {
  constexpr char kHex[] = "0123456789abcdef";
  std::string out(16, '0');
  for (int i = 15; i >= 0; --i) {
    out[static_cast<std::size_t>(i)] = kHex[fingerprint & 0xF];
    fingerprint >>= 4;
  }
  return out;
}

std::string NormalizeMessage(std::string_view message) {
  std::string out;
  out.reserve(message.size());
  std::size_t i = 0;
  while (i < message.size()) {
    char c = message[i];
    if (c == '"' || c == '\'') {
      std::size_t end = message.find(c, i + 1);
      if (end == std::string_view::npos) end = message.size() - 1;
      out.push_back(c);
      out.push_back('?');
      out.push_back(c);
      i = end + 1;
      continue;
    }
    bool word_before = !out.empty() && IsWordChar(static_cast<unsigned char>(out.back()));
    if (IsDigit(static_cast<unsigned char>(c)) && !word_before) {
      while (i < message.size() &&
             (IsDigit(static_cast<unsigned char>(message[i])) || message[i] == '.')) {
        ++i;
      }
      out.push_back('?');
      continue;
    }
    out.push_back(c);
    ++i;
  }
  return out;
}

}  // namespace dbmedic::diagnose
