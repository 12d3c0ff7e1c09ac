// actors/item_copy.hpp: one transfer's work, as plain functions over the node's stores and
// connectors: read the item's row, carry out a small action at once (remove, directory,
// symlink), or copy a file in chunks into a temporary name with a durable resume point every
// `checkpoint_bytes`, and commit it under its final name once the source is seen unchanged
// (and, with `verify`, the written bytes hash as the read ones). The transfer actor runs one
// step per I/O job; tests run them directly (tests/actors/item_copy_test.cpp).
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include <caf/error.hpp>
#include <xxhash.h>

#include "actors/messages.hpp"
#include "connectors/source.hpp"
#include "connectors/volume.hpp"
#include "storage/transfer_queue.hpp"

namespace syncline::actors {

class node_context;

/// Everything a copy's steps share; touched by one step at a time (never by the actor).
struct copy_work {
  std::shared_ptr<connectors::source> source;
  std::shared_ptr<connectors::volume> volume;
  std::unique_ptr<connectors::item_reader> reader;
  std::unique_ptr<connectors::item_writer> writer;
  connectors::item_info info;  // the item as opened at the source
  std::string checkpoint;  // meta key of the resume point
  bool has_checkpoint = false;
  uint64_t since_checkpoint = 0;
  bool hashing = false;
  std::unique_ptr<XXH3_state_t, decltype(&XXH3_freeState)> hash{nullptr, &XXH3_freeState};
};

/// What a step did.
struct copy_step {
  caf::error error;
  bool finished = false;  // the report is complete
  uint64_t bytes = 0;     // bytes moved by this step
  transfer_report report;
};

/// The first step: reads the row of `item` (datasource, volume), carries out a removal, a
/// directory or a symlink at once (`finished`), or opens a file's copy, from its resume point
/// if it has one; `skipped` when the row has nothing to do any more.
copy_step start_copy(node_context& ctx, const std::string& datasource,
                     const std::string& volume_id, const storage::queue_item& item, bool verify,
                     copy_work& w);

/// The next chunk (`chunk_bytes`) of an opened copy; at the end of the source, checks that the
/// source did not change (`changed_during_copy`, the partial copy dropped) and the hash, then
/// commits (`finished`).
copy_step copy_chunk(node_context& ctx, copy_work& w, transfer_report report);

}  // namespace syncline::actors
