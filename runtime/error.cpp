#include "runtime/error.hpp"

#include <caf/message.hpp>
#include <caf/sec.hpp>

#include "storage/error.hpp"

namespace syncline::runtime {

namespace {

// The prefix a person reads before the context; the enum names are for programs.
const char* describe(runtime_errc x) noexcept {
  switch (x) {
    case runtime_errc::invalid_config:
      return "invalid configuration";
    case runtime_errc::config_unreadable:
      return "cannot read the configuration";
    case runtime_errc::logging_failed:
      return "cannot set up logging";
    case runtime_errc::listen_failed:
      return "cannot start the HTTP server";
    case runtime_errc::actor_system_failed:
      return "cannot start the actor system";
    case runtime_errc::signal_setup_failed:
      return "cannot set up signal handling";
    case runtime_errc::notify_failed:
      return "cannot notify the service manager";
  }
  return "runtime error";
}

std::string context_text(const caf::message& ctx) {
  if (ctx.size() == 1 && ctx.match_element<std::string>(0)) return ctx.get_as<std::string>(0);
  return ctx.empty() ? std::string{} : caf::to_string(ctx);
}

}  // namespace

const char* to_string(runtime_errc x) noexcept {
  switch (x) {
    case runtime_errc::invalid_config:
      return "invalid_config";
    case runtime_errc::config_unreadable:
      return "config_unreadable";
    case runtime_errc::logging_failed:
      return "logging_failed";
    case runtime_errc::listen_failed:
      return "listen_failed";
    case runtime_errc::actor_system_failed:
      return "actor_system_failed";
    case runtime_errc::signal_setup_failed:
      return "signal_setup_failed";
    case runtime_errc::notify_failed:
      return "notify_failed";
  }
  return "unknown";
}

caf::error make_error(runtime_errc x, std::string context) {
  return {static_cast<uint8_t>(x), runtime_category,
          context.empty() ? caf::message{} : caf::make_message(std::move(context))};
}

bool is(const caf::error& err, runtime_errc code) noexcept {
  return err.category() == runtime_category && err.code() == static_cast<uint8_t>(code);
}

std::string render_runtime_error(uint8_t code, caf::atom_value, const caf::message& ctx) {
  std::string out = describe(static_cast<runtime_errc>(code));
  auto text = context_text(ctx);
  if (!text.empty()) {
    out += ": ";
    out += text;
  }
  return out;
}

std::string render(const caf::error& err) {
  if (!err) return "no error";
  if (err.category() == runtime_category)
    return render_runtime_error(err.code(), err.category(), err.context());
  if (err.category() == storage::storage_category) return storage::render(err);
  return caf::to_string(err);
}

}  // namespace syncline::runtime
