#include "tools/api_session.hpp"

#include <cstdlib>
#include <fstream>
#include <utility>

#include <simdjson.h>

#include "connectors/error.hpp"
#include "connectors/tracker_client.hpp"

namespace syncline::tools {

namespace {

std::string trimmed_first_line(std::string s) {
  auto nl = s.find_first_of("\r\n");
  if (nl != std::string::npos) s.resize(nl);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.pop_back();
  size_t lead = 0;
  while (lead < s.size() && (s[lead] == ' ' || s[lead] == '\t')) ++lead;
  return s.substr(lead);
}

int exit_of(long status) {
  if (status == 401 || status == 403) return exit_refused;
  if (status == 404) return exit_not_found;
  if (status == 409) return exit_conflict;
  return exit_failed;
}

}  // namespace

std::filesystem::path default_token_file() {
  if (const char* x = std::getenv("XDG_CONFIG_HOME"); x != nullptr && *x == '/')
    return std::filesystem::path{x} / "syncline" / "token";
  const char* home = std::getenv("HOME");
  return std::filesystem::path{home != nullptr ? home : "."} / ".config" / "syncline" / "token";
}

std::string default_url() {
  if (const char* u = std::getenv("SYNCLINE_URL"); u != nullptr && *u != '\0') return u;
  return "http://127.0.0.1:8460";
}

std::string error_message(std::string_view body) {
  simdjson::dom::parser p;
  simdjson::dom::element doc;
  std::string_view code;
  std::string_view message;
  if (!p.parse(body.data(), body.size()).get(doc) && !doc["error"].get(code)) {
    if (!doc["message"].get(message)) return std::string{code} + ": " + std::string{message};
    return std::string{code};
  }
  return std::string{body.substr(0, 200)};
}

api_session::api_session(std::string url, const std::string& token_file, bool anonymous,
                         std::shared_ptr<const std::atomic<bool>> cancel)
    : url_(std::move(url)) {
  std::filesystem::path file = token_file;
  if (anonymous) {
    token_problem_ = "signing in";
  } else if (file.empty()) {
    if (const char* t = std::getenv("SYNCLINE_TOKEN"); t != nullptr && *t != '\0') {
      token_ = t;
    } else {
      file = default_token_file();
      std::error_code ec;
      if (!std::filesystem::exists(file, ec)) {
        token_problem_ = "no token: give --token-file, set SYNCLINE_TOKEN, or run `syncline "
                         "login` (it writes " + file.string() + ")";
        file.clear();
      }
    }
  }
  if (!anonymous && !file.empty()) {
    std::ifstream in{file};
    std::string line;
    if (!in || !std::getline(in, line)) {
      token_problem_ = "cannot read the token file " + file.string();
    } else {
      token_ = trimmed_first_line(line);
      if (token_.empty()) token_problem_ = "the token file " + file.string() + " is empty";
    }
  }
  connectors::tracker_options opt;
  opt.url = url_;
  opt.token = token_;
  opt.every_status = true;
  opt.timeout = std::chrono::seconds{10};
  opt.cancel = std::move(cancel);
  client_ = std::make_unique<connectors::tracker_client>(std::move(opt));
}

api_session::~api_session() = default;

api_result api_session::finish(std::string_view method, std::string_view path, long status,
                               std::string body) {
  api_result out;
  out.status = status;
  out.body = std::move(body);
  if (status >= 200 && status < 300) return out;
  out.exit = exit_of(status);
  out.error = std::string{method} + " " + std::string{path} + ": " + std::to_string(status) +
              " " + error_message(out.body);
  if (status == 401 && !has_token()) out.error += " (" + token_problem_ + ")";
  return out;
}

api_result api_session::call(std::string_view method, std::string_view path,
                             std::string_view body) {
  auto r = client_->call(method, path, body);
  if (!r) {
    api_result out;
    out.exit = exit_unreachable;
    out.error = connectors::render(r.error());
    if (out.error.empty()) out.error = url_ + " did not answer";
    return out;
  }
  return finish(method, path, r->status, std::move(r->body));
}

api_result api_session::follow_events(const std::string& last_id,
                                      const std::function<bool(std::string_view)>& on_data) {
  auto r = client_->stream("/api/events", last_id, on_data);
  if (!r) {
    api_result out;
    out.exit = exit_unreachable;
    out.error = connectors::render(r.error());
    return out;
  }
  return finish("GET", "/api/events", r->status, std::move(r->body));
}

}  // namespace syncline::tools
