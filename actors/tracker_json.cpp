#include "actors/tracker_json.hpp"

#include <cctype>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <map>

#include <rapidjson/document.h>
#include <rapidjson/error/en.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "actors/error.hpp"
#include "actors/text.hpp"
#include "storage/element_json.hpp"
#include "storage/error.hpp"
#include "storage/transfer_queue.hpp"

namespace syncline::actors {

namespace {

using storage::storage_errc;

// Iterative: a hostile nesting cannot exhaust the stack while parsing.
constexpr unsigned parse_flags = rapidjson::kParseIterativeFlag | rapidjson::kParseValidateEncodingFlag;

// Nesting of objects and arrays, counted outside strings, without building anything: checked
// before RapidJSON builds a document that recursive code (the writer) would walk.
bool depth_within(std::string_view json, size_t max) noexcept {
  size_t depth = 0;
  bool in_string = false;
  for (size_t i = 0; i < json.size(); ++i) {
    char c = json[i];
    if (in_string) {
      if (c == '\\') ++i;
      else if (c == '"') in_string = false;
      continue;
    }
    if (c == '"') in_string = true;
    else if (c == '{' || c == '[') {
      if (++depth > max) return false;
    } else if ((c == '}' || c == ']') && depth > 0) {
      --depth;
    }
  }
  return true;
}

caf::error parse(rapidjson::Document& d, std::string_view json) {
  if (!depth_within(json, storage::max_json_depth))
    return storage::make_error(storage_errc::invalid_json,
                               "JSON nested deeper than " + std::to_string(storage::max_json_depth));
  d.Parse<parse_flags>(json.data(), json.size());
  if (d.HasParseError())
    return storage::make_error(storage_errc::invalid_json,
                               std::string{"malformed JSON at byte "} +
                                   std::to_string(d.GetErrorOffset()) + ": " +
                                   rapidjson::GetParseError_En(d.GetParseError()));
  return caf::none;
}

std::string to_text(const rapidjson::Value& v) {
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w{buf};
  v.Accept(w);
  return {buf.GetString(), buf.GetSize()};
}

// An id as damas-core's getBodyIds takes it: a string, or a number by its decimal text.
std::optional<std::string> id_text(const rapidjson::Value& v) {
  if (v.IsString()) return std::string{v.GetString(), v.GetStringLength()};
  if (v.IsInt64()) return std::to_string(v.GetInt64());
  if (v.IsUint64()) return std::to_string(v.GetUint64());
  if (v.IsNumber()) return to_text(v);
  return std::nullopt;
}

std::string member_text(const rapidjson::Value& v) {
  if (v.IsString()) return {v.GetString(), v.GetStringLength()};
  return to_text(v);
}

}  // namespace

std::string error_json(std::string_view code, std::string_view message) {
  return "{\"error\":" + json_string(code) + ",\"message\":" + json_string(message) + "}";
}

std::string changes_json(const storage::change_page& page) {
  std::string out = "{\"results\":[";
  bool first = true;
  for (auto& c : page.changes) {
    if (!first) out += ',';
    first = false;
    out += "{\"seq\":" + std::to_string(c.seq) + ",\"id\":" + json_string(c.id);
    if (c.deleted) out += ",\"deleted\":true";
    out += ",\"at\":" + std::to_string(c.at_ms) + "}";
  }
  out += "],\"last_seq\":" + std::to_string(page.last_seq);
  if (page.reset) out += ",\"reset\":true";
  out += "}";
  return out;
}

std::string error_message(const caf::error& err) {
  auto& ctx = err.context();
  if (ctx.match_elements<std::string>()) return ctx.get_as<std::string>(0);
  return render(err);
}

caf::expected<id_list> parse_id_list(std::string_view json) {
  rapidjson::Document d;
  if (auto err = parse(d, json)) return err;
  id_list out;
  if (d.IsArray()) {
    out.array = true;
    out.ids.reserve(d.Size());
    for (rapidjson::SizeType i = 0; i < d.Size(); ++i) {
      auto id = id_text(d[i]);
      if (!id)
        return storage::make_error(storage_errc::invalid_argument,
                                   "id " + std::to_string(i) + " is not a string");
      out.ids.push_back(std::move(*id));
    }
    return out;
  }
  auto id = id_text(d);
  if (!id)
    return storage::make_error(storage_errc::invalid_argument,
                               "expected an id or an array of ids");
  out.ids.push_back(std::move(*id));
  return out;
}

std::optional<std::string> string_member(std::string_view element_json, std::string_view key) {
  auto fields = storage::parse_stored(element_json);
  if (!fields) return std::nullopt;
  for (auto& f : *fields)
    if (f.key == key) return storage::json_unquote(f.value);
  return std::nullopt;
}

std::optional<std::string> lock_owner(std::string_view element_json) {
  auto fields = storage::parse_stored(element_json);
  if (!fields) return std::nullopt;
  for (auto& f : *fields) {
    if (f.key != "lock" || f.is_null()) continue;
    if (auto name = storage::json_unquote(f.value)) return name;
    return f.value;
  }
  return std::nullopt;
}

caf::expected<mongo_request> parse_mongo_request(std::string_view body, bool form) {
  std::string text{body};
  rapidjson::Document d;
  // A body that reads as JSON is JSON, whatever its Content-Type says (curl -d labels
  // everything a form).
  auto first = body.find_first_not_of(" \t\r\n");
  if (first != std::string_view::npos && (body[first] == '{' || body[first] == '[')) form = false;
  if (form) {
    // Only `queryobj` carries anything in a form.
    std::string queryobj;
    std::string_view rest = body;
    while (!rest.empty()) {
      auto amp = rest.find('&');
      auto part = rest.substr(0, amp);
      rest = amp == std::string_view::npos ? std::string_view{} : rest.substr(amp + 1);
      auto eq = part.find('=');
      if (eq == std::string_view::npos || part.substr(0, eq) != "queryobj") continue;
      auto value = part.substr(eq + 1);
      for (size_t i = 0; i < value.size(); ++i) {
        if (value[i] == '+') {
          queryobj += ' ';
        } else if (value[i] == '%' && i + 2 < value.size()) {
          queryobj += static_cast<char>(std::strtol(std::string{value.substr(i + 1, 2)}.c_str(), nullptr, 16));
          i += 2;
        } else {
          queryobj += value[i];
        }
      }
    }
    if (queryobj.empty())
      return storage::make_error(storage_errc::invalid_argument, "the form has no queryobj");
    text = std::move(queryobj);
  }
  if (auto err = parse(d, text)) return err;
  if (!d.IsObject())
    return storage::make_error(storage_errc::invalid_argument,
                               "expected an object {query, sort, limit, skip}");
  if (d.HasMember("queryobj") && d["queryobj"].IsString()) {
    rapidjson::Document inner;
    if (auto err = parse(inner, {d["queryobj"].GetString(), d["queryobj"].GetStringLength()}))
      return err;
    d.Swap(inner);
    if (!d.IsObject())
      return storage::make_error(storage_errc::invalid_argument, "queryobj must hold an object");
  }
  mongo_request out;
  if (d.HasMember("query") && !d["query"].IsNull()) {
    if (!d["query"].IsObject())
      return storage::make_error(storage_errc::invalid_argument, "query must be an object");
    out.query_json = to_text(d["query"]);
  }
  // damas-core takes `limit | 0`: anything that is not a number counts as 0 (no limit).
  auto count = [&](const char* key) -> int64_t {
    if (!d.HasMember(key)) return 0;
    auto& v = d[key];
    if (v.IsInt64()) return v.GetInt64();
    if (v.IsNumber()) return static_cast<int64_t>(v.GetDouble());
    if (v.IsString()) return std::strtoll(v.GetString(), nullptr, 10);
    return 0;
  };
  auto limit = count("limit");
  auto skip = count("skip");
  // MongoDB reads a negative limit as its absolute value.
  out.options.limit = static_cast<size_t>(limit < 0 ? -limit : limit);
  out.options.skip = static_cast<size_t>(skip < 0 ? 0 : skip);
  if (d.HasMember("sort") && !d["sort"].IsNull()) {
    auto& sort = d["sort"];
    if (sort.IsString()) {
      out.options.sort.emplace_back(std::string{sort.GetString(), sort.GetStringLength()}, 1);
    } else if (sort.IsObject()) {
      for (auto& m : sort.GetObject()) {
        int dir = 1;
        if (m.value.IsNumber()) dir = m.value.GetDouble() < 0 ? -1 : 1;
        else if (m.value.IsString())
          dir = (std::string_view{m.value.GetString()} == "desc" ||
                 std::string_view{m.value.GetString()} == "-1")
                    ? -1
                    : 1;
        out.options.sort.emplace_back(std::string{m.name.GetString(), m.name.GetStringLength()},
                                      dir);
      }
    } else {
      return storage::make_error(storage_errc::invalid_argument,
                                 "sort must be an object {key: 1 or -1}");
    }
  }
  return out;
}

caf::expected<credentials> parse_credentials(std::string_view body, bool form) {
  credentials out;
  size_t first = body.find_first_not_of(" \t\r\n");
  // A body that reads as JSON is JSON, and anything else a form, whatever the Content-Type
  // says: damas-core's asynchronous Python client sends a form labelled application/json.
  (void)form;
  bool json = first != std::string_view::npos && body[first] == '{';
  std::string email;
  if (json) {
    rapidjson::Document d;
    if (auto err = parse(d, body)) return err;
    if (!d.IsObject())
      return storage::make_error(storage_errc::invalid_argument, "expected an object");
    auto get = [&](const char* key, std::string& into) {
      if (d.HasMember(key) && !d[key].IsNull()) into = member_text(d[key]);
    };
    get("username", out.username);
    get("email", email);
    get("password", out.password);
    get("expiresIn", out.expires_in);
    out.expires_in_is_number = d.HasMember("expiresIn") && d["expiresIn"].IsNumber();
  } else {
    std::string_view rest = body;
    while (!rest.empty()) {
      auto amp = rest.find('&');
      auto part = rest.substr(0, amp);
      rest = amp == std::string_view::npos ? std::string_view{} : rest.substr(amp + 1);
      auto eq = part.find('=');
      auto name = part.substr(0, eq);
      auto raw = eq == std::string_view::npos ? std::string_view{} : part.substr(eq + 1);
      std::string value;
      for (size_t i = 0; i < raw.size(); ++i) {
        if (raw[i] == '+') {
          value += ' ';
        } else if (raw[i] == '%') {
          if (i + 2 >= raw.size() || !std::isxdigit(static_cast<unsigned char>(raw[i + 1])) ||
              !std::isxdigit(static_cast<unsigned char>(raw[i + 2])))
            return storage::make_error(storage_errc::invalid_argument,
                                       "malformed percent-encoding in the form");
          value += static_cast<char>(std::strtol(std::string{raw.substr(i + 1, 2)}.c_str(), nullptr, 16));
          i += 2;
        } else {
          value += raw[i];
        }
      }
      if (name == "username") out.username = std::move(value);
      else if (name == "email") email = std::move(value);
      else if (name == "password") out.password = std::move(value);
      else if (name == "expiresIn") out.expires_in = std::move(value);
    }
  }
  if (out.username.empty()) out.username = std::move(email);
  return out;
}

std::optional<int64_t> parse_duration_ms(std::string_view text, bool number) {
  std::string s{text};
  char* end = nullptr;
  double x = std::strtod(s.c_str(), &end);
  if (end == s.c_str() || !std::isfinite(x)) return std::nullopt;
  std::string unit{end};
  while (!unit.empty() && unit.front() == ' ') unit.erase(unit.begin());
  while (!unit.empty() && unit.back() == ' ') unit.pop_back();
  for (auto& c : unit) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  double ms = 0;
  if (unit.empty()) {
    ms = number ? x * 1000.0 : x;
  } else {
    static const std::map<std::string, double> units{
        {"ms", 1.0},           {"msec", 1.0},          {"msecs", 1.0},
        {"millisecond", 1.0},  {"milliseconds", 1.0},  {"s", 1e3},
        {"sec", 1e3},          {"secs", 1e3},          {"second", 1e3},
        {"seconds", 1e3},      {"m", 6e4},             {"min", 6e4},
        {"mins", 6e4},         {"minute", 6e4},        {"minutes", 6e4},
        {"h", 3.6e6},          {"hr", 3.6e6},          {"hrs", 3.6e6},
        {"hour", 3.6e6},       {"hours", 3.6e6},       {"d", 8.64e7},
        {"day", 8.64e7},       {"days", 8.64e7},       {"w", 6.048e8},
        {"week", 6.048e8},     {"weeks", 6.048e8},     {"y", 3.15576e10},
        {"yr", 3.15576e10},    {"yrs", 3.15576e10},    {"year", 3.15576e10},
        {"years", 3.15576e10}};
    auto u = units.find(unit);
    if (u == units.end()) return std::nullopt;
    ms = x * u->second;
  }
  if (!(ms >= 0) || ms > 9.0e15) return std::nullopt;
  return static_cast<int64_t>(ms);
}

}  // namespace syncline::actors
