// tools/node_actions.hpp: what an operator may do to a node, each one call (or a few) of its API
// with the operator's token: pause and resume (the node, a volume, a datasource, a transfer),
// sync now, confirm held removals, change a datasource's priority, push an item again. The
// console's keys and the `syncline` verbs both come here.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "tools/api_session.hpp"
#include "tools/node_view.hpp"

namespace syncline::tools {

/// What an action is about: `kind` "node", "volume", "datasource" or "transfer"; `id` empty for
/// the node, a transfer's is `<volume>/<n>`.
struct target {
  std::string kind, id;
};

/// The datasource `id` as the node lists it (its workspace is needed for its routes); a failure
/// `exit_not_found` when the caller sees no such datasource.
api_result find_datasource(api_session& api, std::string_view id, datasource_row& out);

/// Pauses (`pause`) or resumes `t`. The body of the answer is the node's.
api_result pause_resume(api_session& api, const target& t, bool pause);

/// Starts a run now: of one datasource, of every datasource writing to a volume, or of every
/// datasource (node). The body is a JSON array of the node's answers, one per datasource.
/// A datasource that refuses (paused: 409) makes the result a failure after the others
/// were asked.
api_result sync_now(api_session& api, const target& t);

/// Confirms `count` removals held back by the deletion guard of datasource `id`.
api_result confirm_removals(api_session& api, std::string_view id, uint64_t count);

/// Sets datasource `id`'s `sync_priority`.
api_result set_priority(api_session& api, std::string_view id, int64_t priority);

/// Pushes the item `reference` (a path relative to the datasource) of datasource `id` through
/// again.
api_result push_item(api_session& api, std::string_view id, std::string_view reference);

/// Reads a target from the command line's words: `node`, `volume ID`, `datasource ID`,
/// `transfer VOLUME/N`; empty `kind` and a message in `problem` when they are not one.
target read_target(const std::string& kind, const std::string& id, std::string& problem);

}  // namespace syncline::tools
