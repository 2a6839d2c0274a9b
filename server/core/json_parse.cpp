#include "core/json_parse.h"

#include <vector>

namespace iothub {
namespace {

using nlohmann::json;
using DomParser = nlohmann::detail::json_sax_dom_parser<json>;

// Builds the value as nlohmann's own DOM parser does, and stops parsing at the
// first container past the limit, so no deep value is ever built.
class DepthLimitedSax {
 public:
  DepthLimitedSax(json& root, int max_depth) : dom_(root, false), max_depth_(max_depth) {}

  bool too_deep() const { return too_deep_; }

  bool null() { return dom_.null(); }
  bool boolean(bool v) { return dom_.boolean(v); }
  bool number_integer(json::number_integer_t v) { return dom_.number_integer(v); }
  bool number_unsigned(json::number_unsigned_t v) { return dom_.number_unsigned(v); }
  bool number_float(json::number_float_t v, const json::string_t& s) { return dom_.number_float(v, s); }
  bool string(json::string_t& v) { return dom_.string(v); }
  bool binary(json::binary_t& v) { return dom_.binary(v); }
  bool key(json::string_t& v) { return dom_.key(v); }
  bool start_object(std::size_t n) { return Enter() && dom_.start_object(n); }
  bool end_object() { return --depth_, dom_.end_object(); }
  bool start_array(std::size_t n) { return Enter() && dom_.start_array(n); }
  bool end_array() { return --depth_, dom_.end_array(); }
  bool parse_error(std::size_t at, const std::string& token, const nlohmann::detail::exception& e) {
    return dom_.parse_error(at, token, e);
  }

 private:
  bool Enter() {
    if (++depth_ <= max_depth_) return true;
    too_deep_ = true;
    return false;
  }

  DomParser dom_;
  int max_depth_;
  int depth_ = 0;
  bool too_deep_ = false;
};

}  // namespace

std::string ParsedJson::Describe() const {
  switch (error) {
    case Error::kNone: return "valid JSON";
    case Error::kSyntax: return "not valid JSON";
    case Error::kTooDeep: return "JSON nested deeper than " + std::to_string(max_depth) + " levels";
  }
  return "invalid JSON";
}

ParsedJson ParseJson(std::string_view text, int max_depth) {
  ParsedJson out;
  out.max_depth = max_depth;
  DepthLimitedSax sax(out.value, max_depth);
  bool ok = json::sax_parse(text.begin(), text.end(), &sax, nlohmann::detail::input_format_t::json, true, false);
  if (!ok) {
    out.error = sax.too_deep() ? ParsedJson::Error::kTooDeep : ParsedJson::Error::kSyntax;
    out.value = json(json::value_t::discarded);
  }
  return out;
}

Result<json> ParseJsonValue(std::string_view text, std::string_view what) {
  ParsedJson parsed = ParseJson(text);
  if (!parsed.ok()) return Status::FormatError(std::string(what) + " is " + parsed.Describe());
  return std::move(parsed.value);
}

int JsonDepth(const json& value) {
  // Iterative, so it is safe on any value (though every value we hold was parsed bounded).
  int deepest = 0;
  std::vector<std::pair<const json*, int>> todo{{&value, 1}};
  while (!todo.empty()) {
    auto [v, depth] = todo.back();
    todo.pop_back();
    if (!v->is_structured()) continue;
    deepest = std::max(deepest, depth);
    for (const auto& child : *v) todo.emplace_back(&child, depth + 1);
  }
  return deepest;
}

}  // namespace iothub
