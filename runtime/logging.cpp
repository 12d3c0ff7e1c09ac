#include "runtime/logging.hpp"

#include <memory>
#include <vector>

#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include "runtime/error.hpp"

namespace syncline::runtime {

namespace {

constexpr const char* pattern = "[%Y-%m-%d %H:%M:%S.%e] [%^%l%$] %v";

spdlog::level::level_enum to_spdlog(log_level x) {
  switch (x) {
    case log_level::trace:
      return spdlog::level::trace;
    case log_level::debug:
      return spdlog::level::debug;
    case log_level::info:
      return spdlog::level::info;
    case log_level::warn:
      return spdlog::level::warn;
    case log_level::error:
      return spdlog::level::err;
    case log_level::critical:
      return spdlog::level::critical;
    case log_level::off:
      return spdlog::level::off;
  }
  return spdlog::level::info;
}

void install(std::vector<spdlog::sink_ptr> sinks, spdlog::level::level_enum level) {
  auto logger = std::make_shared<spdlog::logger>("syncline", sinks.begin(), sinks.end());
  logger->set_pattern(pattern);
  logger->set_level(level);
  // A node logs little; flushing every line keeps the file complete when the process dies and
  // lets tools follow the log as it is written.
  logger->flush_on(spdlog::level::trace);
  spdlog::set_default_logger(std::move(logger));
}

}  // namespace

void start_console_logging() {
  install({std::make_shared<spdlog::sinks::stderr_color_sink_mt>()}, spdlog::level::info);
}

caf::error start_logging(const log_settings& settings) {
  std::vector<spdlog::sink_ptr> sinks{std::make_shared<spdlog::sinks::stderr_color_sink_mt>()};
  if (!settings.file.empty()) {
    try {
      sinks.push_back(
          std::make_shared<spdlog::sinks::basic_file_sink_mt>(settings.file.string(), false));
    } catch (const spdlog::spdlog_ex& e) {
      return make_error(runtime_errc::logging_failed,
                        "log file " + settings.file.string() + ": " + e.what());
    }
  }
  install(std::move(sinks), to_spdlog(settings.level));
  return caf::none;
}

void stop_logging() noexcept {
  spdlog::shutdown();
}

}  // namespace syncline::runtime
