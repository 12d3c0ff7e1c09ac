// runtime/node.hpp: a running syncline node and the `syncline node` command.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include <caf/error.hpp>
#include <caf/expected.hpp>

#include "runtime/node_config.hpp"

namespace syncline::actors {
class node_context;
}  // namespace syncline::actors

namespace syncline::runtime {

/// A started node: its database open (the data directory locked), its actor system running and
/// its HTTP server listening. Routes now: `GET /health`. Logs through the process log
/// (runtime/logging.hpp), which the caller sets up.
class node {
 public:
  /// Starts every part in order: database, actor system, HTTP server. On error whatever was
  /// started is stopped again and the error says what failed: `storage_errc::locked` when
  /// another process holds the data directory, `runtime_errc::listen_failed`, and so on.
  /// `cfg` must come from `load_config`.
  [[nodiscard]] static caf::expected<std::unique_ptr<node>> start(const node_config& cfg);

  /// Stops as `stop` does.
  ~node();
  node(const node&) = delete;
  node& operator=(const node&) = delete;

  /// The HTTP address actually bound (the real port when 0 was configured).
  const listen_address& http_address() const noexcept;
  /// The database's identity (a ULID).
  const std::string& node_id() const noexcept;
  /// What the node's actors share (storage, connectors, the content route's limits); valid
  /// until `stop`. For tests that steer a node from inside its process.
  actors::node_context& context() noexcept;

  /// Stops in reverse order: HTTP server (requests in flight get a short grace), actor system
  /// (waits for every actor), database (closed, the data directory unlocked). Idempotent.
  void stop() noexcept;

  /// Why the node had to stop by itself (its supervisor ended on a fatal failure, e.g. storage
  /// corruption), or none. When it happens the node raises SIGTERM in its own process, so
  /// `run_node` wakes up, stops and returns this error.
  caf::error fatal_error() const;

 private:
  struct impl;
  explicit node(std::unique_ptr<impl> p);
  std::unique_ptr<impl> impl_;
};

/// The `syncline node` command. Blocks SIGINT and SIGTERM in the calling thread, and so in every
/// thread started afterwards, then sets up the log from `cfg.log`, starts the node and waits in
/// the calling thread for either signal; then stops the node and returns `caf::none`.
/// REQUIRES: no other thread of the process is running yet (they would not have the signals
/// blocked, and one of them could be killed by the signal instead). Errors are those of
/// `start_logging` and `node::start`; they are returned, not logged.
[[nodiscard]] caf::error run_node(const node_config& cfg);

}  // namespace syncline::runtime
