#include "common/http/structured_field.h"

namespace http {

namespace {

bool isLcAlpha(char c) { return c >= 'a' && c <= 'z'; }
bool isAlpha(char c) { return isLcAlpha(c) || (c >= 'A' && c <= 'Z'); }
bool isDigit(char c) { return c >= '0' && c <= '9'; }

bool isTchar(char c) {
  if (isAlpha(c) || isDigit(c)) {
    return true;
  }
  for (char t : std::string_view("!#$%&'*+-.^_`|~")) {
    if (c == t) {
      return true;
    }
  }
  return false;
}

// A cursor over the field value; each parse* consumes what it read and returns false on
// anything RFC 8941 section 4.2 fails on.
class Reader {
 public:
  explicit Reader(std::string_view input) : in_(input) {}

  bool empty() const { return in_.empty(); }
  char peek() const { return in_.empty() ? '\0' : in_.front(); }
  void skip(size_t n = 1) { in_.remove_prefix(n); }
  void skipSp() {
    while (peek() == ' ') {
      skip();
    }
  }
  void skipOws() {
    while (peek() == ' ' || peek() == '\t') {
      skip();
    }
  }

  bool parseKey(std::string* key) {
    if (!isLcAlpha(peek()) && peek() != '*') {
      return false;
    }
    key->clear();
    while (isLcAlpha(peek()) || isDigit(peek()) || peek() == '_' || peek() == '-' ||
           peek() == '.' || peek() == '*') {
      *key += peek();
      skip();
    }
    return true;
  }

  bool parseParameters() {
    while (peek() == ';') {
      skip();
      skipSp();
      std::string key;
      if (!parseKey(&key)) {
        return false;
      }
      if (peek() == '=') {
        skip();
        SfItem ignored;
        if (!parseBareItem(&ignored)) {
          return false;
        }
      }
    }
    return true;
  }

  bool parseItemOrInnerList(SfItem* item) {
    if (peek() != '(') {
      return parseBareItem(item) && parseParameters();
    }
    skip();
    item->type = SfItem::Type::kInnerList;
    for (;;) {
      skipSp();
      if (peek() == ')') {
        skip();
        return parseParameters();
      }
      SfItem member;
      if (!parseBareItem(&member) || !parseParameters()) {
        return false;
      }
      if (peek() != ' ' && peek() != ')') {
        return false;
      }
    }
  }

  bool parseBareItem(SfItem* item) {
    const char c = peek();
    if (c == '-' || isDigit(c)) {
      return parseNumber(item);
    }
    if (c == '"') {
      return parseString(item);
    }
    if (c == '*' || isAlpha(c)) {
      item->type = SfItem::Type::kToken;
      item->text.clear();
      while (isTchar(peek()) || peek() == ':' || peek() == '/') {
        item->text += peek();
        skip();
      }
      return true;
    }
    if (c == ':') {
      skip();
      item->type = SfItem::Type::kByteSequence;
      item->text.clear();
      while (isAlpha(peek()) || isDigit(peek()) || peek() == '+' || peek() == '/' ||
             peek() == '=') {
        item->text += peek();
        skip();
      }
      if (peek() != ':') {
        return false;
      }
      skip();
      return true;
    }
    if (c == '?') {
      skip();
      if (peek() != '0' && peek() != '1') {
        return false;
      }
      item->type = SfItem::Type::kBoolean;
      item->boolean = peek() == '1';
      skip();
      return true;
    }
    return false;
  }

 private:
  bool parseNumber(SfItem* item) {
    std::string text;
    bool negative = false;
    if (peek() == '-') {
      negative = true;
      text += '-';
      skip();
    }
    if (!isDigit(peek())) {
      return false;
    }
    size_t integer_digits = 0;
    size_t fraction_digits = 0;
    bool decimal = false;
    while (isDigit(peek()) || (peek() == '.' && !decimal)) {
      if (peek() == '.') {
        if (integer_digits > 12) {
          return false;
        }
        decimal = true;
      } else if (decimal) {
        ++fraction_digits;
      } else {
        ++integer_digits;
      }
      text += peek();
      skip();
      if ((!decimal && integer_digits > 15) || fraction_digits > 3) {
        return false;
      }
    }
    if (decimal) {
      if (fraction_digits == 0) {
        return false;  // "1." is not a decimal
      }
      item->type = SfItem::Type::kDecimal;
      item->text = std::move(text);
      return true;
    }
    int64_t value = 0;
    for (char d : std::string_view(text).substr(negative ? 1 : 0)) {
      value = value * 10 + (d - '0');  // at most 15 digits: no overflow
    }
    item->type = SfItem::Type::kInteger;
    item->integer = negative ? -value : value;
    return true;
  }

  bool parseString(SfItem* item) {
    skip();  // the opening quote
    item->type = SfItem::Type::kString;
    item->text.clear();
    while (!empty()) {
      const char c = peek();
      skip();
      if (c == '"') {
        return true;
      }
      if (c == '\\') {
        if (peek() != '"' && peek() != '\\') {
          return false;
        }
        item->text += peek();
        skip();
      } else if (c < 0x20 || c > 0x7e) {
        return false;  // only visible ASCII and space (a signed char above 0x7e is negative)
      } else {
        item->text += c;
      }
    }
    return false;  // no closing quote
  }

  std::string_view in_;
};

}  // namespace

std::optional<std::vector<SfMember>> parseSfDictionary(std::string_view value) {
  Reader in(value);
  in.skipSp();
  std::vector<SfMember> members;
  while (!in.empty()) {
    SfMember member;
    if (!in.parseKey(&member.key)) {
      return std::nullopt;
    }
    if (in.peek() == '=') {
      in.skip();
      if (!in.parseItemOrInnerList(&member.value)) {
        return std::nullopt;
      }
    } else if (!in.parseParameters()) {
      return std::nullopt;
    }
    bool replaced = false;
    for (SfMember& existing : members) {
      if (existing.key == member.key) {
        existing.value = member.value;
        replaced = true;
      }
    }
    if (!replaced) {
      if (members.size() == kSfMaxMembers) {
        return std::nullopt;
      }
      members.push_back(std::move(member));
    }
    in.skipOws();
    if (in.empty()) {
      break;
    }
    if (in.peek() != ',') {
      return std::nullopt;
    }
    in.skip();
    in.skipOws();
    if (in.empty()) {
      return std::nullopt;  // a trailing comma
    }
  }
  return members;
}

}  // namespace http
