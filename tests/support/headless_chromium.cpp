#include "tests/support/headless_chromium.hpp"

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <signal.h>
#include <stdexcept>
#include <unistd.h>
#include <vector>

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

namespace syncline::test {

namespace {

std::string to_json(const rapidjson::Value& v) {
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w{buf};
  v.Accept(w);
  return {buf.GetString(), buf.GetSize()};
}

bool executable(const std::filesystem::path& p) {
  return !p.empty() && ::access(p.c_str(), X_OK) == 0 && !std::filesystem::is_directory(p);
}

void write_all(int fd, std::string_view bytes) {
  while (!bytes.empty()) {
    auto n = ::write(fd, bytes.data(), bytes.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) throw std::runtime_error(std::string{"writing to the browser: "} + std::strerror(errno));
    bytes.remove_prefix(static_cast<size_t>(n));
  }
}

}  // namespace

std::string json_quote(std::string_view text) {
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w{buf};
  w.String(text.data(), static_cast<rapidjson::SizeType>(text.size()));
  return {buf.GetString(), buf.GetSize()};
}

std::string base64_decode(std::string_view text) {
  auto value = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
  };
  std::string out;
  uint32_t acc = 0;
  int bits = 0;
  for (char c : text) {
    if (c == '=' || c == '\n' || c == '\r') continue;
    int v = value(c);
    if (v < 0) throw std::runtime_error("base64_decode: not base64");
    acc = (acc << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((acc >> bits) & 0xff));
    }
  }
  return out;
}

std::optional<std::filesystem::path> headless_chromium::find() {
  if (const char* env = std::getenv("SYNCLINE_CHROMIUM"); env != nullptr && *env != '\0') {
    if (executable(env)) return std::filesystem::path{env};
    return std::nullopt;
  }
  std::vector<std::filesystem::path> dirs{"/usr/bin"};
  if (const char* path = std::getenv("PATH")) {
    std::string_view rest{path};
    while (!rest.empty()) {
      auto colon = rest.find(':');
      dirs.emplace_back(std::string{rest.substr(0, colon)});
      rest.remove_prefix(colon == std::string_view::npos ? rest.size() : colon + 1);
    }
  }
  for (auto& d : dirs)
    for (auto* name : {"chromium", "chromium-browser"})
      if (executable(d / name)) return d / name;
  return std::nullopt;
}

headless_chromium::headless_chromium(const std::filesystem::path& program,
                                     const std::filesystem::path& profile_dir, int width, int height) {
  int commands[2], answers[2];
  if (::pipe2(commands, O_CLOEXEC) != 0 || ::pipe2(answers, O_CLOEXEC) != 0)
    throw std::runtime_error(std::string{"pipe2: "} + std::strerror(errno));
  to_browser_ = commands[1];
  from_browser_ = answers[0];
  child_options options;
  options.fds = {{3, commands[0]}, {4, answers[1]}};
  options.own_group = true;
  // Its temporary files (it makes some in $TMPDIR and leaves them when killed) go with the
  // profile, which the test removes.
  auto tmp = profile_dir / "tmp";
  std::filesystem::create_directories(tmp);
  options.env = {{"TMPDIR", tmp.string()}};
  process_ = std::make_unique<child_process>(
      program.string(),
      std::vector<std::string>{
          "--headless=new", "--no-sandbox", "--remote-debugging-pipe",
          "--user-data-dir=" + profile_dir.string(), "--no-first-run", "--no-default-browser-check",
          "--disable-gpu", "--disable-dev-shm-usage", "--disable-extensions", "--disable-sync",
          "--disable-background-networking", "--disable-component-update", "--mute-audio",
          "--hide-scrollbars", "--password-store=basic", "--use-mock-keychain",
          "--window-size=" + std::to_string(width) + "," + std::to_string(height), "about:blank"},
      std::move(options));
  // The browser's ends live on in it alone: a browser gone closes the answers' pipe.
  ::close(commands[0]);
  ::close(answers[1]);
  // A browser that died makes writes fail with EPIPE instead of killing the test.
  ::signal(SIGPIPE, SIG_IGN);
  reader_ = std::thread([this] { read_loop(); });
  try {
    call("Browser.getVersion", "{}", {}, std::chrono::seconds{60});
  } catch (...) {
    // The destructor does not run for a constructor that throws: clean up here.
    process_.reset();
    ::close(to_browser_);
    if (reader_.joinable()) reader_.join();
    throw;
  }
}

headless_chromium::~headless_chromium() {
  // Closed, the browser ends its helpers and exits by itself; whatever is left then is killed.
  bool closing = false;
  try {
    call("Browser.close", "{}", {}, std::chrono::seconds{5});
    closing = true;
  } catch (const std::exception&) {
  }
  if (process_) {
    if (!closing || !process_->wait_exit(std::chrono::seconds{10})) {
      process_->signal_group(SIGKILL);
      process_->wait_exit(std::chrono::seconds{10});
    }
    process_->signal_group(SIGKILL);
    process_.reset();  // kills the group again and reaps
  }
  ::close(to_browser_);
  if (reader_.joinable()) reader_.join();
}

