// actors/item_copy.hpp: one transfer's work, as plain functions over the node's stores and
// connectors: read the item's row, carry out a small action at once (remove, directory,
// symlink), or copy a file in chunks into a temporary name with a durable resume point every
// `checkpoint_bytes`, and commit it under its final name once the source is seen unchanged
// (and, with `verify`, the written bytes hash as the read ones). The transfer actor runs one
// step per I/O job; a batch of small files runs many items in one job (`copy_batch`). Tests run
// them directly (tests/actors/item_copy_test.cpp).
#pragma once

#include <atomic>
#include <cstdint>
#include <limits>
#include <memory>
#include <string>
#include <vector>

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
  /// Set by a batch before start_copy: the volume's view for the batch (`volume::for_batch`),
  /// used in place of the pair's target.
  std::shared_ptr<connectors::volume> batch_volume;
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
/// if it has one; `skipped` when the row has nothing to do any more. A file whose row is larger
/// than `max_size` is left untouched: `chunked`, `finished` (a batch gives it back).
copy_step start_copy(node_context& ctx, const std::string& datasource,
                     const std::string& volume_id, const storage::queue_item& item, bool verify,
                     copy_work& w,
                     uint64_t max_size = std::numeric_limits<uint64_t>::max());

/// The next chunk (`chunk_bytes`) of an opened copy; at the end of the source, checks that the
/// source did not change (`changed_during_copy`, the partial copy dropped) and the hash, then
/// commits (`finished`).
copy_step copy_chunk(node_context& ctx, copy_work& w, transfer_report report);

/// What a batch's job did: one report per item it reached (in order), and where to go on.
struct batch_step {
  std::vector<transfer_report> reports;
  size_t next = 0;     // the first item not reached
  uint64_t bytes = 0;  // bytes moved by this job
};

/// Carries out `items[from...]` (one datasource's, towards one volume) one after the other in
/// this one job, each exactly as a transfer would (`start_copy`, then `copy_chunk` until it is
/// committed): a failed item is a `failed` report and the next one goes on. A file whose row
/// says it takes a chunk or more is `chunked` (left for a transfer of its own). `stop` is looked
/// at between items: once set, the job returns with what it did.
batch_step copy_batch(node_context& ctx, const std::string& datasource,
                      const std::string& volume_id, const std::vector<storage::queue_item>& items,
                      size_t from, bool verify, const std::atomic<bool>& stop);

}  // namespace syncline::actors
