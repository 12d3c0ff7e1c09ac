// The meta column family's range operations (kept apart from database.cpp's open logic).
#include <memory>

#include <rocksdb/db.h>

#include "storage/codec.hpp"
#include "storage/database.hpp"
#include "storage/detail/rocks.hpp"
#include "storage/error.hpp"

namespace syncline::storage {

caf::error database::erase_meta(std::string_view key) {
  // Without its schema version the next open refuses the database, and without its node id the
  // node would take a new identity: like put_meta, leave these keys to the database itself.
  if (key == "schema_version" || key == "node_id")
    return make_error(storage_errc::invalid_argument,
                      "meta key '" + std::string{key} + "' is managed by the database itself");
  auto st = impl_->db->Delete(impl_->write_options, impl_->cf(column::meta),
                              rocksdb::Slice{key.data(), key.size()});
  return to_error(st, "erase meta key");
}

caf::error database::scan_meta(
    std::string_view prefix,
    const std::function<bool(std::string_view key, std::string_view value)>& visit) const {
  rocksdb::ReadOptions ro;
  auto upper = codec::prefix_successor(prefix);
  rocksdb::Slice upper_slice;
  if (upper) {
    upper_slice = rocksdb::Slice{upper->data(), upper->size()};
    ro.iterate_upper_bound = &upper_slice;
  }
  std::unique_ptr<rocksdb::Iterator> it{impl_->db->NewIterator(ro, impl_->cf(column::meta))};
  for (it->Seek(rocksdb::Slice{prefix.data(), prefix.size()}); it->Valid(); it->Next()) {
    if (!visit({it->key().data(), it->key().size()}, {it->value().data(), it->value().size()}))
      break;
  }
  return to_error(it->status(), "scan meta keys");
}

}  // namespace syncline::storage
