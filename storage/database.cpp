#include "storage/database.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <system_error>
#include <vector>

#include <rocksdb/cache.h>
#include <rocksdb/filter_policy.h>
#include <rocksdb/options.h>
#include <rocksdb/table.h>
#include <rocksdb/utilities/table_properties_collectors.h>

#include "storage/detail/rocks.hpp"
#include "storage/error.hpp"
#include "storage/ulid.hpp"

namespace syncline::storage {

namespace {

constexpr column all_columns[] = {column::elements, column::datastore, column::runs, column::queue,
                                  column::users,    column::tokens,    column::meta};

constexpr const char* meta_schema_key = "schema_version";
constexpr const char* meta_node_key = "node_id";
constexpr const char* meta_created_key = "created_ms";

std::string errno_text(int err) { return std::error_code(err, std::generic_category()).message(); }

rocksdb::DBOptions make_db_options(const database_options& opts) {
  rocksdb::DBOptions o;
  o.create_if_missing = opts.create_if_missing;
  o.create_missing_column_families = true;
  // Two cores: one flush and one compaction at a time is the most the machine can give.
  o.max_background_jobs = 2;
  // Writers insert into the memtables one write group at a time: the skip list then starts each
  // insert from where the previous one went in (its splice), and most keys of a batch follow the
  // previous one (a listing's rows, a queue's new items, a completion's rows), where a
  // concurrent insert searches from the top every time. load_bench: docs/benchmarks.md.
  o.allow_concurrent_memtable_write = false;
  o.bytes_per_sync = 1 << 20;
  o.wal_bytes_per_sync = 1 << 20;
  o.max_total_wal_size = 256u << 20;
  o.keep_log_file_num = 3;
  o.max_log_file_size = 8u << 20;
  o.max_open_files = 1024;
  o.info_log_level = rocksdb::InfoLogLevel::WARN_LEVEL;
  return o;
}

rocksdb::ColumnFamilyOptions make_cf_options(column c, const std::shared_ptr<rocksdb::Cache>& cache) {
  rocksdb::ColumnFamilyOptions o;
  rocksdb::BlockBasedTableOptions t;
  t.block_cache = cache;
  t.format_version = 5;
  t.cache_index_and_filter_blocks = true;
  t.pin_l0_filter_and_index_blocks_in_cache = true;
  // Index and filter in partitions of a few KiB: a file of a million elements has megabytes of
  // index, more than a shard of the block cache holds, so a monolithic index block was evicted
  // and read again (and decompressed) by nearly every point read and every new iterator.
  t.index_type = rocksdb::BlockBasedTableOptions::kTwoLevelIndexSearch;
  t.partition_filters = true;
  t.pin_top_level_index_and_filter = true;
  t.cache_index_and_filter_blocks_with_high_priority = true;
  bool point_lookups =
      c == column::elements || c == column::users || c == column::tokens || c == column::datastore;
  // Whole-key bloom filters make "does this _id exist?" cheap for the many creates of ids that
  // do not exist yet, and for point reads.
  if (point_lookups) t.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10));
  o.table_factory.reset(rocksdb::NewBlockBasedTableFactory(t));
  if (point_lookups) {
    // The same for the memtable: without it, every lookup of an absent id (each create checks
    // its ids) walks the skip list, a cache miss per level.
    o.memtable_prefix_bloom_size_ratio = 0.02;
    o.memtable_whole_key_filtering = true;
  }
  // LZ4 at every level: full scans (search) decompress every block, and ZSTD's smaller files
  // cost more time there than they save.
  o.compression = rocksdb::kLZ4Compression;
  o.level_compaction_dynamic_level_bytes = true;
  o.write_buffer_size = (c == column::elements || c == column::datastore) ? (64u << 20) : (16u << 20);
  if (c == column::queue) {
    // The queue is a FIFO: every key is deleted soon after it is written. Compacting files full
    // of tombstones early keeps seeks to the queue's head from wading through them.
    o.table_properties_collector_factories.emplace_back(
        rocksdb::NewCompactOnDeletionCollectorFactory(1024, 512));
  }
  return o;
}

