// storage/detail/rocks.hpp: RocksDB handles behind `database`, for storage/*.cpp only.
// Nothing outside storage/ includes this file (tests/layout_test checks it).
#pragma once

#include <array>
#include <memory>
#include <string>

#include <rocksdb/db.h>
#include <rocksdb/status.h>
#include <rocksdb/write_batch.h>

#include "storage/database.hpp"

namespace syncline::storage {

struct database::impl {
  std::filesystem::path data_dir;
  std::unique_ptr<rocksdb::DB> db;
  std::array<rocksdb::ColumnFamilyHandle*, column_count> handles{};
  rocksdb::WriteOptions write_options;
  std::string node_id;
  uint32_t stored_schema = 0;
  int lock_fd = -1;

  rocksdb::ColumnFamilyHandle* cf(column c) const noexcept {
    return handles[static_cast<size_t>(c)];
  }
  ~impl();
};

struct write_batch::impl {
  rocksdb::WriteBatch batch;
  std::vector<std::function<void()>> hooks;
  bool sync = false;  ///< fsync the log when written (`write_batch::sync_on_write`)
};

/// The single place where a RocksDB status becomes a storage error. `what` says what was being
/// done ("open /x/db", "write batch"), so the message names the operation.
caf::error to_error(const rocksdb::Status& st, std::string_view what);

}  // namespace syncline::storage
