#include "tools/admin_verbs.hpp"

#include <fcntl.h>
#include <termios.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <string>

#include <simdjson.h>

#include "connectors/tracker_client.hpp"
#include "tools/api_session.hpp"
#include "tools/console.hpp"
#include "tools/node_actions.hpp"
#include "tools/node_view.hpp"

namespace syncline::tools {

namespace {

int report(const api_result& r) {
  if (!r.ok()) std::cerr << "syncline: " << r.error << "\n";
  return r.exit;
}

// The answer: the node's JSON with --json, else `line`.
int answer(const verb_context& c, const api_result& r, const std::string& line) {
  if (!r.ok()) return report(r);
  if (c.json) std::cout << r.body << "\n";
  else std::cout << line << "\n";
  return exit_ok;
}

std::string describe(const target& t) {
  return t.kind == "node" ? std::string{"the node"} : t.kind + " " + t.id;
}

// The password: the first line of `file`, `-` standard input, empty: the terminal, not echoed.
bool read_password(const std::string& file, const std::string& prompt, std::string& out) {
  out.clear();
  if (!file.empty() && file != "-") {
    std::ifstream in{file};
    if (!in || !std::getline(in, out)) {
      std::cerr << "syncline: cannot read a password from " << file << "\n";
      return false;
    }
  } else if (!file.empty() || isatty(STDIN_FILENO) == 0) {
    if (!std::getline(std::cin, out)) {
      std::cerr << "syncline: no password on standard input\n";
      return false;
    }
  } else {
    std::cerr << prompt << std::flush;
    termios old{};
    bool restore = tcgetattr(STDIN_FILENO, &old) == 0;
    if (restore) {
      termios quiet = old;
      quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
      tcsetattr(STDIN_FILENO, TCSANOW, &quiet);
    }
    bool got = static_cast<bool>(std::getline(std::cin, out));
    if (restore) tcsetattr(STDIN_FILENO, TCSANOW, &old);
    std::cerr << "\n";
    if (!got) return false;
  }
  if (!out.empty() && out.back() == '\r') out.pop_back();
  if (out.empty()) {
    std::cerr << "syncline: the password is empty\n";
    return false;
  }
  return true;
}

bool write_token(const std::filesystem::path& file, const std::string& token, std::string& problem) {
  std::error_code ec;
  if (file.has_parent_path()) {
    std::filesystem::create_directories(file.parent_path(), ec);
    if (ec) {
      problem = "cannot create " + file.parent_path().string() + ": " + ec.message();
      return false;
    }
  }
  auto tmp = file.string() + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) {
    problem = "cannot write " + tmp + ": " + std::strerror(errno);
    return false;
  }
  std::string text = token + "\n";
  bool ok = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()) &&
            ::fsync(fd) == 0;
  ::close(fd);
  if (!ok || std::rename(tmp.c_str(), file.c_str()) != 0) {
    problem = "cannot write " + file.string() + ": " + std::strerror(errno);
    ::unlink(tmp.c_str());
    return false;
  }
  return true;
}

}  // namespace

int verb_status(const verb_context& c) {
  api_session api{c.url, c.token_file};
  if (c.json) {
    std::string out;
    auto r = read_view_json(api, out);
    if (!r.ok()) return report(r);
    std::cout << out << "\n";
    return exit_ok;
  }
  return run_console({c.url, c.token_file, true});
}

int verb_pause(const verb_context& c, bool pause, const std::string& kind, const std::string& id) {
  std::string problem;
  auto t = read_target(kind, id, problem);
  if (t.kind.empty()) {
    std::cerr << "syncline: " << problem << "\n";
    return exit_usage;
  }
  api_session api{c.url, c.token_file};
  auto r = pause_resume(api, t, pause);
  return answer(c, r, describe(t) + (pause ? " paused" : " resumed"));
}

