// End-to-end test support: a small JSON reader (RFC 8259, no extensions) so tests assert on
// the admin endpoints' documents by structure instead of by substring.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ringway::e2e {

// A parsed JSON value, enough for the admin endpoints' output (numbers are doubles).
class JsonValue {
 public:
  enum class Type { kNull, kBool, kNumber, kString, kArray, kObject };

  // Returns: the value, or nullopt with *error ("offset 12: expected ':'") on malformed input or
  // trailing bytes other than whitespace.
  static std::optional<JsonValue> parse(std::string_view text, std::string* error);

  Type type() const { return type_; }
  bool is(Type t) const { return type_ == t; }
  bool as_bool() const { return bool_; }
  double as_number() const { return number_; }
  const std::string& as_string() const { return string_; }
  // Array elements, or an object's member values (parallel to keys()).
  const std::vector<JsonValue>& items() const { return items_; }
  const std::vector<std::string>& keys() const { return keys_; }
  // Returns: the member `key` of an object; a null value when absent or not an object.
  const JsonValue& operator[](std::string_view key) const;
  bool has(std::string_view key) const;

 private:
  friend class JsonReader;
  Type type_ = Type::kNull;
  bool bool_ = false;
  double number_ = 0;
  std::string string_;
  std::vector<JsonValue> items_;
  std::vector<std::string> keys_;
};

}  // namespace ringway::e2e