// Holds an exclusive flock on <data_dir>/node.lock for the life of the database. The lock dies
// with the process, so a killed node never leaves a stale lock behind.
caf::expected<int> lock_data_dir(const std::filesystem::path& dir) {
  auto path = dir / "node.lock";
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0)
    return make_error(storage_errc::io_error,
                      "cannot open lock file " + path.string() + ": " + errno_text(errno));
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    int err = errno;
    std::string holder;
    char buf[32] = {};
    auto n = ::pread(fd, buf, sizeof(buf) - 1, 0);
    if (n > 0) holder = std::string(buf, static_cast<size_t>(n));
    while (!holder.empty() && (holder.back() == '\n' || holder.back() == ' ')) holder.pop_back();
    ::close(fd);
    if (err == EWOULDBLOCK)
      return make_error(storage_errc::locked,
                        "data directory " + dir.string() + " is in use by another syncline node" +
                            (holder.empty() ? std::string{} : " (pid " + holder + ")"));
    return make_error(storage_errc::io_error,
                      "cannot lock " + path.string() + ": " + errno_text(err));
  }
  auto pid = std::to_string(::getpid()) + "\n";
  if (::ftruncate(fd, 0) != 0 || ::pwrite(fd, pid.data(), pid.size(), 0) < 0) {
    int err = errno;
    ::close(fd);
    return make_error(storage_errc::io_error,
                      "cannot write lock file " + path.string() + ": " + errno_text(err));
  }
  return fd;
}

// What an existing database directory turned out to hold.
enum class existing_db { syncline, never_initialised };

struct existing_schema {
  existing_db kind = existing_db::syncline;
  uint32_t version = 0;  // when kind is syncline
};

// Whether every column family of `db` is empty.
caf::expected<bool> all_empty(rocksdb::DB& db,
                              const std::vector<rocksdb::ColumnFamilyHandle*>& handles) {
  for (auto* h : handles) {
    std::unique_ptr<rocksdb::Iterator> it{db.NewIterator(rocksdb::ReadOptions{}, h)};
    it->SeekToFirst();
    if (!it->status().ok()) return to_error(it->status(), "read column family " + h->GetName());
    if (it->Valid()) return false;
  }
  return true;
}

// A stored schema version: decimal digits only.
std::optional<uint32_t> parse_version(const std::string& text) {
  if (text.empty() || text.size() > 9) return std::nullopt;
  uint32_t v = 0;
  for (char ch : text) {
    if (ch < '0' || ch > '9') return std::nullopt;
    v = v * 10 + static_cast<uint32_t>(ch - '0');
  }
  return v;
}

