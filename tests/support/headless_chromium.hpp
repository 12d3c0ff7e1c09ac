// tests/support/headless_chromium.hpp: a headless Chromium that a test drives over the DevTools
// protocol on a pipe (`--remote-debugging-pipe`): the browser reads commands on its descriptor 3
// and writes answers and events on its descriptor 4, each a JSON text followed by a NUL byte.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>

#include "tests/support/child_process.hpp"

namespace syncline::test {

/// One browser process (and its helpers, in a process group of their own) with a profile in
/// `profile_dir`. Every call is bounded: a browser that stops answering fails the test with
/// std::runtime_error (saying what it printed) instead of hanging it. The destructor asks the
/// browser to close, then kills its whole process group, so nothing outlives the test.
/// Not thread-safe: one test thread drives it.
class headless_chromium {
 public:
  /// Where the browser is: `$SYNCLINE_CHROMIUM`, else `chromium` or `chromium-browser` in
  /// `/usr/bin` or on `$PATH`; nullopt when none is installed.
  static std::optional<std::filesystem::path> find();

  /// Starts `program` headless (`--headless=new --no-sandbox`, no first-run chores), its window
  /// `width` x `height` pixels. Throws std::runtime_error when it does not answer within 60 s.
  headless_chromium(const std::filesystem::path& program, const std::filesystem::path& profile_dir,
                    int width = 1280, int height = 800);
  ~headless_chromium();
  headless_chromium(const headless_chromium&) = delete;
  headless_chromium& operator=(const headless_chromium&) = delete;

  /// Sends `method` with `params` (a JSON object's text) to the browser, or to the page of
  /// `session` (flat sessions, `Target.attachToTarget` with `flatten`), and returns the answer's
  /// `result` as JSON text. Throws std::runtime_error for an `error` answer or after `bound`.
  std::string call(std::string_view method, std::string_view params = "{}",
                   const std::string& session = {},
                   std::chrono::milliseconds bound = std::chrono::seconds{30});

  /// Opens a tab of `width` x `height` on `about:blank` and attaches to it; returns its session.
  std::string open_page(int width = 1280, int height = 800);

  /// Evaluates `expression` in the page of `session` (awaiting a promise) and returns its value
  /// as JSON text (`"text"`, `true`, `{...}`; `null` for undefined). Throws std::runtime_error
  /// when it throws or after `bound`.
  std::string evaluate(const std::string& session, std::string_view expression,
                       std::chrono::milliseconds bound = std::chrono::seconds{30});

  /// Evaluates `expression` every 100 ms until it gives `true`; false when `bound` passed
  /// first. Evaluations that throw count as not yet (the page may be loading).
  bool wait_until(const std::string& session, std::string_view expression,
                  std::chrono::milliseconds bound);

  /// A PNG of the page of `session` as it is shown now.
  std::string screenshot(const std::string& session);

  /// What the browser printed so far (for failure messages).
  std::string output() const { return process_ ? process_->output() : std::string{}; }

 private:
  void read_loop();

  int to_browser_ = -1;    // our end of the browser's descriptor 3
  int from_browser_ = -1;  // our end of the browser's descriptor 4
  std::unique_ptr<child_process> process_;
  std::thread reader_;
  std::mutex mu_;
  std::condition_variable changed_;
  std::map<uint64_t, std::string> answers_;  // by id, the whole message
  bool closed_ = false;
  uint64_t next_id_ = 1;
};

/// `text` escaped as a JSON string, quotes included.
std::string json_quote(std::string_view text);

/// Decodes standard base64 (as DevTools sends binary data); throws on a bad character.
std::string base64_decode(std::string_view text);

}  // namespace syncline::test