int verb_sync(const verb_context& c, const std::string& kind, const std::string& id) {
  std::string problem;
  auto t = read_target(kind, id, problem);
  if (t.kind.empty() || t.kind == "transfer") {
    std::cerr << "syncline: "
              << (t.kind.empty() ? problem : "sync takes node, volume ID or datasource ID")
              << "\n";
    return exit_usage;
  }
  api_session api{c.url, c.token_file};
  auto r = sync_now(api, t);
  if (!r.ok()) {
    if (c.json) std::cout << r.body << "\n";
    return report(r);
  }
  simdjson::dom::parser p;
  simdjson::dom::array runs;
  size_t n = 0;
  if (!p.parse(r.body).get(runs)) n = runs.size();
  return answer(c, r,
                "a run was asked of " + std::to_string(n) + " datasource" + (n == 1 ? "" : "s") +
                    " (" + describe(t) + ")");
}

int verb_user_add(const verb_context& c, const std::string& name, const std::string& cls,
                  const std::string& password_file) {
  std::string pw;
  if (!read_password(password_file, "password for " + name + ": ", pw)) return exit_usage;
  api_session api{c.url, c.token_file};
  auto body = "{\"_id\":" + connectors::json_quote("@" + name) +
              ",\"class\":" + connectors::json_quote(cls) +
              ",\"password\":" + connectors::json_quote(pw) + "}";
  auto r = api.post("/api/create/", body);
  return answer(c, r, "user " + name + " (" + cls + ") created");
}

int verb_user_passwd(const verb_context& c, const std::string& name,
                     const std::string& password_file) {
  std::string pw;
  if (!read_password(password_file, "new password for " + name + ": ", pw)) return exit_usage;
  api_session api{c.url, c.token_file};
  auto body = "{\"_id\":" + connectors::json_quote("@" + name) +
              ",\"password\":" + connectors::json_quote(pw) + "}";
  auto r = api.call("PUT", "/api/update/", body);
  return answer(c, r, "password of " + name + " changed (its tokens are revoked)");
}

int verb_user_del(const verb_context& c, const std::string& name) {
  api_session api{c.url, c.token_file};
  auto r = api.call("DELETE", "/api/delete/", connectors::json_quote("@" + name));
  return answer(c, r, "user " + name + " deleted (its tokens are revoked)");
}

int verb_token_create(const verb_context& c, const std::string& expires) {
  api_session api{c.url, c.token_file};
  std::string body = expires.empty() ? "{}" : "{\"expiresIn\":" + connectors::json_quote(expires) + "}";
  auto r = api.post("/api/createToken", body);
  if (!r.ok()) return report(r);
  simdjson::dom::parser p;
  std::string_view token;
  if (p.parse(r.body).get(token)) {
    std::cerr << "syncline: createToken answered something else than a token\n";
    return exit_failed;
  }
  std::cout << (c.json ? r.body : std::string{token}) << "\n";
  return exit_ok;
}

int verb_login(const verb_context& c, const std::string& user, const std::string& password_file,
               const std::string& expires) {
  std::string pw;
  if (!read_password(password_file, "password for " + user + ": ", pw)) return exit_usage;
  api_session api{c.url, {}, true};
  std::string body = "{\"username\":" + connectors::json_quote(user) +
                     ",\"password\":" + connectors::json_quote(pw);
  if (!expires.empty()) body += ",\"expiresIn\":" + connectors::json_quote(expires);
  body += "}";
  auto r = api.post("/api/signIn", body);
  if (!r.ok()) return report(r);
  simdjson::dom::parser p;
  simdjson::dom::element doc;
  std::string_view token;
  int64_t exp = 0;
  if (p.parse(r.body).get(doc) || doc["token"].get(token)) {
    std::cerr << "syncline: signIn answered without a token\n";
    return exit_failed;
  }
  if (doc["token_exp"].get(exp)) exp = 0;
  std::filesystem::path file =
      c.token_file.empty() ? default_token_file() : std::filesystem::path{c.token_file};
  std::string problem;
  if (!write_token(file, std::string{token}, problem)) {
    std::cerr << "syncline: " << problem << "\n";
    return exit_failed;
  }
  if (c.json) std::cout << "{\"user\":" << connectors::json_quote(user) << ",\"token_file\":"
                        << connectors::json_quote(file.string()) << ",\"token_exp\":" << exp
                        << "}\n";
  else std::cout << "signed in as " << user << "; token written to " << file.string() << "\n";
  return exit_ok;
}

}  // namespace syncline::tools
