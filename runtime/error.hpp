// runtime/error.hpp: the runtime folder's one error enum.
#pragma once

#include <cstdint>
#include <string>

#include <caf/atom.hpp>
#include <caf/error.hpp>
#include <caf/make_message.hpp>

namespace syncline::runtime {

/// Everything the node's own machinery (configuration, logging, HTTP server, signals) can fail
/// with. The context string of the error is the complete message for a person: it names the
/// setting, file position or address concerned.
enum class runtime_errc : uint8_t {
  /// The configuration is invalid: TOML syntax, unknown key, wrong type or out-of-range value.
  invalid_config = 1,
  /// The configuration file cannot be read (missing, unreadable, a directory).
  config_unreadable,
  /// The log file cannot be opened for appending.
  logging_failed,
  /// The HTTP server cannot listen on the configured address (in use, not local, no permission).
  listen_failed,
  /// The actor system could not be started.
  actor_system_failed,
  /// Signal handling could not be set up.
  signal_setup_failed,
  /// The service manager's notification socket ($NOTIFY_SOCKET) cannot be reached.
  notify_failed,
};

/// Renders the enum value's name, e.g. `"invalid_config"`.
const char* to_string(runtime_errc x) noexcept;

/// The category atom under which runtime errors travel in `caf::error`.
constexpr caf::atom_value runtime_category = caf::atom("runtime");

// Declared right after the enum (see CAF-0.17.md, pitfall 4) so that `caf::error e = errc;`
// and `e == errc` work everywhere.
caf::error make_error(runtime_errc x, std::string context = {});

/// Whether `err` belongs to the runtime category and carries `code`.
bool is(const caf::error& err, runtime_errc code) noexcept;

/// Renders any error a node can meet, for people: runtime and storage errors as
/// `"<what>: <context>"` (e.g. `"invalid configuration: node.toml:3:1: unknown key 'node.nmae'"`),
/// other categories through CAF's generic rendering.
std::string render(const caf::error& err);

/// The renderer to register with `actor_system_config::add_error_category` for
/// `runtime_category`, so that `actor_system::render` uses `render` above.
std::string render_runtime_error(uint8_t code, caf::atom_value category, const caf::message& ctx);

}  // namespace syncline::runtime