// Reads the schema version of an existing database without writing anything to it, so a
// database of another version is refused untouched. RocksDB creates the column families one by
// one and only then does open() write the schema version, so a first open killed in between
// leaves column families, all of them ours, with nothing in them: such a database holds nothing
// to protect and is initialised again rather than locking the node out of its data directory.
caf::expected<existing_schema> check_existing_schema(const std::filesystem::path& db_dir,
                                                 const std::vector<std::string>& cf_names) {
  bool has_meta = false;
  bool all_ours = true;
  for (auto& n : cf_names) {
    has_meta = has_meta || n == to_string(column::meta);
    bool ours = n == rocksdb::kDefaultColumnFamilyName;
    for (auto c : all_columns) ours = ours || n == to_string(c);
    all_ours = all_ours && ours;
  }
  auto not_syncline = [&] {
    return make_error(storage_errc::schema_mismatch,
                      db_dir.string() + " is a RocksDB database but not a syncline one "
                                        "(it has no 'meta' column family)");
  };
  if (!has_meta && !all_ours) return not_syncline();
  std::vector<rocksdb::ColumnFamilyDescriptor> descs;
  for (auto& n : cf_names) descs.emplace_back(n, rocksdb::ColumnFamilyOptions{});
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* raw = nullptr;
  rocksdb::DBOptions o;
  o.info_log_level = rocksdb::InfoLogLevel::ERROR_LEVEL;
  auto st = rocksdb::DB::OpenForReadOnly(o, db_dir.string(), descs, &handles, &raw);
  if (!st.ok()) return to_error(st, "open " + db_dir.string() + " to check its schema");
  std::unique_ptr<rocksdb::DB> db{raw};
  rocksdb::ColumnFamilyHandle* meta = nullptr;
  for (size_t i = 0; i < descs.size(); ++i)
    if (descs[i].name == to_string(column::meta)) meta = handles[i];
  std::string value;
  st = meta ? db->Get(rocksdb::ReadOptions{}, meta, meta_schema_key, &value)
            : rocksdb::Status::NotFound();
  caf::expected<existing_schema> result = existing_schema{};
  if (st.IsNotFound()) {
    auto empty = all_ours ? all_empty(*db, handles) : caf::expected<bool>{false};
    if (!empty)
      result = std::move(empty.error());
    else if (*empty)
      result = existing_schema{existing_db::never_initialised, 0};
    else if (!has_meta)
      result = not_syncline();
    else
      result = make_error(storage_errc::schema_mismatch,
                          db_dir.string() +
                              " has no schema version; it was not written by syncline");
  } else if (!st.ok()) {
    result = to_error(st, "read schema version of " + db_dir.string());
  } else if (auto v = parse_version(value);
             v && *v >= oldest_upgradable_schema && *v <= schema_version) {
    result = existing_schema{existing_db::syncline, *v};
  } else {
    result = make_error(storage_errc::schema_mismatch,
                        "data directory " + db_dir.parent_path().string() +
                            " holds schema version " + value +
                            "; this build of syncline reads schema version " +
                            std::to_string(schema_version) +
                            (v && *v > schema_version
                                 ? " (it was written by a newer syncline: use that version, or "
                                   "a new --data-dir)"
                                 : " (use the matching syncline version, or a new --data-dir)"));
  }
  for (auto* h : handles) db->DestroyColumnFamilyHandle(h);
  return result;
}

}  // namespace

const char* to_string(column c) noexcept {
  switch (c) {
    case column::elements: return "elements";
    case column::datastore: return "datastore";
    case column::runs: return "runs";
    case column::queue: return "queue";
    case column::users: return "users";
    case column::tokens: return "tokens";
    case column::meta: return "meta";
  }
  return "unknown";
}

caf::error to_error(const rocksdb::Status& st, std::string_view what) {
  if (st.ok()) return caf::none;
  std::string msg{what};
  msg += ": ";
  msg += st.ToString();
  switch (st.code()) {
    case rocksdb::Status::kNotFound: return make_error(storage_errc::not_found, std::move(msg));
    case rocksdb::Status::kCorruption: return make_error(storage_errc::corruption, std::move(msg));
    case rocksdb::Status::kInvalidArgument:
    case rocksdb::Status::kNotSupported:
      return make_error(storage_errc::invalid_argument, std::move(msg));
    case rocksdb::Status::kBusy:
    case rocksdb::Status::kTimedOut:
    case rocksdb::Status::kTryAgain:
    case rocksdb::Status::kIncomplete:
      return make_error(storage_errc::busy, std::move(msg));
    case rocksdb::Status::kShutdownInProgress:
    case rocksdb::Status::kAborted:
      return make_error(storage_errc::closed, std::move(msg));
    default: return make_error(storage_errc::io_error, std::move(msg));
  }
}

database::impl::~impl() {
  if (db) {
    for (auto* h : handles)
      if (h) db->DestroyColumnFamilyHandle(h);
    // Close() waits for background work; the WAL already holds every acknowledged write.
    db->Close();
    db.reset();
  }
  if (lock_fd >= 0) ::close(lock_fd);
}