void headless_chromium::read_loop() {
  std::string pending;
  char buf[65536];
  for (;;) {
    auto n = ::read(from_browser_, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    pending.append(buf, static_cast<size_t>(n));
    size_t end;
    while ((end = pending.find('\0')) != std::string::npos) {
      std::string message = pending.substr(0, end);
      pending.erase(0, end + 1);
      rapidjson::Document d;
      d.Parse(message.c_str(), message.size());
      // Events (no id) are not waited for by anyone here.
      if (d.HasParseError() || !d.IsObject() || !d.HasMember("id") || !d["id"].IsUint64()) continue;
      std::lock_guard<std::mutex> lock{mu_};
      answers_[d["id"].GetUint64()] = std::move(message);
      changed_.notify_all();
    }
  }
  ::close(from_browser_);
  std::lock_guard<std::mutex> lock{mu_};
  closed_ = true;
  changed_.notify_all();
}

std::string headless_chromium::call(std::string_view method, std::string_view params,
                                    const std::string& session, std::chrono::milliseconds bound) {
  uint64_t id = next_id_++;
  std::string message = "{\"id\":" + std::to_string(id) + ",\"method\":" + json_quote(method) +
                        ",\"params\":" + std::string{params};
  if (!session.empty()) message += ",\"sessionId\":" + json_quote(session);
  message += '}';
  message.push_back('\0');
  write_all(to_browser_, message);
  std::string answer;
  {
    std::unique_lock<std::mutex> lock{mu_};
    if (!changed_.wait_for(lock, bound, [&] { return answers_.count(id) > 0 || closed_; }))
      throw std::runtime_error("the browser did not answer " + std::string{method} + " within " +
                               std::to_string(bound.count()) + " ms; it printed:\n" + output());
    auto i = answers_.find(id);
    if (i == answers_.end())
      throw std::runtime_error("the browser closed its pipe before answering " + std::string{method} +
                               "; it printed:\n" + output());
    answer = std::move(i->second);
    answers_.erase(i);
  }
  rapidjson::Document d;
  d.Parse(answer.c_str(), answer.size());
  if (d.HasMember("error"))
    throw std::runtime_error(std::string{method} + " failed: " + to_json(d["error"]));
  if (!d.HasMember("result")) return "{}";
  return to_json(d["result"]);
}

std::string headless_chromium::open_page(int width, int height) {
  rapidjson::Document d;
  auto made = call("Target.createTarget", R"({"url":"about:blank"})");
  d.Parse(made.c_str());
  std::string target = d["targetId"].GetString();
  auto attached = call("Target.attachToTarget", "{\"targetId\":" + json_quote(target) + ",\"flatten\":true}");
  d.Parse(attached.c_str());
  std::string session = d["sessionId"].GetString();
  call("Emulation.setDeviceMetricsOverride",
       "{\"width\":" + std::to_string(width) + ",\"height\":" + std::to_string(height) +
           ",\"deviceScaleFactor\":1,\"mobile\":false}",
       session);
  return session;
}

std::string headless_chromium::evaluate(const std::string& session, std::string_view expression,
                                        std::chrono::milliseconds bound) {
  auto result = call("Runtime.evaluate",
                     "{\"expression\":" + json_quote(expression) +
                         ",\"awaitPromise\":true,\"returnByValue\":true}",
                     session, bound);
  rapidjson::Document d;
  d.Parse(result.c_str(), result.size());
  if (d.HasMember("exceptionDetails"))
    throw std::runtime_error("the page threw: " + to_json(d["exceptionDetails"]));
  if (!d.HasMember("result") || !d["result"].HasMember("value")) return "null";
  return to_json(d["result"]["value"]);
}

bool headless_chromium::wait_until(const std::string& session, std::string_view expression,
                                   std::chrono::milliseconds bound) {
  auto until = std::chrono::steady_clock::now() + bound;
  for (;;) {
    try {
      if (evaluate(session, expression, std::chrono::seconds{10}) == "true") return true;
    } catch (const std::runtime_error&) {
      // Loading, or the expression's elements are not there yet.
    }
    if (std::chrono::steady_clock::now() >= until) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds{100});
  }
}

std::string headless_chromium::screenshot(const std::string& session) {
  auto result = call("Page.captureScreenshot", R"({"format":"png"})", session);
  rapidjson::Document d;
  d.Parse(result.c_str(), result.size());
  if (!d.HasMember("data") || !d["data"].IsString())
    throw std::runtime_error("Page.captureScreenshot gave no data");
  return base64_decode({d["data"].GetString(), d["data"].GetStringLength()});
}

}  // namespace syncline::test
