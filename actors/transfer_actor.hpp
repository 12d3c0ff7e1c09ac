// actors/transfer_actor.hpp: one pending action of one item towards one volume, or a batch of
// small files' actions (actors/transfer_batch.cpp).
#pragma once

#include <string>
#include <vector>

#include <caf/actor_system.hpp>
#include <caf/local_actor.hpp>

#include "actors/messages.hpp"

namespace syncline::actors {

class node_context;

struct transfer_init {
  node_context* ctx = nullptr;
  volume_actor volume;         ///< reports `xfer_done` here
  std::string volume_id;
  std::string datasource;
  storage::queue_item item;    ///< payload: the item's reference
  bool verify = false;         ///< compare XXH3-64 of source and written bytes before commit
  bool start_paused = false;
};

/// The transfer reads its item's datastore row when it starts (the queue item only names it),
/// then carries out the row's action: remove, make a directory, make a symlink, or copy a file:
/// into a temporary name, in chunks of `chunk_bytes` (one I/O job each, so pause, cancel and
/// status are answered between chunks), with a durable resume point every
/// `checkpoint_bytes`; a transfer that finds a resume point continues from it. The copy is
/// committed (mode, mtime, rename) only if the source did not change meanwhile and, with
/// `verify`, the written bytes hash like the read ones. Reports once to its volume and exits.
transfer_actor::behavior_type transfer(
    transfer_actor::stateful_pointer<struct transfer_state> self, transfer_init init);

/// Spawns a transfer linked to `parent` (its volume): when the volume stops, so does it.
transfer_actor spawn_transfer(caf::local_actor* parent, transfer_init init);

struct transfer_batch_init {
  node_context* ctx = nullptr;
  volume_actor volume;                   ///< reports `xfer_done` (all reports at once) here
  std::string volume_id;
  std::string datasource;                ///< every item is this datasource's
  std::vector<storage::queue_item> items;
  bool verify = false;
};

/// A batch: one transfer actor for several items of one datasource, meant for small files
/// (below one chunk). It carries them out in as few I/O jobs as it can (`copy_batch`: one job
/// for the whole batch unless paused or cancelled), each item exactly as a transfer would, and
/// reports them all in one message. A file found to take a chunk or more is reported `chunked`
/// and left for a transfer of its own. Pause, resume and cancel apply to the whole batch and
/// take effect between files; status shows the batch's files and how many are done.
transfer_actor::behavior_type transfer_batch(
    transfer_actor::stateful_pointer<struct transfer_batch_state> self, transfer_batch_init init);

/// Spawns a batch linked to `parent` (its volume).
transfer_actor spawn_transfer_batch(caf::local_actor* parent, transfer_batch_init init);

}  // namespace syncline::actors
