// actors/site_packages.cpp: packages, folders tracked as one unit (`/a/pkg/`, seed 003;
// docs/sites.md, "Packages"): received whole and put in place at once, removed whole, and
// published whole by the scan (actors/site_jobs.cpp) when anything in them changes.
#include <algorithm>
#include <filesystem>
#include <utility>
#include <vector>

#include <spdlog/spdlog.h>

#include "actors/error.hpp"
#include "actors/node_context.hpp"
#include "actors/site_jobs.hpp"
#include "connectors/error.hpp"
#include "connectors/item.hpp"
#include "storage/database.hpp"

namespace syncline::actors::site_detail {

namespace {

namespace fs = std::filesystem;

// The listing of a package at its origin may not be larger than this.
constexpr size_t max_listing_bytes = size_t{64} << 20;

// `a/pkg/` -> `a/pkg`.
std::string folder_of(const std::string& package) { return package.substr(0, package.size() - 1); }

// Where a package is received before it is put in place, and where the folder it replaces is
// moved meanwhile: temporary names beside it, which listings skip.
std::string staging_of(const std::string& package) { return connectors::temporary_name(package); }
std::string aside_of(const std::string& package) {
  return connectors::temporary_name(folder_of(package) + ".replaced/");
}

caf::error io_error(const std::string& what, const std::error_code& ec) {
  return connectors::make_error(connectors::connector_errc::io_error, what + ": " + ec.message());
}

// The files under the package folder as the volume lists them (references relative to it; none
// when the folder is gone).
caf::expected<std::vector<connectors::item_info>> files_in(site_env& env, const std::string& package) {
  auto files = connectors::files_beneath(*env.volume, package);
  if (!files) return std::move(files.error());
  return *files ? std::move(**files) : std::vector<connectors::item_info>{};
}

// Whether every file of the local package folder is the copy the index recorded (nothing made
// or changed here since).
caf::expected<bool> as_recorded_package(site_env& env, const std::string& package) {
  auto files = files_in(env, package);
  if (!files) return std::move(files.error());
  auto& rows = env.ctx->rows();
  for (auto& f : *files) {
    auto row = rows.get(env.scope, package + f.reference);
    if (!row) return std::move(row.error());
    if (!*row || !as_recorded(f, **row)) return false;
  }
  return true;
}

// Erases the index rows of the files under `package` (not the package's own row).
caf::error erase_rows_under(site_env& env, const std::string& package, storage::write_batch& batch) {
  auto& rows = env.ctx->rows();
  for (auto cur = rows.scan(env.scope, package); cur.valid(); cur.next()) {
    auto& ref = cur.row().reference;
    if (ref.compare(0, package.size(), package) != 0) break;
    rows.erase(batch, env.scope, ref);
  }
  return caf::none;
}

}  // namespace

caf::expected<site_change> package_change(site_env& env, const std::string& package) {
  auto st = env.volume->stat(package);
  if (!st) return std::move(st.error());
  if (!*st) return site_change{site_change::kind::removed, package, 0, 0};
  auto files = files_in(env, package);
  if (!files) return std::move(files.error());
  site_change c{site_change::kind::modified, package, 0, 0};
  for (auto& f : *files) {
    c.size += f.size;
    c.mtime_ns = std::max(c.mtime_ns, f.mtime_ns);
  }
  return c;
}

caf::error record_package_files(site_env& env, const std::string& package,
                                storage::write_batch& batch) {
  auto files = files_in(env, package);
  if (!files) return std::move(files.error());
  if (auto err = erase_rows_under(env, package, batch)) return err;
  for (auto& f : *files)
    env.ctx->rows().put(batch, env.scope, row_of(package + f.reference, f.size, f.mtime_ns, 0));
  return caf::none;
}

caf::expected<std::set<std::string>> known_packages(site_env& env) {
  std::set<std::string> out;
  for (auto cur = env.ctx->rows().scan(env.scope); cur.valid(); cur.next())
    if (is_package(cur.row().reference)) out.insert(cur.row().reference);
  return out;
}

void recover_package(site_env& env, const std::string& package) {
  std::error_code ec;
  fs::path root{env.cfg.path};
  auto folder = root / folder_of(package);
  auto aside = root / aside_of(package);
  if (fs::exists(folder, ec) || !fs::is_directory(aside, ec)) return;
  fs::rename(aside, folder, ec);
  if (ec)
    spdlog::warn("site: cannot put the package {} back from {}: {}", package, aside.string(),
                 ec.message());
  else
    spdlog::warn("site: put the package {} back where an interrupted replacement left it", package);
}

caf::expected<uint64_t> receive_package(site_env& env, worker& w, const wanted_copy& want,
                                        const std::string& base) {
  const auto& package = want.reference;
  auto listed = w.fetcher->read(content_url(base, package), max_listing_bytes);
  if (!listed) return std::move(listed.error());
  auto entries = connectors::flatten_elements(*listed);
  if (!entries)
    return connectors::make_error(connectors::connector_errc::network,
                                  "the origin's listing of " + package + " is not a JSON array");
  recover_package(env, package);
  const auto staging = staging_of(package);
  if (auto err = env.volume->remove(staging + "/")) return err;
  std::vector<storage::datastore_row> held;
  uint64_t received = 0;
  for (auto& e : *entries) {
    auto path = e ? e->text("path") : std::nullopt;
    if (!path || path->empty() || connectors::validate_reference(*path) || path->back() == '/')
      return connectors::make_error(connectors::connector_errc::invalid_path,
                                    "the origin's listing of " + package + " names a bad path");
    connectors::item_info info;
    info.reference = staging + "/" + *path;
    info.kind = connectors::item_kind::file;
    info.mode = 0644;
    info.mtime_ns = e->integer("mtime_ns").value_or(0);
    auto got = w.fetcher->fetch(content_url(base, package + *path), *env.volume, info, 0, {}, {});
    if (!got) return std::move(got.error());
    received += got->received;
    held.push_back(row_of(package + *path, got->size, info.mtime_ns, want.time));
  }
  std::error_code ec;
  fs::path root{env.cfg.path};
  auto folder = root / folder_of(package), staged = root / staging, aside = root / aside_of(package);
  fs::create_directories(staged, ec);  // an empty package is an empty folder
  if (ec) return io_error("making " + staged.string(), ec);
  // Local changes in the folder being replaced are kept beside it, never lost.
  auto recorded = as_recorded_package(env, package);
  if (!recorded) return std::move(recorded.error());
  fs::remove_all(aside, ec);
  bool had = fs::exists(folder, ec);
  if (had) {
    fs::rename(folder, aside, ec);
    if (ec) return io_error("moving " + folder.string() + " aside", ec);
  }
  fs::rename(staged, folder, ec);
  if (ec) {
    auto err = io_error("putting " + package + " in place", ec);
    if (had) fs::rename(aside, folder, ec);
    return err;
  }
  if (had) {
    if (*recorded) {
      fs::remove_all(aside, ec);
    } else {
      auto kept = folder;
      kept += ".sync-conflict-" + env.cfg.name + "-" + std::to_string(want.time);
      fs::rename(aside, kept, ec);
      spdlog::warn("site: the package {} changed here and at {}; the version from {} replaces it, "
                   "this site's is kept as {}",
                   package, want.origin, want.origin, kept.filename().string());
    }
  }
  // The index: the package and its files as received.
  storage::write_batch batch{env.ctx->db()};
  if (auto err = erase_rows_under(env, package, batch)) return err;
  auto& rows = env.ctx->rows();
  for (auto& r : held) rows.put(batch, env.scope, r);
  rows.put(batch, env.scope, row_of(package, want.size, want.mtime_ms * 1000000, want.time));
  if (auto err = env.ctx->db().write(batch)) return err;
  return received;
}

caf::error remove_local_package(site_env& env, const std::string& ref, storage::write_batch& batch,
                                size_t& removed) {
  auto recorded = as_recorded_package(env, ref);
  if (!recorded) return std::move(recorded.error());
  if (!*recorded) return caf::none;
  if (auto err = env.volume->remove(ref)) return err;
  if (auto err = erase_rows_under(env, ref, batch)) return err;
  env.ctx->rows().erase(batch, env.scope, ref);
  ++removed;
  return caf::none;
}

}  // namespace syncline::actors::site_detail
