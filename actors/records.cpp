#include "actors/records.hpp"

#include <cstring>

#include "storage/codec.hpp"
#include "storage/database.hpp"
#include "storage/datasource_store.hpp"
#include "storage/error.hpp"

namespace syncline::actors {

namespace {

// Format 1 (schema version 1) had no targets: such a record decodes with `target = ""`, the
// volume's root, where every datasource wrote then. Format 2 appends the targets, format 3 the
// settings of an http datasource, format 4 their credentials' kind and token endpoint.
constexpr uint8_t datasource_format = 4;
constexpr uint8_t volume_format = 1;
constexpr const char* volume_prefix = "volume/";

using storage::codec::reader;
using storage::codec::writer;

void put_strings(writer& w, const std::vector<std::string>& v) {
  w.varint(v.size());
  for (auto& s : v) w.bytes(s);
}

bool get_strings(reader& r, std::vector<std::string>& v) {
  uint64_t n = 0;
  r.varint(n);
  if (!r.ok() || n > 100000) return false;
  v.resize(static_cast<size_t>(n));
  for (auto& s : v) r.bytes(s);
  return r.ok();
}

uint64_t bits_of(double d) {
  uint64_t u = 0;
  std::memcpy(&u, &d, sizeof u);
  return u;
}

double double_of(uint64_t u) {
  double d = 0;
  std::memcpy(&d, &u, sizeof d);
  return d;
}

caf::error bad(const char* what) {
  return storage::make_error(storage::storage_errc::corruption,
                             std::string{what} + " record cannot be decoded");
}

}  // namespace

std::string volume_key(const std::string& id) { return volume_prefix + id; }

std::string encode(const datasource_record& r) {
  std::string out;
  writer w{out};
  auto& c = r.config;
  w.u8(datasource_format).bytes(c.id).bytes(c.name).bytes(c.container).bytes(c.account);
  w.bytes(c.workspace).bytes(c.type).bytes(c.path).u8(static_cast<uint8_t>(c.sync));
  put_strings(w, c.volumes);
  w.svarint(c.sync_priority).varint(c.priority_rules.size());
  for (auto& p : c.priority_rules) w.bytes(p.glob).svarint(p.priority);
  put_strings(w, c.include);
  put_strings(w, c.exclude);
  w.u8(c.compare_hash ? 1 : 0).svarint(c.schedule_min_s).svarint(c.schedule_max_s);
  w.varint(c.seed).varint(c.count).varint(c.directories).varint(c.min_size).varint(c.max_size);
  w.varint(bits_of(c.change_rate));
  w.u8(static_cast<uint8_t>(r.status)).u8(static_cast<uint8_t>(r.health)).bytes(r.last_error);
  w.svarint(r.next_run_ms).varint(r.run_failures).svarint(r.created_ms);
  w.u8(c.target ? 1 : 0).bytes(c.target.value_or(std::string{})).varint(c.targets.size());
  for (auto& [volume, path] : c.targets) w.bytes(volume).bytes(path);
  w.varint(c.max_delete).varint(c.max_delete_percent).bytes(r.source_fs);
  w.varint(r.held_removals).varint(r.confirmed_removals);
  auto& h = c.http;
  w.bytes(h.url).bytes(h.paging).bytes(h.items).bytes(h.next).bytes(h.cursor_param);
  w.bytes(h.page_param).varint(h.first_page).bytes(h.offset_param).bytes(h.limit_param);
  w.varint(h.page_size).bytes(h.reference).bytes(h.size).bytes(h.mtime).bytes(h.mtime_unit);
  w.bytes(h.hash).bytes(h.content).bytes(h.content_url).u8(h.allow_insecure ? 1 : 0);
  w.bytes(h.ca_file).svarint(h.timeout_s).varint(bits_of(h.requests_per_s)).varint(h.busy_retries);
  w.bytes(h.auth).bytes(h.token_url);
  return out;
}

caf::expected<datasource_record> decode_datasource(std::string_view bytes) {
  datasource_record r;
  auto& c = r.config;
  reader rd{bytes};
  uint8_t format = 0, sync = 0, compare = 0, status = 0, health = 0;
  int64_t priority = 0;
  uint64_t rules = 0, rate = 0;
  rd.u8(format).bytes(c.id).bytes(c.name).bytes(c.container).bytes(c.account);
  rd.bytes(c.workspace).bytes(c.type).bytes(c.path).u8(sync);
  if (!rd.ok() || format < 1 || format > datasource_format || !get_strings(rd, c.volumes))
    return bad("datasource");
  rd.svarint(priority).varint(rules);
  if (!rd.ok() || rules > 10000) return bad("datasource");
  c.priority_rules.resize(static_cast<size_t>(rules));
  for (auto& p : c.priority_rules) {
    int64_t v = 0;
    rd.bytes(p.glob).svarint(v);
    p.priority = static_cast<int32_t>(v);
  }
  if (!get_strings(rd, c.include) || !get_strings(rd, c.exclude)) return bad("datasource");
  rd.u8(compare).svarint(c.schedule_min_s).svarint(c.schedule_max_s);
  rd.varint(c.seed).varint(c.count).varint(c.directories).varint(c.min_size).varint(c.max_size);
  rd.varint(rate);
  rd.u8(status).u8(health).bytes(r.last_error);
  rd.svarint(r.next_run_ms).varint32(r.run_failures).svarint(r.created_ms);
  if (format == 1) {
    c.target = std::string{};
  } else {
    uint8_t has_target = 0;
    std::string target;
    uint64_t n = 0;
    rd.u8(has_target).bytes(target).varint(n);
    if (!rd.ok() || has_target > 1 || n > 100000) return bad("datasource");
    if (has_target == 1) c.target = std::move(target);
    for (uint64_t i = 0; i < n && rd.ok(); ++i) {
      std::string volume, path;
      rd.bytes(volume).bytes(path);
      c.targets.emplace(std::move(volume), std::move(path));
    }
    uint64_t percent = 0;
    rd.varint(c.max_delete).varint(percent).bytes(r.source_fs);
    rd.varint(r.held_removals).varint(r.confirmed_removals);
    if (!rd.ok() || percent > 100) return bad("datasource");
    c.max_delete_percent = static_cast<uint32_t>(percent);
  }
  if (format >= 3) {
    auto& h = c.http;
    uint8_t insecure = 0;
    rd.bytes(h.url).bytes(h.paging).bytes(h.items).bytes(h.next).bytes(h.cursor_param);
    rd.bytes(h.page_param).varint(h.first_page).bytes(h.offset_param).bytes(h.limit_param);
    rd.varint(h.page_size).bytes(h.reference).bytes(h.size).bytes(h.mtime).bytes(h.mtime_unit);
    rd.bytes(h.hash).bytes(h.content).bytes(h.content_url).u8(insecure);
    uint64_t per_s = 0;
    rd.bytes(h.ca_file).svarint(h.timeout_s).varint(per_s).varint(h.busy_retries);
    if (!rd.ok() || insecure > 1) return bad("datasource");
    h.requests_per_s = double_of(per_s);
    h.allow_insecure = insecure == 1;
  }
  if (format >= 4) rd.bytes(c.http.auth).bytes(c.http.token_url);
  if (!rd.ok() || sync > 2 || status > static_cast<uint8_t>(datasource_status::invited) ||
      health > static_cast<uint8_t>(sync_health::failed))
    return bad("datasource");
  c.sync = static_cast<sync_type>(sync);
  c.sync_priority = static_cast<int32_t>(priority);
  c.compare_hash = compare == 1;
  c.change_rate = double_of(rate);
  r.status = static_cast<datasource_status>(status);
  r.health = static_cast<sync_health>(health);
  return r;
}

std::string encode(const volume_record& r) {
  std::string out;
  writer w{out};
  auto& c = r.config;
  w.u8(volume_format).bytes(c.id).bytes(c.type).bytes(c.path);
  w.varint(c.sync_amount_reception).varint(c.sync_amount_emission);
  w.u8(c.enable_reception ? 1 : 0).u8(c.verify ? 1 : 0);
  w.bytes(c.fault_operation).svarint(c.fault_errno).varint(c.fault_count).bytes(c.fault_glob);
  w.u8(r.paused ? 1 : 0).svarint(r.created_ms);
  return out;
}

caf::expected<volume_record> decode_volume(std::string_view bytes) {
  volume_record r;
  auto& c = r.config;
  reader rd{bytes};
  uint8_t format = 0, reception = 0, verify = 0, paused = 0;
  int64_t err = 0;
  rd.u8(format).bytes(c.id).bytes(c.type).bytes(c.path);
  rd.varint32(c.sync_amount_reception).varint32(c.sync_amount_emission);
  rd.u8(reception).u8(verify);
  rd.bytes(c.fault_operation).svarint(err).varint32(c.fault_count).bytes(c.fault_glob);
  rd.u8(paused).svarint(r.created_ms);
  if (!rd.ok() || format != volume_format) return bad("volume");
  c.enable_reception = reception == 1;
  c.verify = verify == 1;
  c.fault_errno = static_cast<int>(err);
  r.paused = paused == 1;
  return r;
}

caf::error move_status(datasource_record& r, datasource_status to) {
  if (r.status == to) return caf::none;
  if (auto err = check(r.status, to)) return err;
  r.status = to;
  return caf::none;
}

caf::error move_health(datasource_record& r, sync_health to) {
  if (r.health == to) return caf::none;
  if (auto err = check(r.health, to)) return err;
  r.health = to;
  return caf::none;
}

bool person_acted(datasource_record& r) {
  if (r.status != datasource_status::error) return false;
  if (move_status(r, datasource_status::pending)) return false;
  r.run_failures = 0;
  r.last_error.clear();
  return true;
}

void restore_status(datasource_record& r, datasource_status to) { r.status = to; }

void stage(const storage::datasource_store& store, storage::write_batch& batch,
           const datasource_record& r) {
  store.stage_record(batch, r.config.id, encode(r));
}

caf::error save(storage::datasource_store& store, const datasource_record& r) {
  return store.put_record(r.config.id, encode(r));
}

caf::error save(storage::database& db, const volume_record& r) {
  return db.put_meta(volume_key(r.config.id), encode(r));
}

caf::expected<std::optional<datasource_record>> load_datasource(
    const storage::datasource_store& store, const std::string& id) {
  auto bytes = store.record(id);
  if (!bytes) return std::move(bytes.error());
  if (!*bytes) return std::optional<datasource_record>{};
  auto r = decode_datasource(**bytes);
  if (!r) return std::move(r.error());
  return std::optional<datasource_record>{std::move(*r)};
}

caf::expected<std::vector<datasource_record>> load_datasources(
    const storage::datasource_store& store) {
  std::vector<datasource_record> out;
  caf::error failure;
  auto err = store.scan_records([&](std::string_view, std::string_view value) {
    auto r = decode_datasource(value);
    if (!r) {
      failure = std::move(r.error());
      return false;
    }
    out.push_back(std::move(*r));
    return true;
  });
  if (err) return err;
  if (failure) return failure;
  return out;
}

caf::expected<std::vector<volume_record>> load_volumes(const storage::database& db) {
  std::vector<volume_record> out;
  caf::error failure;
  auto err = db.scan_meta(volume_prefix, [&](std::string_view, std::string_view value) {
    auto r = decode_volume(value);
    if (!r) {
      failure = std::move(r.error());
      return false;
    }
    out.push_back(std::move(*r));
    return true;
  });
  if (err) return err;
  if (failure) return failure;
  return out;
}

}  // namespace syncline::actors
