// runtime/logging.hpp: the process-wide log (spdlog's default logger).
#pragma once

#include <caf/error.hpp>

#include "runtime/node_config.hpp"

namespace syncline::runtime {

/// Installs a stderr-only log at level info, for the time before the configuration is known.
/// Everything in the process logs through spdlog's default logger (`spdlog::info(...)`).
void start_console_logging();

/// Replaces the log with one that writes to stderr and, when `settings.file` is set, appends to
/// that file (created if missing), at `settings.level`. Every line is flushed as it is written,
/// so a crash loses nothing already logged. Fails with `runtime_errc::logging_failed` naming the
/// file; the previous log then stays in place. Not thread-safe against concurrent calls of
/// itself; logging from other threads meanwhile is fine.
[[nodiscard]] caf::error start_logging(const log_settings& settings);

/// Flushes and releases every logger; logging afterwards is a no-op until a start function
/// is called again. Call last, after every thread that logs has stopped.
void stop_logging() noexcept;

}  // namespace syncline::runtime
