#include "actors/tracker_actor.hpp"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <optional>
#include <set>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <variant>

#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>
#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>
#include <spdlog/spdlog.h>

#include "actors/error.hpp"
#include "actors/io_pool.hpp"
#include "actors/tracker_json.hpp"
#include "storage/element_json.hpp"
#include "storage/element_query.hpp"
#include "storage/element_store.hpp"
#include "storage/error.hpp"
#include "storage/ulid.hpp"
#include "storage/user_store.hpp"

namespace syncline::actors {

namespace {

using storage::element_outcome;
using storage::element_result;
using storage::user_class;

// --- who is asking ------------------------------------------------------------------------

struct principal {
  std::string name;  // `author` and `lock` values: the username, or "anonymous"
  user_class cls = user_class::guest;
  bool anonymous = false;
  std::string element_json;  // the user's element (verify answers it)
};

// --- answers ------------------------------------------------------------------------------

api_response json_response(uint16_t status, std::string body) {
  api_response r;
  r.status = status;
  r.body = std::move(body);
  return r;
}

api_response error_response(uint16_t status, std::string_view code, std::string_view message) {
  return json_response(status, error_json(code, message));
}

const char* code_for(uint16_t status) {
  switch (status) {
    case 400: return "bad_request";
    case 401: return "unauthorized";
    case 403: return "forbidden";
    case 404: return "not_found";
    case 409: return "conflict";
    case 413: return "payload_too_large";
    case 503: return "unavailable";
    default: return "internal_error";
  }
}

api_response bad_request(std::string_view message) {
  return error_response(400, "bad_request", message);
}

// The one place storage errors become HTTP statuses.
api_response storage_failure(const caf::error& err) {
  using storage::storage_errc;
  uint16_t status = 500;
  if (storage::is(err, storage_errc::invalid_json) ||
      storage::is(err, storage_errc::invalid_element) ||
      storage::is(err, storage_errc::invalid_argument))
    status = 400;
  else if (storage::is(err, storage_errc::not_found))
    status = 404;
  else if (storage::is(err, storage_errc::already_exists) ||
           storage::is(err, storage_errc::locked_by_other))
    status = 409;
  else if (storage::is(err, storage_errc::busy) || storage::is(err, storage_errc::closed))
    status = 503;
  if (status == 500) spdlog::error("tracker: storage failed: {}", render(err));
  return error_response(status, code_for(status), error_message(err));
}

// --- settings and the shared services -----------------------------------------------------

struct services {
  storage::element_store* elements = nullptr;
  storage::user_store* users = nullptr;
  tracker_settings settings;
  std::optional<user_class> anonymous;

