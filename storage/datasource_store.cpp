#include "storage/datasource_store.hpp"

#include <simdjson.h>

#include "storage/credential_store.hpp"
#include "storage/database.hpp"
#include "storage/datastore.hpp"
#include "storage/element_json.hpp"
#include "storage/error.hpp"
#include "storage/run_log.hpp"
#include "storage/transfer_queue.hpp"

namespace syncline::storage {

namespace {

// Every meta key prefix a datasource uses (credentials: credential_store::key_of).
constexpr std::string_view record_prefix = "datasource/";
constexpr std::string_view access_prefix = "ds-access/";
constexpr std::string_view checkpoint_prefix = "xfer/";

std::string joined(std::string_view prefix, std::string_view id) {
  std::string key{prefix};
  key.append(id.data(), id.size());
  return key;
}

}  // namespace

bool may_read(const std::optional<datasource_access>& access, std::string_view user,
              user_class cls) {
  if (cls >= user_class::user) return true;
  if (!access || user.empty()) return false;
  return access->owner == user || access->members.find(std::string{user}) != access->members.end();
}

bool operator==(const datasource_access& a, const datasource_access& b) noexcept {
  return a.origin == b.origin && a.owner == b.owner && a.created_ms == b.created_ms &&
         a.members == b.members;
}

datasource_store::datasource_store(database& db, datastore& rows, transfer_queue& queue,
                                   run_log& runs)
    : db_(db), rows_(rows), queue_(queue), runs_(runs) {}

std::string datasource_store::record_key(std::string_view id) { return joined(record_prefix, id); }

std::string datasource_store::access_key(std::string_view id) { return joined(access_prefix, id); }

std::string datasource_store::checkpoint_key(std::string_view queue, std::string_view reference) {
  auto key = joined(checkpoint_prefix, queue);
  key += '/';
  key.append(reference.data(), reference.size());
  return key;
}

// --- the record ---------------------------------------------------------------------------

caf::expected<std::optional<std::string>> datasource_store::record(std::string_view id) const {
  return db_.get_meta(record_key(id));
}

caf::error datasource_store::scan_records(
    const std::function<bool(std::string_view, std::string_view)>& visit) const {
  return db_.scan_meta(record_prefix, [&](std::string_view key, std::string_view value) {
    return visit(key.substr(record_prefix.size()), value);
  });
}

caf::error datasource_store::put_record(std::string_view id, std::string_view record) {
  return db_.put_meta(record_key(id), record);
}

void datasource_store::stage_record(write_batch& batch, std::string_view id,
                                    std::string_view record) const {
  batch.put(column::meta, record_key(id), record);
}

caf::error datasource_store::create(std::string_view id, std::string_view record,
                                    const datasource_access& access) {
  std::lock_guard<std::mutex> guard{mtx_};
  auto existing = db_.get_meta(record_key(id));
  if (!existing) return std::move(existing.error());
  if (*existing)
    return make_error(storage_errc::already_exists,
                      "datasource " + std::string{id} + " exists already");
  write_batch batch{db_};
  stage_record(batch, id, record);
  batch.put(column::meta, access_key(id), encode(access));
  return db_.write(batch);
}

// --- access lists -------------------------------------------------------------------------

std::string datasource_store::encode(const datasource_access& a) {
  std::string out = "{\"origin\":";
  append_json_string(out, a.origin);
  out += ",\"owner\":";
  append_json_string(out, a.owner);
  out += ",\"created_ms\":" + std::to_string(a.created_ms) + ",\"members\":{";
  bool first = true;
  for (auto& [user, state] : a.members) {
    if (!first) out += ',';
    first = false;
    append_json_string(out, user);
    out += ':';
    append_json_string(out, state);
  }
  return out + "}}";
}

std::optional<datasource_access> datasource_store::decode(std::string_view bytes) {
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  if (parser.parse(bytes.data(), bytes.size()).get(doc) != simdjson::SUCCESS) return std::nullopt;
  simdjson::dom::object obj;
  if (doc.get(obj) != simdjson::SUCCESS) return std::nullopt;
  datasource_access a;
  std::string_view text;
  if (obj["origin"].get(text) == simdjson::SUCCESS) a.origin = std::string{text};
  if (obj["owner"].get(text) == simdjson::SUCCESS) a.owner = std::string{text};
  int64_t ms = 0;
  if (obj["created_ms"].get(ms) == simdjson::SUCCESS) a.created_ms = ms;
  simdjson::dom::object members;
  if (obj["members"].get(members) == simdjson::SUCCESS)
    for (auto [user, state] : members)
      if (state.get(text) == simdjson::SUCCESS) a.members[std::string{user}] = std::string{text};
  return a;
}

caf::expected<std::optional<datasource_access>> datasource_store::access(std::string_view id) const {
  auto bytes = db_.get_meta(access_key(id));
  if (!bytes) return std::move(bytes.error());
  if (!*bytes) return std::optional<datasource_access>{};
  auto a = decode(**bytes);
  if (!a)
    return make_error(storage_errc::corruption,
                      "access entry of datasource " + std::string{id} + " cannot be read");
  return std::optional<datasource_access>{std::move(*a)};
}

caf::expected<std::map<std::string, datasource_access>> datasource_store::all_access() const {
  std::map<std::string, datasource_access> out;
  caf::error bad;
  auto err = db_.scan_meta(access_prefix, [&](std::string_view key, std::string_view value) {
    auto a = decode(value);
    auto id = key.substr(access_prefix.size());
    if (!a) {
      bad = make_error(storage_errc::corruption,
                       "access entry of datasource " + std::string{id} + " cannot be read");
      return false;
    }
    out.emplace(std::string{id}, std::move(*a));
    return true;
  });
  if (err) return err;
  if (bad) return bad;
  return out;
}

caf::error datasource_store::update_access(
    std::string_view id,
    const std::function<bool(std::optional<datasource_access>&, caf::error&)>& change) {
  std::lock_guard<std::mutex> guard{mtx_};
  auto current = access(id);
  if (!current) return std::move(current.error());
  caf::error refuse;
  bool changed = change(*current, refuse);
  if (refuse) return refuse;
  if (!changed) return caf::none;
  if (!*current) return db_.erase_meta(access_key(id));
  return db_.put_meta(access_key(id), encode(**current));
}

// --- forgetting ---------------------------------------------------------------------------

caf::error datasource_store::stage_forget_link(write_batch& batch, const datasource_link& link) {
  rows_.stage_drop(batch, link.rows);
  queue_.stage_drop(batch, link.queue);
  // Resume points: a later link of the same names must not resume from them.
  return db_.scan_meta(checkpoint_key(link.queue, ""), [&](std::string_view key, std::string_view) {
    batch.erase(column::meta, key);
    return true;
  });
}

caf::error datasource_store::forget_link(const datasource_link& link) {
  write_batch batch{db_};
  if (auto err = stage_forget_link(batch, link)) return err;
  return db_.write(batch);
}

caf::error datasource_store::erase(std::string_view id, const std::vector<datasource_link>& links) {
  write_batch batch{db_};
  for (auto& link : links)
    if (auto err = stage_forget_link(batch, link)) return err;
  runs_.stage_erase(batch, id);
  batch.erase(column::meta, credential_store::key_of(id));
  batch.erase(column::meta, access_key(id));
  batch.erase(column::meta, record_key(id));
  std::lock_guard<std::mutex> guard{mtx_};
  return db_.write(batch);
}

}  // namespace syncline::storage
