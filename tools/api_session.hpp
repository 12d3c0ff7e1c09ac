// tools/api_session.hpp: how the `syncline` commands other than `node` talk to a node: its URL,
// the user's token (the commands have no rights of their own), one call at a time over
// libcurl, and the exit code an answer means.
#pragma once

#include <atomic>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

namespace syncline::connectors {
class tracker_client;
}

namespace syncline::tools {

/// The exit codes of every command but `node` (docs/console.md).
enum exit_code : int {
  exit_ok = 0,
  exit_failed = 1,       ///< the node answered an error not listed below
  exit_usage = 2,        ///< bad command line
  exit_unreachable = 3,  ///< no answer: the node is not running there, or the network failed
  exit_refused = 4,      ///< 401 or 403: no token, a token refused, or a class too low
  exit_not_found = 5,    ///< 404: no such datasource, volume, transfer or user
  exit_conflict = 6,     ///< 409: not now (a paused datasource asked to sync, a name taken)
};

/// What a call came to: the status and body of an answer, or why there was none.
struct api_result {
  int exit = exit_ok;
  long status = 0;
  std::string body;
  /// For a failure: what to tell the user (the request, the status, the node's message).
  std::string error;

  bool ok() const noexcept { return exit == exit_ok; }
};

/// Where the token is looked for when `--token-file` is not given and `SYNCLINE_TOKEN` is unset:
/// `$XDG_CONFIG_HOME/syncline/token`, else `~/.config/syncline/token`.
std::filesystem::path default_token_file();

/// The default node: `$SYNCLINE_URL`, else `http://127.0.0.1:8460`.
std::string default_url();

class api_session {
 public:
  /// `token_file` empty: `SYNCLINE_TOKEN`, else `default_token_file()` when it exists, else no
  /// token (every route but /health then answers 401, which says how to get one). `anonymous`:
  /// no token at all (signing in). `cancel` turning true ends a call in progress (within a
  /// second).
  api_session(std::string url, const std::string& token_file, bool anonymous = false,
              std::shared_ptr<const std::atomic<bool>> cancel = {});
  ~api_session();
  api_session(const api_session&) = delete;
  api_session& operator=(const api_session&) = delete;

  /// Whether a token was found; else `token_problem()` says where it was looked for.
  bool has_token() const noexcept { return !token_.empty(); }
  const std::string& token_problem() const noexcept { return token_problem_; }
  const std::string& url() const noexcept { return url_; }

  /// `method path` with the JSON `body`: a 2xx is ok, anything else a failure with its exit code.
  api_result call(std::string_view method, std::string_view path, std::string_view body = {});
  api_result get(std::string_view path) { return call("GET", path); }
  api_result post(std::string_view path, std::string_view body = "{}") {
    return call("POST", path, body);
  }

  /// Follows `/api/events` from `last_id` (empty: from now), handing each chunk of the stream
  /// to `on_data` until the node ends the stream or `on_data` answers false. Blocks; call it on
  /// a thread of its own with a session of its own.
  api_result follow_events(const std::string& last_id,
                           const std::function<bool(std::string_view)>& on_data);

 private:
  api_result finish(std::string_view method, std::string_view path, long status,
                    std::string body);

  std::string url_;
  std::string token_;
  std::string token_problem_;
  std::unique_ptr<connectors::tracker_client> client_;
};

/// The `{"error", "message"}` of an answer as one line, or the start of the body.
std::string error_message(std::string_view body);

}  // namespace syncline::tools