namespace {

// Sets the permission bits of `path` to `mode` unless they already are; symbolic links are
// left alone (lstat), so a link cannot make the node change a file elsewhere.
caf::error restrict_one(const std::filesystem::path& path, mode_t mode) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) {
    if (errno == ENOENT) return caf::none;  // gone meanwhile: nothing to protect
    return make_error(storage_errc::io_error,
                      "cannot read the mode of " + path.string() + ": " + std::strerror(errno));
  }
  bool dir = S_ISDIR(st.st_mode);
  if (!dir && !S_ISREG(st.st_mode)) return caf::none;
  if ((st.st_mode & 07777) == mode) return caf::none;
  if (::chmod(path.c_str(), mode) != 0)
    return make_error(storage_errc::io_error,
                      "cannot restrict " + path.string() + " to mode " +
                          (dir ? std::string{"0700"} : std::string{"0600"}) + ": " +
                          std::strerror(errno));
  return caf::none;
}

caf::error restrict_entry(const std::filesystem::path& path) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) return caf::none;
  if (S_ISDIR(st.st_mode)) return restrict_one(path, 0700);
  if (S_ISREG(st.st_mode)) return restrict_one(path, 0600);
  return caf::none;
}

}  // namespace

caf::error restrict_data_dir(const std::filesystem::path& data_dir) {
  if (auto err = restrict_one(data_dir, 0700)) return err;
  std::error_code ec;
  // The node's own files at the top (the lock, credentials.key); directories there other than
  // db/ may be a person's, and are left as they are.
  for (std::filesystem::directory_iterator it{data_dir, ec}, end; !ec && it != end;
       it.increment(ec)) {
    struct stat st {};
    if (::lstat(it->path().c_str(), &st) != 0 || !S_ISREG(st.st_mode)) continue;
    if (auto err = restrict_one(it->path(), 0600)) return err;
  }
  if (ec)
    return make_error(storage_errc::io_error,
                      "cannot list data directory " + data_dir.string() + ": " + ec.message());
  auto db_dir = data_dir / "db";
  struct stat st {};
  if (::lstat(db_dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) return caf::none;
  if (auto err = restrict_one(db_dir, 0700)) return err;
  // The default options do not follow directory symlinks.
  for (std::filesystem::recursive_directory_iterator it{db_dir, ec}, end; !ec && it != end;
       it.increment(ec))
    if (auto err = restrict_entry(it->path())) return err;
  if (ec)
    return make_error(storage_errc::io_error,
                      "cannot list " + db_dir.string() + ": " + ec.message());
  return caf::none;
}

database::database(std::unique_ptr<impl> p) : impl_(std::move(p)) {}

database::~database() = default;

caf::expected<std::unique_ptr<database>> database::open(const database_options& opts) {
  if (opts.data_dir.empty())
    return make_error(storage_errc::invalid_argument, "no data directory given");
  std::error_code ec;
  bool existed = std::filesystem::exists(opts.data_dir, ec);
  if (!existed) {
    if (!opts.create_if_missing)
      return make_error(storage_errc::not_found,
                        "data directory " + opts.data_dir.string() + " does not exist");
    std::filesystem::create_directories(opts.data_dir, ec);
    if (ec)
      return make_error(storage_errc::io_error,
                        "cannot create data directory " + opts.data_dir.string() + ": " +
                            ec.message());
    // The directory will hold password hashes and tokens: owner only.
    std::filesystem::permissions(opts.data_dir, std::filesystem::perms::owner_all,
                                 std::filesystem::perm_options::replace, ec);
  } else if (!std::filesystem::is_directory(opts.data_dir, ec)) {
    return make_error(storage_errc::invalid_argument,
                      "data directory " + opts.data_dir.string() + " is not a directory");
  }
  auto p = std::make_unique<impl>();
  p->data_dir = opts.data_dir;
  auto fd = lock_data_dir(opts.data_dir);
  if (!fd) return std::move(fd.error());
  p->lock_fd = *fd;

  auto db_dir = opts.data_dir / "db";
  auto db_options = make_db_options(opts);
  std::vector<std::string> existing;
  bool fresh = true;
  if (std::filesystem::exists(db_dir / "CURRENT", ec)) {
    fresh = false;
    auto st = rocksdb::DB::ListColumnFamilies(db_options, db_dir.string(), &existing);
    if (!st.ok()) return to_error(st, "list column families of " + db_dir.string());
    auto found = check_existing_schema(db_dir, existing);
    if (!found) return std::move(found.error());
    fresh = found->kind == existing_db::never_initialised;
    p->stored_schema = found->version;
  } else if (!opts.create_if_missing) {
    return make_error(storage_errc::not_found, "no database in " + opts.data_dir.string());
  }

  auto cache = rocksdb::NewLRUCache(opts.block_cache_bytes);
  std::vector<rocksdb::ColumnFamilyDescriptor> descs;
  descs.emplace_back(rocksdb::kDefaultColumnFamilyName, rocksdb::ColumnFamilyOptions{});
  for (auto c : all_columns) descs.emplace_back(to_string(c), make_cf_options(c, cache));
  // Column families of a newer build (same schema version) are opened and left alone.
  for (auto& name : existing) {
    bool known = name == rocksdb::kDefaultColumnFamilyName;
    for (auto c : all_columns) known = known || name == to_string(c);
    if (!known) descs.emplace_back(name, rocksdb::ColumnFamilyOptions{});
  }
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* raw = nullptr;
  auto st = rocksdb::DB::Open(db_options, db_dir.string(), descs, &handles, &raw);
  if (!st.ok()) return to_error(st, "open database " + db_dir.string());
  p->db.reset(raw);
  for (size_t i = 0; i < descs.size(); ++i) {
    bool kept = false;
    for (auto c : all_columns) {
      if (descs[i].name == to_string(c)) {
        p->handles[static_cast<size_t>(c)] = handles[i];
        kept = true;
      }
    }
    if (!kept) p->db->DestroyColumnFamilyHandle(handles[i]);
  }
  p->write_options.sync = opts.sync_writes;

  auto* meta = p->cf(column::meta);
  std::string node_id;
  st = p->db->Get(rocksdb::ReadOptions{}, meta, meta_node_key, &node_id);
  if (st.IsNotFound() && fresh) {
    node_id = make_ulid(epoch_ms());
    rocksdb::WriteBatch b;
    b.Put(meta, meta_schema_key, std::to_string(schema_version));
    b.Put(meta, meta_node_key, node_id);
    b.Put(meta, meta_created_key, std::to_string(epoch_ms()));
    rocksdb::WriteOptions w;
    w.sync = true;
    st = p->db->Write(w, &b);
    if (!st.ok()) return to_error(st, "initialise database " + db_dir.string());
  } else if (!st.ok()) {
    return to_error(st, "read node identity from " + db_dir.string());
  }
  p->node_id = std::move(node_id);
  if (fresh) p->stored_schema = schema_version;
  // At every open, after RocksDB made its files for this run: the directory holds password
  // hashes, tokens and the credentials key.
  if (auto err = restrict_data_dir(opts.data_dir)) return err;
  return std::unique_ptr<database>(new database(std::move(p)));
}

const std::string& database::node_id() const noexcept { return impl_->node_id; }

const std::filesystem::path& database::data_dir() const noexcept { return impl_->data_dir; }

caf::error database::write(write_batch& batch) {
  auto& b = batch.internals();
  if (b.batch.Count() > 0) {
    auto w = impl_->write_options;
    w.sync = w.sync || b.sync;
    auto st = impl_->db->Write(w, &b.batch);
    if (!st.ok()) return to_error(st, "write batch");
  }
  auto hooks = std::move(b.hooks);
  b.hooks.clear();
  b.batch.Clear();
  b.sync = false;
  for (auto& h : hooks) h();
  return caf::none;
}

uint32_t database::stored_schema_version() const noexcept { return impl_->stored_schema; }

caf::error database::finish_upgrade() {
  if (impl_->stored_schema == schema_version) return caf::none;
  rocksdb::WriteOptions w;
  w.sync = true;
  auto version = std::to_string(schema_version);
  auto st = impl_->db->Put(w, impl_->cf(column::meta), meta_schema_key, version);
  if (!st.ok()) return to_error(st, "record schema version " + version);
  impl_->stored_schema = schema_version;
  return caf::none;
}

caf::error database::sync_wal() { return to_error(impl_->db->SyncWAL(), "sync write-ahead log"); }

caf::expected<std::optional<std::string>> database::get_meta(std::string_view key) const {
  std::string value;
  auto st = impl_->db->Get(rocksdb::ReadOptions{}, impl_->cf(column::meta),
                           rocksdb::Slice{key.data(), key.size()}, &value);
  if (st.IsNotFound()) return std::optional<std::string>{};
  if (!st.ok()) return to_error(st, "read meta key");
  return std::optional<std::string>{std::move(value)};
}

caf::error database::put_meta(std::string_view key, std::string_view value) {
  if (key == meta_schema_key || key == meta_node_key)
    return make_error(storage_errc::invalid_argument,
                      "meta key '" + std::string{key} + "' is managed by the database itself");
  auto st = impl_->db->Put(impl_->write_options, impl_->cf(column::meta),
                           rocksdb::Slice{key.data(), key.size()},
                           rocksdb::Slice{value.data(), value.size()});
  return to_error(st, "write meta key");
}

uint64_t database::estimate_keys(column c) const {
  uint64_t n = 0;
  impl_->db->GetIntProperty(impl_->cf(c), "rocksdb.estimate-num-keys", &n);
  return n;
}

uint64_t database::estimate_bytes(column c) const {
  uint64_t n = 0;
  impl_->db->GetIntProperty(impl_->cf(c), "rocksdb.estimate-live-data-size", &n);
  uint64_t mem = 0;
  impl_->db->GetIntProperty(impl_->cf(c), "rocksdb.cur-size-all-mem-tables", &mem);
  return n + mem;
}

write_batch::write_batch(database& db) : db_(&db), impl_(std::make_unique<impl>()) {}
write_batch::~write_batch() = default;
write_batch::write_batch(write_batch&&) noexcept = default;
write_batch& write_batch::operator=(write_batch&&) noexcept = default;

void write_batch::put(column c, std::string_view key, std::string_view value) {
  // A WriteBatch only fails on allocation; the status is checked when the batch is written.
  auto st = impl_->batch.Put(db_->internals().cf(c), rocksdb::Slice{key.data(), key.size()},
                             rocksdb::Slice{value.data(), value.size()});
  (void)st;
}

void write_batch::erase(column c, std::string_view key) {
  auto st = impl_->batch.Delete(db_->internals().cf(c), rocksdb::Slice{key.data(), key.size()});
  (void)st;
}

void write_batch::erase_range(column c, std::string_view begin, std::string_view end) {
  auto st = impl_->batch.DeleteRange(db_->internals().cf(c),
                                     rocksdb::Slice{begin.data(), begin.size()},
                                     rocksdb::Slice{end.data(), end.size()});
  (void)st;
}

void write_batch::on_commit(std::function<void()> hook) { impl_->hooks.push_back(std::move(hook)); }

void write_batch::sync_on_write() noexcept { impl_->sync = true; }

bool write_batch::syncs_on_write() const noexcept { return impl_->sync; }

size_t write_batch::count() const noexcept { return static_cast<size_t>(impl_->batch.Count()); }

size_t write_batch::byte_size() const noexcept { return impl_->batch.GetDataSize(); }

void write_batch::clear() noexcept {
  impl_->batch.Clear();
  impl_->hooks.clear();
  impl_->sync = false;
}

}  // namespace syncline::storage