  bool admin_id(std::string_view id) const noexcept {
    for (auto& p : settings.admin_prefixes)
      if (!p.empty() && id.substr(0, p.size()) == p) return true;
    return false;
  }
};

bool is_user_id(std::string_view id) noexcept {
  return id.size() > 1 && id.front() == '@';
}

storage::write_context context_for(const principal& who) {
  storage::write_context ctx;
  ctx.author = who.name;
  // Admins may import elements with their own `author` and `time` (damas-core's
  // restricted_keys whitelist); everyone else gets the server's.
  ctx.keep_given_author_time = who.cls == user_class::admin;
  return ctx;
}

// The keys only admins may set; `password` is never stored in an element at all.
bool restricted_key(std::string_view key, const principal& who) noexcept {
  if (key == "password") return true;
  if (who.cls == user_class::admin) return false;
  return key == "author" || key == "time" || key == "class";
}

// --- outcomes to answers ------------------------------------------------------------------

// The element JSON of each outcome (null for the ones that did nothing), in order.
std::string outcome_array(const std::vector<element_outcome>& outs, bool ids_only = false) {
  std::string body = "[";
  for (size_t i = 0; i < outs.size(); ++i) {
    if (i > 0) body += ',';
    auto& o = outs[i];
    bool ok = o.result == element_result::created || o.result == element_result::updated ||
              o.result == element_result::deleted || o.result == element_result::unchanged;
    if (!ok)
      body += "null";
    else if (ids_only || o.json.empty())
      storage::append_json_string(body, o.id);
    else
      body += o.json;
  }
  body += ']';
  return body;
}

// damas-core's rule for create, read and delete: one element unless the request gave an
// array, or named several ids.
api_response single_or_array(uint16_t status, std::vector<element_outcome>& outs, bool array,
                             bool ids_only = false) {
  if (!array && outs.size() == 1) {
    auto& o = outs.front();
    if (ids_only || o.json.empty()) return json_response(status, json_string(o.id));
    return json_response(status, std::move(o.json));
  }
  return json_response(status, outcome_array(outs, ids_only));
}

// Fills `json` of outcomes that carry none (unchanged) with the element as stored.
caf::error fill_missing_json(const services& s, std::vector<element_outcome>& outs) {
  for (auto& o : outs) {
    if (o.result != element_result::unchanged || !o.json.empty()) continue;
    auto got = s.elements->get(o.id);
    if (!got) return std::move(got.error());
    if (*got) o.json = std::move(**got);
  }
  return caf::none;
}

// The 409 for outcomes refused because of someone else's lock, or nothing.
std::optional<api_response> lock_conflict(const std::vector<element_outcome>& outs) {
  for (auto& o : outs)
    if (o.result == element_result::locked)
      return error_response(409, "conflict",
                            "element " + o.id + " is locked by " + o.lock_owner);
  return std::nullopt;
}

// Who holds the lock of each existing id that someone other than `who` locked: the check
// before a write, so that a request naming any such element changes nothing.
caf::expected<std::optional<std::pair<std::string, std::string>>> foreign_lock(
    const services& s, const std::vector<std::string>& ids, const principal& who) {
  auto got = s.elements->read(ids);
  if (!got) return std::move(got.error());
  for (size_t i = 0; i < ids.size(); ++i) {
    auto& json = (*got)[i];
    if (!json || json->find("\"lock\"") == std::string::npos) continue;
    auto owner = lock_owner(*json);
    if (owner && *owner != who.name) return std::make_optional(std::make_pair(ids[i], *owner));
  }
  return std::optional<std::pair<std::string, std::string>>{};
}

caf::expected<std::vector<std::string>> unfolded_ids(const std::vector<storage::element_input>& in) {
  std::vector<std::string> ids;
  for (auto& e : in)
    for (auto& id : e.ids) ids.push_back(id);
  return ids;
}

size_t unfolded_count(const std::vector<storage::element_input>& in) {
  size_t n = 0;
  for (auto& e : in) n += std::max<size_t>(1, e.ids.size());
  return n;
}

std::optional<api_response> check_write_ids(const services& s,
                                            const std::vector<storage::element_input>& in,
                                            const principal& who) {
  if (unfolded_count(in) > s.settings.max_ids)
    return bad_request("more than " + std::to_string(s.settings.max_ids) +
                       " elements in one request");
  if (who.cls == user_class::admin) return std::nullopt;
  for (auto& e : in)
    for (auto& id : e.ids)
      if (s.admin_id(id))
        return error_response(403, "forbidden", "only admins may write " + id);
  return std::nullopt;
}

void strip_restricted(std::vector<storage::element_input>& in, const principal& who) {
  for (auto& e : in) {
    bool user_element = !e.ids.empty() && std::all_of(e.ids.begin(), e.ids.end(), is_user_id);
    e.fields.erase(std::remove_if(e.fields.begin(), e.fields.end(),
                                  [&](const storage::element_field& f) {
                                    // An admin's `password` for a user goes to the user store.
                                    if (f.key == "password" && user_element &&
                                        who.cls == user_class::admin)
                                      return false;
                                    return restricted_key(f.key, who);
                                  }),
                   e.fields.end());
  }
}

bool body_is_array(std::string_view body) noexcept {
  for (char c : body) {
    if (c == ' ' || c == '\t' || c == '\n' || c == '\r') continue;
    return c == '[';
  }
  return false;
}

// Whether a create body can go to the store as it is: it names no id that needs checking and
// no key that needs removing. Without a backslash every key appears literally in the text, so
// not finding `"class"` means there is no such key; false positives only cost the slow path.
bool plain_create_body(const services& s, std::string_view body, const principal& who) {
  if (body.find('\\') != std::string_view::npos) return false;
  if (body.find("\"password\"") != std::string_view::npos) return false;
  if (who.cls != user_class::admin && body.find("\"class\"") != std::string_view::npos)
    return false;
  for (auto& p : s.settings.admin_prefixes) {
    std::string needle = "\"" + p;
    if (body.find(needle) != std::string_view::npos) return false;
  }
  return true;
}

// --- users inside element writes (admins only) --------------------------------------------

std::string field_string(const storage::element_input& e, std::string_view key) {
  auto* f = e.find(key);
  if (f == nullptr) return {};
  auto s = storage::json_unquote(f->value);
  return s ? *s : std::string{};
}

std::string fields_object(const storage::element_input& e,
                          std::initializer_list<std::string_view> skip) {
  std::string out = "{";
  for (auto& f : e.fields) {
    if (std::find(skip.begin(), skip.end(), f.key) != skip.end()) continue;
    if (out.size() > 1) out += ',';
    storage::append_json_string(out, f.key);
    out += ':';
    out += f.value;
  }
  out += '}';
  return out;
}

// --- the operations -----------------------------------------------------------------------

api_response op_create(const services& s, const api_request& req, const principal& who) {
  auto ctx = context_for(who);
  bool array = body_is_array(req.body);
  std::vector<element_outcome> outs;
  // Every element or id takes at least 3 bytes of JSON (`{},` or `"a",`), so a body this small
  // cannot name more than max_ids of them and needs no count before it is written.
  bool small = req.body.size() <= 3 * s.settings.max_ids;
  if (small && plain_create_body(s, req.body, who)) {
    auto created = s.elements->create(req.body, ctx);
    if (!created) return storage_failure(created.error());
    outs = std::move(*created);
  } else {
    auto in = storage::parse_elements(req.body, storage::id_policy::optional);
    if (!in) return storage_failure(in.error());
    if (auto refused = check_write_ids(s, *in, who)) return std::move(*refused);
    strip_restricted(*in, who);
    // Users with a password go through the user store (element and hash in one write); the
    // rest in one batch. Outcomes keep the input's order.
    std::vector<storage::element_input> plain;
    std::vector<std::pair<size_t, size_t>> plain_pos;  // (input, id) of each plain outcome
    std::vector<std::vector<element_outcome>> per_input(in->size());
    for (size_t i = 0; i < in->size(); ++i) {
      auto& e = (*in)[i];
      bool users = !e.ids.empty() && e.find("password") != nullptr;
      if (!users) {
        plain.push_back(e);
        continue;
      }
      auto password = field_string(e, "password");
      auto cls = storage::user_class_from_string(field_string(e, "class"));
      auto extra = fields_object(e, {"password", "class", "username"});
      for (auto& id : e.ids) {
        element_outcome o;
        o.id = id;
        if (!is_user_id(id) || password.empty())
          return bad_request("element " + id + ": a password is only accepted, non-empty, for a user @name");
        auto made = s.users->create_user(std::string_view{id}.substr(1), password,
                                         cls.value_or(user_class::guest), extra);
        if (made) {
          o.result = element_result::created;
          o.json = made->element_json;
        } else if (storage::is(made.error(), storage::storage_errc::already_exists)) {
          o.result = element_result::exists;
        } else {
          return storage_failure(made.error());
        }
        per_input[i].push_back(std::move(o));
      }
    }
    std::vector<element_outcome> plain_outs;
    if (!plain.empty()) {
      auto created = s.elements->create(plain, ctx);
      if (!created) return storage_failure(created.error());
      plain_outs = std::move(*created);
    }
    size_t k = 0;
    for (size_t i = 0; i < in->size(); ++i) {
      auto& e = (*in)[i];
      if (!per_input[i].empty()) {
        for (auto& o : per_input[i]) outs.push_back(std::move(o));
        continue;
      }
      for (size_t n = 0; n < std::max<size_t>(1, e.ids.size()); ++n)
        outs.push_back(std::move(plain_outs[k++]));
    }
    (void)plain_pos;
  }
  size_t created = 0;
  for (auto& o : outs) created += o.result == element_result::created;
  if (created == 0) return error_response(409, "conflict", "every id already exists");
  if (created < outs.size()) return json_response(207, outcome_array(outs));
  return single_or_array(201, outs, array);
}

// Ids of a read, delete, lock or unlock body: an id or an array of ids (numbers are taken as
// their decimal text, as damas-core's clients may send them).
caf::expected<id_list> request_ids(const services& s, const api_request& req) {
  id_list ids;
  if (req.ids_in_path) {
    ids.ids = req.path_ids;
    ids.array = req.path_ids.size() > 1;
  } else {
    auto parsed = parse_id_list(req.body);
    if (!parsed) return std::move(parsed.error());
    ids = std::move(*parsed);
  }
  if (ids.ids.empty()) return storage::make_error(storage::storage_errc::invalid_argument, "no id given");
  if (ids.ids.size() > s.settings.max_ids)
    return storage::make_error(storage::storage_errc::invalid_argument,
                               "more than " + std::to_string(s.settings.max_ids) +
                                   " ids in one request");
  return ids;
}

// Checks every id; an empty one stays (it names nothing: reads answer null for it, as
// damas-core's shell client relies on) unless `allow_empty` is false.
std::optional<api_response> check_ids(const std::vector<std::string>& ids, bool allow_empty) {
  for (size_t i = 0; i < ids.size(); ++i) {
    if (ids[i].empty() && allow_empty) continue;
    if (auto err = storage::validate_id(ids[i]))
      return bad_request("id " + std::to_string(i) + ": " + error_message(err));
  }
  return std::nullopt;
}

api_response op_read(const services& s, const api_request& req, const principal&) {
  auto ids = request_ids(s, req);
  if (!ids) return storage_failure(ids.error());
  if (auto bad = check_ids(ids->ids, true)) return std::move(*bad);
  // Empty ids cannot exist; the store refuses them, so they are left out of the call.
  std::vector<std::string> wanted;
  wanted.reserve(ids->ids.size());
  for (auto& id : ids->ids)
    if (!id.empty()) wanted.push_back(id);
  std::vector<std::optional<std::string>> found;
  if (wanted.size() == 1 && ids->ids.size() == 1) {
    auto one = s.elements->get(wanted.front());
    if (!one) return storage_failure(one.error());
    found.push_back(std::move(*one));
  } else if (!wanted.empty()) {
    auto many = s.elements->read(wanted);
    if (!many) return storage_failure(many.error());
    found = std::move(*many);
  }
  size_t hits = 0, k = 0;
  std::vector<std::optional<std::string>> all(ids->ids.size());
  for (size_t i = 0; i < ids->ids.size(); ++i) {
    if (ids->ids[i].empty()) continue;
    all[i] = std::move(found[k++]);
    hits += all[i].has_value();
  }
  if (hits == 0)
    return error_response(404, "not_found",
                          ids->ids.size() == 1 ? "no element " + ids->ids.front()
                                               : std::string{"none of the ids exists"});
  if (!ids->array && all.size() == 1) return json_response(200, std::move(*all.front()));
  std::string body = "[";
  for (size_t i = 0; i < all.size(); ++i) {
    if (i > 0) body += ',';
    body += all[i] ? *all[i] : std::string{"null"};
  }
  body += ']';
  return json_response(hits < all.size() ? 207 : 200, std::move(body));
}

// The inputs of update and upsert with restricted keys removed, or the answer refusing them.
caf::expected<std::vector<storage::element_input>> write_inputs(const services& s,
                                                                const api_request& req,
                                                                const principal& who,
                                                                storage::id_policy ids,
                                                                std::optional<api_response>& refused) {
  auto in = storage::parse_elements(req.body, ids);
  if (!in) return std::move(in.error());
  if (auto r = check_write_ids(s, *in, who)) {
    refused = std::move(*r);
    return std::move(*in);
  }
  strip_restricted(*in, who);
  return std::move(*in);
}

// An admin's new passwords for users (`{"_id":"@bob","password":"..."}`): set in the user store
// (which revokes the user's tokens) and removed from the inputs. Inputs left with no key are
// dropped; their ids are returned so the answer can still show them.
caf::expected<std::vector<std::string>> apply_passwords(const services& s,
                                                        std::vector<storage::element_input>& in) {
  std::vector<std::string> only_password;
  for (auto& e : in) {
    auto* f = e.find("password");
    if (f == nullptr) continue;
    auto password = storage::json_unquote(f->value);
    if (!password || password->empty())
      return storage::make_error(storage::storage_errc::invalid_argument,
                                 "password must be a non-empty string");
    for (auto& id : e.ids) {
      if (!is_user_id(id))
        return storage::make_error(storage::storage_errc::invalid_argument,
                                   "element " + id + ": password is only accepted for a user @name");
      if (auto err = s.users->set_password(std::string_view{id}.substr(1), *password))
        if (!storage::is(err, storage::storage_errc::not_found)) return err;
    }
    e.fields.erase(std::remove_if(e.fields.begin(), e.fields.end(),
                                  [](const storage::element_field& x) { return x.key == "password"; }),
                   e.fields.end());
    if (e.fields.empty())
      for (auto& id : e.ids) only_password.push_back(id);
  }
  in.erase(std::remove_if(in.begin(), in.end(),
                          [](const storage::element_input& e) {
                            return e.fields.empty() && e.find("password") == nullptr &&
                                   !e.ids.empty() && std::all_of(e.ids.begin(), e.ids.end(), is_user_id);
                          }),
           in.end());
  return only_password;
}

api_response op_update_or_upsert(const services& s, const api_request& req, const principal& who,
                                 bool upsert) {
  std::optional<api_response> refused;
  auto in = write_inputs(s, req, who,
                         upsert ? storage::id_policy::optional : storage::id_policy::required,
                         refused);
  if (!in) return storage_failure(in.error());
  if (refused) return std::move(*refused);
  if (!upsert)
    for (size_t i = 0; i < in->size(); ++i)
      if ((*in)[i].fields.empty() && (*in)[i].find("password") == nullptr)
        return bad_request("element " + std::to_string(i) + ": no key to change besides _id");
  auto ids = unfolded_ids(*in);
  if (!ids) return storage_failure(ids.error());
  auto held = foreign_lock(s, *ids, who);
  if (!held) return storage_failure(held.error());
  if (*held)
    return error_response(409, "conflict",
                          "element " + (*held)->first + " is locked by " + (*held)->second);
  std::vector<std::string> password_only;
  if (who.cls == user_class::admin) {
    auto applied = apply_passwords(s, *in);
    if (!applied) return storage_failure(applied.error());
    password_only = std::move(*applied);
  }
  auto ctx = context_for(who);
  std::vector<element_outcome> outs;
  if (!in->empty()) {
    auto done = upsert ? s.elements->upsert(*in, ctx) : s.elements->update(*in, ctx);
    if (!done) return storage_failure(done.error());
    outs = std::move(*done);
  }
  for (auto& id : password_only) {
    element_outcome o;
    o.id = id;
    auto got = s.elements->get(id);
    if (!got) return storage_failure(got.error());
    o.result = *got ? element_result::updated : element_result::not_found;
    if (*got) o.json = std::move(**got);
    outs.push_back(std::move(o));
  }
  if (auto conflict = lock_conflict(outs)) return std::move(*conflict);
  if (outs.empty()) return bad_request("nothing to change");
  size_t missing = 0;
  for (auto& o : outs) missing += o.result == element_result::not_found;
  if (missing == outs.size()) return error_response(404, "not_found", "none of the ids exists");
  if (missing > 0) return json_response(207, outcome_array(outs));
  if (outs.size() == 1) return json_response(200, std::move(outs.front().json));
  return json_response(200, outcome_array(outs));
}

api_response op_delete(const services& s, const api_request& req, const principal& who) {
  auto ids = request_ids(s, req);
  if (!ids) return storage_failure(ids.error());
  if (auto bad = check_ids(ids->ids, false)) return std::move(*bad);
  if (who.cls != user_class::admin)
    for (auto& id : ids->ids)
      if (s.admin_id(id)) return error_response(403, "forbidden", "only admins may delete " + id);
  auto held = foreign_lock(s, ids->ids, who);
  if (!held) return storage_failure(held.error());
  if (*held)
    return error_response(409, "conflict",
                          "element " + (*held)->first + " is locked by " + (*held)->second);
  auto done = s.elements->remove(ids->ids, context_for(who));
  if (!done) return storage_failure(done.error());
  if (auto conflict = lock_conflict(*done)) return std::move(*conflict);
  // A deleted user's tokens die with it.
  for (auto& o : *done)
    if (o.result == element_result::deleted && is_user_id(o.id))
      if (auto err = s.users->revoke_all(std::string_view{o.id}.substr(1)))
        spdlog::warn("tracker: revoking the tokens of deleted user {}: {}", o.id, render(err));
  size_t missing = 0;
  for (auto& o : *done) missing += o.result == element_result::not_found;
  if (missing == done->size()) return error_response(404, "not_found", "none of the ids exists");
  if (missing > 0) return json_response(207, outcome_array(*done, true));
  return single_or_array(200, *done, ids->array, true);
}

api_response op_lock_or_unlock(const services& s, const api_request& req, const principal& who,
                               bool lock) {
  auto ids = request_ids(s, req);
  if (!ids) return storage_failure(ids.error());
  if (auto bad = check_ids(ids->ids, false)) return std::move(*bad);
  if (who.cls != user_class::admin)
    for (auto& id : ids->ids)
      if (s.admin_id(id)) return error_response(403, "forbidden", "only admins may lock " + id);
  // All or nothing: a request naming an element someone else holds changes nothing.
  auto held = foreign_lock(s, ids->ids, who);
  if (!held) return storage_failure(held.error());
  if (*held)
    return error_response(409, "conflict",
                          "element " + (*held)->first + " is locked by " + (*held)->second);
  auto ctx = context_for(who);
  auto done = lock ? s.elements->lock(ids->ids, ctx) : s.elements->unlock(ids->ids, ctx);
  if (!done) return storage_failure(done.error());
  if (auto conflict = lock_conflict(*done)) {
    // Someone locked one of them since the check: give back what this call took.
    if (lock) {
      std::vector<std::string> taken;
      for (auto& o : *done)
        if (o.result == element_result::updated) taken.push_back(o.id);
      if (!taken.empty())
        if (auto undone = s.elements->unlock(taken, ctx); !undone)
          spdlog::warn("tracker: releasing locks after a conflict: {}", render(undone.error()));
    }
    return std::move(*conflict);
  }
  if (auto err = fill_missing_json(s, *done)) return storage_failure(err);
  size_t missing = 0;
  for (auto& o : *done) missing += o.result == element_result::not_found;
  if (missing == done->size()) return error_response(404, "not_found", "none of the ids exists");
  if (missing > 0) return json_response(207, outcome_array(*done));
  return single_or_array(200, *done, ids->array);
}

api_response op_comment(const services& s, const api_request& req, const principal& who) {
  auto in = storage::parse_elements(req.body, storage::id_policy::optional);
  if (!in) return storage_failure(in.error());
  if (in->size() != 1 || body_is_array(req.body))
    return bad_request("comment takes one object with #parent and comment");
  auto& e = in->front();
  auto* parent = e.find("#parent");
  auto* text = e.find("comment");
  if (parent == nullptr || text == nullptr)
    return bad_request("comment needs the keys #parent and comment");
  auto comment = storage::json_unquote(text->value);
  if (!comment || comment->empty()) return bad_request("comment must be a non-empty string");
  auto parents = parse_id_list(parent->value);
  if (!parents || parents->ids.empty())
    return bad_request("#parent must be an id or an array of ids");
  if (parents->ids.size() > s.settings.max_ids)
    return bad_request("more than " + std::to_string(s.settings.max_ids) + " parents");
  if (auto bad = check_ids(parents->ids, false)) return std::move(*bad);
  auto found = s.elements->read(parents->ids);
  if (!found) return storage_failure(found.error());
  std::vector<storage::element_input> children;
  std::vector<size_t> child_of;  // parent index of each child
  for (size_t i = 0; i < parents->ids.size(); ++i) {
    if (!(*found)[i]) continue;
    storage::element_input c;
    // Comments get ids of their own; `#parent` names one parent each.
    for (auto& f : e.fields) {
      if (f.key == "#parent" || restricted_key(f.key, who)) continue;
      c.fields.push_back(f);
    }
    c.fields.push_back({"#parent", json_string(parents->ids[i])});
    children.push_back(std::move(c));
    child_of.push_back(i);
  }
  if (children.empty()) return error_response(404, "not_found", "no parent exists");
  auto made = s.elements->create(children, context_for(who));
  if (!made) return storage_failure(made.error());
  if (!parents->array) return json_response(201, std::move(made->front().json));
  std::vector<std::optional<std::string>> out(parents->ids.size());
  for (size_t k = 0; k < made->size(); ++k) out[child_of[k]] = std::move((*made)[k].json);
  std::string body = "[";
  for (size_t i = 0; i < out.size(); ++i) {
    if (i > 0) body += ',';
    body += out[i] ? *out[i] : std::string{"null"};
  }
  body += ']';
  return json_response(made->size() < parents->ids.size() ? 207 : 201, std::move(body));
}

// A tracked file's path: absolute, with no `.` or `..` segment that could name another place.
std::optional<std::string> path_problem(std::string_view id) {
  if (id.empty() || id.front() != '/') return "must be a path starting with /";
  size_t pos = 1;
  while (pos <= id.size()) {
    auto end = id.find('/', pos);
    auto seg = id.substr(pos, end == std::string_view::npos ? std::string_view::npos : end - pos);
    if (seg == "." || seg == "..") return "must not hold . or .. segments";
    if (end == std::string_view::npos) break;
    pos = end + 1;
  }
  return std::nullopt;
}

api_response op_publish(const services& s, const api_request& req, const principal& who) {
  auto in = storage::parse_elements(req.body, storage::id_policy::optional);
  if (!in) return storage_failure(in.error());
  for (size_t i = 0; i < in->size(); ++i) {
    auto& e = (*in)[i];
    if (e.ids.empty() || e.find("comment") == nullptr || e.find("origin") == nullptr)
      return bad_request("element " + std::to_string(i) + ": publish needs _id, comment and origin");
    for (auto& id : e.ids)
      if (auto problem = path_problem(id))
        return bad_request("element " + std::to_string(i) + ": _id " + id + " " + *problem);
  }
  if (auto refused = check_write_ids(s, *in, who)) return std::move(*refused);
  strip_restricted(*in, who);
  for (auto& e : *in)
    e.fields.erase(std::remove_if(e.fields.begin(), e.fields.end(),
                                  [](const storage::element_field& f) { return f.key == "password"; }),
                   e.fields.end());
  auto ctx = context_for(who);
  auto parents = s.elements->create(*in, ctx);
  if (!parents) return storage_failure(parents.error());
  // Each new file gets a child holding the publish record as it was at publish time.
  std::vector<storage::element_input> children;
  for (auto& o : *parents) {
    if (o.result != element_result::created) continue;
    auto fields = storage::parse_stored(o.json);
    if (!fields) return storage_failure(fields.error());
    storage::element_input c;
    c.fields.push_back({"#parent", json_string(o.id)});
    for (auto& f : *fields)
      if (f.key != "#parent") c.fields.push_back(std::move(f));
    children.push_back(std::move(c));
  }
  if (children.empty()) return error_response(409, "conflict", "every file is already tracked");
  // Children keep the parent's author and time as recorded.
  auto child_ctx = ctx;
  child_ctx.keep_given_author_time = true;
  auto made = s.elements->create(children, child_ctx);
  if (!made) return storage_failure(made.error());
  std::string body = "[";
  bool first = true;
  for (auto* list : {&*parents, &*made}) {
    for (auto& o : *list) {
      if (!first) body += ',';
      first = false;
      body += o.result == element_result::created ? o.json : std::string{"null"};
    }
  }
  body += ']';
  return json_response(children.size() < parents->size() ? 207 : 201, std::move(body));
}

api_response op_version(const services& s, const api_request& req, const principal& who) {
  const std::string& id = req.arg;
  if (id.empty()) return bad_request("version needs an element id in the path");
  if (auto err = storage::validate_id(id)) return bad_request(error_message(err));
  auto in = storage::parse_elements(req.body, storage::id_policy::optional);
  if (!in) return storage_failure(in.error());
  if (in->size() != 1 || body_is_array(req.body) || !in->front().ids.empty())
    return bad_request("version takes one object without _id");
  auto& keys = in->front();
  if (keys.find("file") == nullptr) return bad_request("version needs the key file");
  if (who.cls != user_class::admin && s.admin_id(id))
    return error_response(403, "forbidden", "only admins may version " + id);
  auto head = s.elements->get(id);
  if (!head) return storage_failure(head.error());
  if (!*head) return error_response(404, "not_found", "no element " + id);
  if (auto owner = lock_owner(**head); owner && *owner != who.name)
    return error_response(409, "conflict", "element " + id + " is locked by " + *owner);
  auto fields = storage::parse_stored(**head);
  if (!fields) return storage_failure(fields.error());
  // The child keeps the head as it was; the head takes the new keys and the version number.
  storage::element_input child;
  child.fields.push_back({"#parent", json_string(id)});
  for (auto& f : *fields)
    if (f.key != "#parent" && f.key != "version" && f.key != "lock") child.fields.push_back(f);
  auto child_ctx = context_for(who);
  child_ctx.keep_given_author_time = true;
  auto made = s.elements->create(std::vector<storage::element_input>{child}, child_ctx);
  if (!made) return storage_failure(made.error());
  auto query = storage::element_query::parse_mongo("{\"#parent\":" + json_string(id) + "}");
  if (!query) return storage_failure(query.error());
  auto versions = storage::search(*s.elements, *query);
  if (!versions) return storage_failure(versions.error());
  storage::element_input update;
  update.ids.push_back(id);
  for (auto& f : keys.fields)
    if (!restricted_key(f.key, who) && f.key != "version") update.fields.push_back(f);
  update.fields.push_back({"version", std::to_string(versions->count + 1)});
  auto ctx = context_for(who);
  ctx.keep_given_author_time = false;
  update.fields.push_back({"author", json_string(who.name)});
  auto done = s.elements->update(std::vector<storage::element_input>{update}, ctx);
  if (!done) return storage_failure(done.error());
  if (auto conflict = lock_conflict(*done)) return std::move(*conflict);
  if (done->front().result != element_result::updated)
    return error_response(404, "not_found", "no element " + id);
  return json_response(201, std::move(done->front().json));
}

// damas-core collapses runs of white space and trims the query.
std::string normalize_query(std::string_view q) {
  std::string out;
  bool space = false;
  for (char c : q) {
    bool ws = c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
    if (ws) {
      space = !out.empty();
      continue;
    }
    if (space) out += ' ';
    space = false;
    out += c;
  }
  return out;
}

api_response op_search(const services& s, const api_request& req, const principal&, bool one) {
  auto q = normalize_query(req.arg);
  if (q.empty() || q == "undefined") return bad_request("search needs a query");
  auto query = storage::element_query::parse_text(q);
  if (!query) return storage_failure(query.error());
  storage::search_options opts;
  if (one) opts.limit = 1;
  auto found = storage::search(*s.elements, *query, opts);
  if (!found) return storage_failure(found.error());
  if (one) {
    if (found->ids.empty()) return json_response(200, "null");
    auto got = s.elements->get(found->ids.front());
    if (!got) return storage_failure(got.error());
    return json_response(200, *got ? std::move(**got) : std::string{"null"});
  }
  std::string body = "[";
  body.reserve(found->ids.size() * 32 + 2);
  for (size_t i = 0; i < found->ids.size(); ++i) {
    if (i > 0) body += ',';
    storage::append_json_string(body, found->ids[i]);
  }
  body += ']';
  return json_response(200, std::move(body));
}

api_response op_search_mongo(const services& s, const api_request& req, const principal&) {
  auto parsed = parse_mongo_request(req.body, req.form_body);
  if (!parsed) return storage_failure(parsed.error());
  auto query = storage::element_query::parse_mongo(parsed->query_json);
  if (!query) return storage_failure(query.error());
  auto found = storage::search(*s.elements, *query, parsed->options);
  if (!found) return storage_failure(found.error());
  std::string body = "{\"count\":" + std::to_string(found->count) + ",\"ids\":[";
  for (size_t i = 0; i < found->ids.size(); ++i) {
    if (i > 0) body += ',';
    storage::append_json_string(body, found->ids[i]);
  }
  body += "]}";
  return json_response(200, std::move(body));
}

// Nodes and the edges that lead to them: each level finds the edges whose `tgt_id` is one of
// the nodes found so far and adds their `src_id` nodes. One scan of the elements per level.
api_response op_graph(const services& s, const api_request& req, const principal&) {
  int64_t depth = 0;
  if (!req.arg.empty()) {
    char* end = nullptr;
    depth = std::strtoll(req.arg.c_str(), &end, 10);
    if (end == nullptr || *end != '\0' || depth < 0)
      return bad_request("depth must be a number, 0 for no limit");
  }
  auto ids = request_ids(s, req);
  if (!ids) return storage_failure(ids.error());
  if (auto bad = check_ids(ids->ids, false)) return std::move(*bad);
  constexpr int64_t max_levels = 64;
  std::vector<std::string> nodes = ids->ids;
  std::unordered_set<std::string> known(nodes.begin(), nodes.end());
  std::vector<std::string> frontier(known.begin(), known.end());
  std::vector<std::string> edges;  // JSON, in discovery order
  std::unordered_set<std::string> edge_ids;
  for (int64_t level = 0; !frontier.empty() && level < max_levels && (depth == 0 || level < depth);
       ++level) {
    std::string q = "{\"tgt_id\":{\"$in\":[";
    for (size_t i = 0; i < frontier.size(); ++i) {
      if (i > 0) q += ',';
      storage::append_json_string(q, frontier[i]);
    }
    q += "]}}";
    frontier.clear();
    auto query = storage::element_query::parse_mongo(q);
    if (!query) return storage_failure(query.error());
    auto found = storage::search(*s.elements, *query);
    if (!found) return storage_failure(found.error());
    std::vector<std::string> fresh;
    for (auto& id : found->ids)
      if (edge_ids.insert(id).second) fresh.push_back(id);
    if (fresh.empty()) break;
    auto got = s.elements->read(fresh);
    if (!got) return storage_failure(got.error());
    for (auto& json : *got) {
      if (!json) continue;
      if (auto src = string_member(*json, "src_id"); src && known.insert(*src).second) {
        nodes.push_back(*src);
        frontier.push_back(*src);
      }
      edges.push_back(std::move(*json));
    }
    if (nodes.size() + edges.size() > s.settings.max_ids * 10)
      return bad_request("the graph is larger than this node answers in one request");
  }
  auto got = s.elements->read(nodes);
  if (!got) return storage_failure(got.error());
  size_t missing = 0;
  std::string body = "[";
  bool first = true;
  for (auto& json : *got) {
    if (!first) body += ',';
    first = false;
    missing += !json;
    body += json ? *json : std::string{"null"};
  }
  for (auto& e : edges) {
    body += ',';
    body += e;
  }
  body += ']';
  if (missing == got->size() && edges.empty())
    return error_response(404, "not_found", "none of the ids exists");
  return json_response(missing > 0 ? 207 : 200, std::move(body));
}

// --- authentication -----------------------------------------------------------------------

// `"1d"`, `"2h"`, `"90"` (seconds: a JSON number), as damas-core's `expiresIn` (the `ms`
// package's spellings); nullopt when unreadable.
std::optional<std::chrono::milliseconds> token_lifetime(const services& s, std::string_view text,
                                                        bool number) {
  auto max = std::chrono::duration_cast<std::chrono::milliseconds>(s.settings.max_token_ttl);
  if (text.empty()) return std::chrono::duration_cast<std::chrono::milliseconds>(s.settings.token_ttl);
  if (text == "0") return max;  // damas-core: no expiry; here the longest allowed
  auto ms = parse_duration_ms(text, number);
  if (!ms || *ms <= 0) return std::nullopt;
  return std::min(std::chrono::milliseconds{*ms}, max);
}

// The user element with the token fields added (damas-core's signIn answer).
std::string sign_in_body(const storage::user_info& user, const storage::issued_token& token,
                         int64_t now_ms) {
  std::string body = "{";
  auto fields = storage::parse_stored(user.element_json);
  storage::append_json_string(body, "_id");
  body += ':';
  storage::append_json_string(body, user.id);
  if (fields) {
    for (auto& f : *fields) {
      if (f.key == "password" || f.key == "token" || f.key == "token_exp" ||
          f.key == "token_iat" || f.key == "user" || f.key == "username" || f.key == "class")
        continue;
      body += ',';
      storage::append_json_string(body, f.key);
      body += ':';
      body += f.value;
    }
  }
  body += ",\"username\":" + json_string(user.username);
  body += ",\"class\":" + json_string(storage::to_string(user.cls));
  body += ",\"token\":" + json_string(token.token);
  body += ",\"token_exp\":" + std::to_string(token.expires_ms / 1000);
  body += ",\"token_iat\":" + std::to_string(now_ms / 1000);
  body += ",\"user\":" + (user.element_json.empty() ? std::string{"null"} : user.element_json);
  body += '}';
  return body;
}

api_response op_sign_in(const services& s, const api_request& req) {
  auto form = parse_credentials(req.body, req.form_body);
  if (!form) return storage_failure(form.error());
  if (form->username.empty() || form->password.empty())
    return bad_request("signIn needs username (or email) and password");
  auto ttl = token_lifetime(s, form->expires_in, form->expires_in_is_number);
  if (!ttl) return bad_request("expiresIn " + form->expires_in + " is not a duration (1d, 2h, 30m, 60s)");
  auto user = s.users->authenticate(form->username, form->password);
  if (!user) {
    if (storage::is(user.error(), storage::storage_errc::not_found) ||
        storage::is(user.error(), storage::storage_errc::invalid_argument))
      return error_response(401, "unauthorized", error_message(user.error()));
    return storage_failure(user.error());
  }
  auto now = storage::epoch_ms();
  auto token = s.users->issue_token(user->username, ttl->count(), now);
  if (!token) return storage_failure(token.error());
  return json_response(200, sign_in_body(*user, *token, now));
}

api_response op_create_token(const services& s, const api_request& req, const principal& who) {
  if (who.anonymous) return error_response(401, "unauthorized", "sign in first");
  auto form = parse_credentials(req.body, req.form_body);
  if (!form) return storage_failure(form.error());
  auto ttl = token_lifetime(s, form->expires_in, form->expires_in_is_number);
  if (!ttl) return bad_request("expiresIn " + form->expires_in + " is not a duration");
  auto token = s.users->issue_token(who.name, ttl->count(), storage::epoch_ms());
  if (!token) return storage_failure(token.error());
  return json_response(200, json_string(token->token));
}

// --- the actor ----------------------------------------------------------------------------

struct token_cache_entry {
  std::shared_ptr<const principal> who;
  std::chrono::steady_clock::time_point at;
};

}  // namespace

struct tracker_state {
  static const char* name;
  // Shared with the pool jobs in flight, which may outlive the actor by a little.
  std::shared_ptr<services> svc = std::make_shared<services>();
  io_pool* pool = nullptr;
  datasource_api_actor datasources;
  std::unordered_map<std::string, token_cache_entry> cache;
  // User changes running on the pool: while any is, tokens are verified against the database
  // every time and nothing is cached, so a revocation counts from the moment it is written.
  size_t user_changes = 0;
  size_t in_pool = 0;
  uint64_t requests = 0;
  uint64_t refused = 0;
  uint64_t failed = 0;
  uint64_t cache_hits = 0;
};

const char* tracker_state::name = "tracker";

namespace {

// Authenticates `req`; on failure the answer to give instead.
// Shared, so a cached principal costs no copy per request.
using principal_ptr = std::shared_ptr<const principal>;

caf::expected<principal_ptr> authenticate(tracker_state& st, const std::string& token,
                                          bool bad_authorization) {
  auto& s = *st.svc;
  if (bad_authorization)
    return make_error(actors_errc::unauthenticated,
                      "the Authorization header must be: Bearer <token>");
  if (token.empty()) {
    if (!s.anonymous) return make_error(actors_errc::unauthenticated, "authentication required");
    auto p = std::make_shared<principal>();
    p->name = "anonymous";
    p->cls = *s.anonymous;
    p->anonymous = true;
    return principal_ptr{std::move(p)};
  }
  auto now = std::chrono::steady_clock::now();
  bool use_cache = st.user_changes == 0;
  if (use_cache) {
    auto i = st.cache.find(token);
    if (i != st.cache.end()) {
      if (now - i->second.at < s.settings.token_cache_ttl) {
        ++st.cache_hits;
        return i->second.who;
      }
      st.cache.erase(i);
    }
  }
  auto user = s.users->verify_token(token, storage::epoch_ms());
  if (!user) {
    if (storage::is(user.error(), storage::storage_errc::not_found) ||
        storage::is(user.error(), storage::storage_errc::invalid_argument))
      return make_error(actors_errc::unauthenticated, "invalid, expired or revoked token");
    return std::move(user.error());
  }
  auto made = std::make_shared<principal>();
  made->name = user->username;
  made->cls = user->cls;
  made->element_json = std::move(user->element_json);
  principal_ptr p = std::move(made);
  if (use_cache) {
    if (st.cache.size() >= 100000) st.cache.clear();
    st.cache.emplace(token, token_cache_entry{p, now});
  }
  return p;
}

// Whether the request may change users or tokens: such writes run with the cache off.
bool touches_users(const services& s, const api_request& req, const principal& who) {
  if (who.cls != user_class::admin) return false;  // only admins may write `@` ids
  switch (req.op) {
    case api_op::create:
    case api_op::update:
    case api_op::upsert:
    case api_op::remove:
      return req.body.find("\"@") != std::string::npos || req.body.find('\\') != std::string::npos;
    default:
      (void)s;
      return false;
  }
}

bool slow_op(api_op op) noexcept {
  switch (op) {
    case api_op::search:
    case api_op::search_one:
    case api_op::search_mongo:
    case api_op::graph:
    case api_op::version:
    case api_op::sign_in:
      return true;
    default:
      return false;
  }
}

api_response run_op(const services& s, const api_request& req, const principal& who) {
  switch (req.op) {
    case api_op::create: return op_create(s, req, who);
    case api_op::read: return op_read(s, req, who);
    case api_op::update: return op_update_or_upsert(s, req, who, false);
    case api_op::upsert: return op_update_or_upsert(s, req, who, true);
    case api_op::remove: return op_delete(s, req, who);
    case api_op::search: return op_search(s, req, who, false);
    case api_op::search_one: return op_search(s, req, who, true);
    case api_op::search_mongo: return op_search_mongo(s, req, who);
    case api_op::graph: return op_graph(s, req, who);
    case api_op::comment: return op_comment(s, req, who);
    case api_op::publish: return op_publish(s, req, who);
    case api_op::version: return op_version(s, req, who);
    case api_op::lock: return op_lock_or_unlock(s, req, who, true);
    case api_op::unlock: return op_lock_or_unlock(s, req, who, false);
    case api_op::sign_in: return op_sign_in(s, req);
    case api_op::create_token: return op_create_token(s, req, who);
    case api_op::verify:
    case api_op::sign_out:
    case api_op::datasource:
      break;
  }
  return error_response(500, "internal_error", "operation not handled here");
}

// No exception may leave a handler or a pool job (STYLE.md); one becomes a 500.
api_response guarded(const services& s, const api_request& req, const principal& who) {
  try {
    return run_op(s, req, who);
  } catch (const std::exception& e) {
    spdlog::error("tracker: {} failed: {}", to_string(req.op), e.what());
  } catch (...) {
    spdlog::error("tracker: {} failed", to_string(req.op));
  }
  return error_response(500, "internal_error", "the request failed on the server");
}

std::string verify_body(const principal& who) {
  if (who.anonymous)
    return "{\"anonymous\":true,\"username\":null,\"class\":" +
           json_string(storage::to_string(who.cls)) + "}";
  auto fields = storage::parse_stored(who.element_json);
  std::string body = "{\"_id\":" + json_string("@" + who.name);
  if (fields)
    for (auto& f : *fields) {
      if (f.key == "username" || f.key == "class" || f.key == "password") continue;
      body += ',';
      storage::append_json_string(body, f.key);
      body += ':';
      body += f.value;
    }
  body += ",\"username\":" + json_string(who.name);
  body += ",\"class\":" + json_string(storage::to_string(who.cls)) + "}";
  return body;
}

void answer(tracker_state& st, const api_request& req, api_response r) {
  if (r.status >= 500) ++st.failed;
  else if (r.status >= 400) ++st.refused;
  if (req.respond) req.respond(std::move(r));
}

}  // namespace

uint8_t required_class(api_op op) noexcept {
  switch (op) {
    case api_op::read:
    case api_op::search:
    case api_op::search_one:
    case api_op::search_mongo:
    case api_op::graph:
    case api_op::verify:
    case api_op::sign_in:
    case api_op::sign_out:
    case api_op::create_token:
    case api_op::datasource:  // the datasource API decides per datasource (owner, invited)
      return static_cast<uint8_t>(user_class::guest);
    case api_op::create:
    case api_op::lock:
    case api_op::unlock:
    case api_op::publish:
    case api_op::version:
    case api_op::comment:
      return static_cast<uint8_t>(user_class::user);
    case api_op::update:
    case api_op::upsert:
    case api_op::remove:
      return static_cast<uint8_t>(user_class::editor);
  }
  return static_cast<uint8_t>(user_class::admin);
}

namespace {

tracker_actor::behavior_type tracker(tracker_actor::stateful_pointer<tracker_state> self,
                                     tracker_init init) {
  auto& st = self->state;
  st.svc->elements = init.elements;
  st.svc->users = init.users;
  st.svc->settings = init.settings;
  st.svc->anonymous = storage::user_class_from_string(init.settings.anonymous_class);
  st.pool = init.pool;
  st.datasources = init.datasources;
  self->delayed_send(self, std::chrono::minutes{1}, purge_atom::value);
  return {
      [=](api_atom, api_request& req) {
        auto& s = self->state;
        ++s.requests;
        if (req.op == api_op::sign_in) {
          // Argon2id takes tens of milliseconds: never on this thread.
          if (s.pool->queued() >= s.svc->settings.max_queued_jobs)
            return answer(s, req, error_response(503, "unavailable", "the node is busy; retry"));
          ++s.in_pool;
          auto shared = std::make_shared<api_request>(std::move(req));
          run_io(
              self, *s.pool,
              [svc = s.svc, shared]() {
                auto r = guarded(*svc, *shared, principal{});
                if (shared->respond) shared->respond(std::move(r));
                return true;
              },
              [=](bool) { --self->state.in_pool; });
          return;
        }
        auto auth = authenticate(s, req.token, req.bad_authorization);
        if (!auth) {
          if (is(auth.error(), actors_errc::unauthenticated))
            return answer(s, req, error_response(401, "unauthorized", error_message(auth.error())));
          return answer(s, req, storage_failure(auth.error()));
        }
        auto who_ptr = std::move(*auth);
        const principal& who = *who_ptr;
        if (static_cast<uint8_t>(who.cls) < required_class(req.op))
          return answer(s, req,
                        error_response(403, "forbidden",
                                       std::string{to_string(req.op)} + " needs the class " +
                                           storage::to_string(static_cast<user_class>(
                                               required_class(req.op)))));
        switch (req.op) {
          case api_op::datasource: {
            if (!s.datasources)
              return answer(s, req, error_response(503, "unavailable", "no datasource API"));
            req.user = who.name;
            req.user_class = static_cast<uint8_t>(who.cls);
            self->send(s.datasources, api_atom::value, std::move(req));
            return;
          }
          case api_op::verify:
            return answer(s, req, json_response(200, verify_body(who)));
          case api_op::sign_out: {
            if (who.anonymous) return answer(s, req, error_response(401, "unauthorized", "no token to revoke"));
            if (auto err = s.svc->users->revoke_token(req.token))
              return answer(s, req, storage_failure(err));
            s.cache.erase(req.token);
            auto r = json_response(200, "{\"signed_out\":true}");
            r.headers.emplace_back("Set-Cookie", "token=; Max-Age=0; Path=/; HttpOnly; SameSite=Strict");
            return answer(s, req, std::move(r));
          }
          default:
            break;
        }
        bool users = touches_users(*s.svc, req, who);
        bool slow = users || slow_op(req.op) || req.body.size() > s.svc->settings.inline_body_bytes;
        if (!slow) return answer(s, req, guarded(*s.svc, req, who));
        if (s.pool->queued() >= s.svc->settings.max_queued_jobs)
          return answer(s, req, error_response(503, "unavailable", "the node is busy; retry"));
        ++s.in_pool;
        if (users) {
          ++s.user_changes;
          s.cache.clear();
        }
        auto shared = std::make_shared<api_request>(std::move(req));
        run_io(
            self, *s.pool,
            [svc = s.svc, shared, who_ptr]() {
              auto r = guarded(*svc, *shared, *who_ptr);
              uint16_t status = r.status;
              if (shared->respond) shared->respond(std::move(r));
              return status;
            },
            [=](uint16_t status) {
              auto& state = self->state;
              --state.in_pool;
              if (status >= 500) ++state.failed;
              else if (status >= 400) ++state.refused;
              if (users) {
                --state.user_changes;
                // Tokens verified while the change ran may have seen the old state.
                state.cache.clear();
              }
            });
      },
      [=](auth_atom, const std::string& token,
          bool bad_authorization) -> caf::result<std::string, uint8_t, bool> {
        auto& s = self->state;
        ++s.requests;
        auto who = authenticate(s, token, bad_authorization);
        if (!who) {
          ++s.refused;
          return std::move(who.error());
        }
        return {(*who)->name, static_cast<uint8_t>((*who)->cls), (*who)->anonymous};
      },
      [=](purge_atom) {
        // Expired tokens and orphaned password hashes go away every few minutes.
        run_io(
            self, *self->state.pool,
            [svc = self->state.svc]() {
              auto n = svc->users->purge_expired(storage::epoch_ms());
              if (!n) spdlog::warn("tracker: purging expired tokens: {}", render(n.error()));
              return n ? *n : uint64_t{0};
            },
            [=](uint64_t n) {
              if (n > 0) spdlog::debug("tracker: purged {} expired token(s)", n);
              self->delayed_send(self, std::chrono::minutes{10}, purge_atom::value);
            });
      },
      [=](status_atom) {
        auto& s = self->state;
        actor_status out;
        out.id = "tracker";
        out.kind = "tracker";
        out.state = "running";
        out.mailbox = self->mailbox().size();
        out.counters["requests"] = static_cast<int64_t>(s.requests);
        out.counters["refused"] = static_cast<int64_t>(s.refused);
        out.counters["failed"] = static_cast<int64_t>(s.failed);
        out.counters["pool_jobs"] = static_cast<int64_t>(s.in_pool);
        out.counters["pool_queued"] = static_cast<int64_t>(s.pool->queued());
        out.counters["token_cache"] = static_cast<int64_t>(s.cache.size());
        out.counters["token_cache_hits"] = static_cast<int64_t>(s.cache_hits);
        return out;
      },
      [=](io_done_atom, io_continuation& k) { k.fn(); },
  };
}

}  // namespace

tracker_actor spawn_tracker(caf::actor_system& sys, tracker_init init) {
  return sys.spawn<caf::detached>(tracker, std::move(init));
}

}  // namespace syncline::actors
