#include "actors/messages.hpp"

#include "actors/error.hpp"
#include "connectors/error.hpp"
#include "storage/error.hpp"

namespace syncline::actors {

const char* to_string(transfer_outcome o) noexcept {
  switch (o) {
    case transfer_outcome::done: return "done";
    case transfer_outcome::failed: return "failed";
    case transfer_outcome::skipped: return "skipped";
  }
  return "unknown";
}

void register_types(caf::actor_system_config& cfg) {
  cfg.add_message_type<actor_status>("actor_status");
  cfg.add_message_type<transfer_report>("transfer_report");
  cfg.add_message_type<retry_decision>("retry_decision");
  cfg.add_message_type<directory_entry>("directory_entry");
  cfg.add_message_type<storage::queue_ticket>("queue_ticket");
  auto renderer = [](uint8_t code, caf::atom_value category, const caf::message& ctx) {
    return render(caf::error{code, category, ctx});
  };
  cfg.add_error_category(storage::storage_category, renderer);
  cfg.add_error_category(connectors::connector_category, renderer);
  cfg.add_error_category(actors_category, renderer);
}

}  // namespace syncline::actors
