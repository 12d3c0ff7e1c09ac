// actors/tracker_ops.cpp: the tracker's writes (create, update, upsert, delete, lock, unlock,
// comment, publish, version) over the element and user stores.
#include "actors/tracker_ops.hpp"

#include "actors/site_keys.hpp"
#include "actors/text.hpp"

#include <algorithm>
#include <memory>
#include <optional>
#include <string_view>
#include <utility>

#include <spdlog/spdlog.h>

#include "storage/element_json.hpp"
#include "storage/element_query.hpp"
#include "storage/element_store.hpp"
#include "storage/error.hpp"

namespace syncline::actors::detail {

using storage::element_outcome;
using storage::element_result;
using storage::user_class;

namespace {

api_answer bad_request(std::string message) {
  return refuse(actors_errc::bad_request, std::move(message));
}

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
api_answer single_or_array(answer_kind kind, std::vector<element_outcome>& outs, bool array,
                             bool ids_only = false) {
  if (!array && outs.size() == 1) {
    auto& o = outs.front();
    if (ids_only || o.json.empty()) return answer_json(kind, json_string(o.id));
    return answer_json(kind, std::move(o.json));
  }
  return answer_json(kind, outcome_array(outs, ids_only));
}

// Fills `json` of outcomes that carry none (unchanged) with the element as stored.
caf::error fill_missing_json(const tracker_services& s, std::vector<element_outcome>& outs) {
  for (auto& o : outs) {
    if (o.result != element_result::unchanged || !o.json.empty()) continue;
    auto got = s.elements->get(o.id);
    if (!got) return std::move(got.error());
    if (*got) o.json = std::move(**got);
  }
  return caf::none;
}

// The 409 for outcomes refused because of someone else's lock, or nothing.
std::optional<api_answer> lock_conflict(const std::vector<element_outcome>& outs) {
  for (auto& o : outs)
    if (o.result == element_result::locked)
      return refuse(actors_errc::conflict,
                            "element " + o.id + " is locked by " + o.lock_owner);
  return std::nullopt;
}

// Who holds the lock of each existing id that someone other than `who` locked: the check
// before a write, so that a request naming any such element changes nothing.
caf::expected<std::optional<std::pair<std::string, std::string>>> foreign_lock(
    const tracker_services& s, const std::vector<std::string>& ids, const principal& who) {
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

std::optional<api_answer> check_write_ids(const tracker_services& s,
                                            const std::vector<storage::element_input>& in,
                                            const principal& who) {
  if (unfolded_count(in) > s.settings.max_ids)
    return bad_request("more than " + std::to_string(s.settings.max_ids) +
                       " elements in one request");
  if (who.cls == user_class::admin) return std::nullopt;
  for (auto& e : in)
    for (auto& id : e.ids)
      if (s.admin_id(id))
        return refuse(actors_errc::forbidden, "only admins may write " + id);
  return std::nullopt;
}

// `lock` is set and removed only by lock and unlock (and a forced unlock): a write naming it,
// even as null, is refused whole, so it can neither take nor drop a lock behind their checks.
std::optional<api_answer> lock_key_refused(const std::vector<storage::element_input>& in) {
  for (size_t i = 0; i < in.size(); ++i)
    if (in[i].find("lock") != nullptr)
      return bad_request("element " + std::to_string(i) +
                         ": the key lock is set only by the lock and unlock routes");
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
bool plain_create_body(const tracker_services& s, std::string_view body, const principal& who) {
  if (body.find('\\') != std::string_view::npos) return false;
  if (body.find("\"password\"") != std::string_view::npos) return false;
  if (body.find("\"lock\"") != std::string_view::npos) return false;
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

}  // namespace

caf::expected<id_list> request_ids(const tracker_services& s, const tracker_command& req) {
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

std::optional<api_answer> check_ids(const std::vector<std::string>& ids, bool allow_empty) {
  for (size_t i = 0; i < ids.size(); ++i) {
    if (ids[i].empty() && allow_empty) continue;
    if (auto err = storage::validate_id(ids[i]))
      return bad_request("id " + std::to_string(i) + ": " + error_message(err));
  }
  return std::nullopt;
}

// --- the operations -----------------------------------------------------------------------

api_answer op_create(const tracker_services& s, const tracker_command& req, const principal& who) {
  auto ctx = context_for(who);
  bool array = body_is_array(req.body);
  std::vector<element_outcome> outs;
  // Every element or id takes at least 3 bytes of JSON (`{},` or `"a",`), so a body this small
  // cannot name more than max_ids of them and needs no count before it is written.
  bool small = req.body.size() <= 3 * s.settings.max_ids;
  if (small && plain_create_body(s, req.body, who)) {
    auto created = s.elements->create(req.body, ctx);
    if (!created) return answer_error(created.error());
    outs = std::move(*created);
  } else {
    auto in = storage::parse_elements(req.body, storage::id_policy::optional);
    if (!in) return answer_error(in.error());
    if (auto refused = lock_key_refused(*in)) return std::move(*refused);
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
          return answer_error(made.error());
        }
        per_input[i].push_back(std::move(o));
      }
    }
    std::vector<element_outcome> plain_outs;
    if (!plain.empty()) {
      auto created = s.elements->create(plain, ctx);
      if (!created) return answer_error(created.error());
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
  bool users = false;
  for (auto& o : outs) {
    created += o.result == element_result::created;
    users = users || (o.result == element_result::created && is_user_id(o.id));
  }
  // Users made with a password are synced by the user store; elements `@...` made without one
  // (an admin's import) are made durable here all the same.
  if (users)
    if (auto err = s.users->sync()) return answer_error(err);
  if (created == 0) return refuse(actors_errc::conflict, "every id already exists");
  if (created < outs.size()) return answer_json(answer_kind::partial, outcome_array(outs));
  return single_or_array(answer_kind::created, outs, array);
}


namespace {

// The inputs of update and upsert with restricted keys removed, or the answer refusing them.
caf::expected<std::vector<storage::element_input>> write_inputs(const tracker_services& s,
                                                                const tracker_command& req,
                                                                const principal& who,
                                                                storage::id_policy ids,
                                                                std::optional<api_answer>& refused) {
  auto in = storage::parse_elements(req.body, ids);
  if (!in) return std::move(in.error());
  if (auto r = lock_key_refused(*in)) {
    refused = std::move(*r);
    return std::move(*in);
  }
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
caf::expected<std::vector<std::string>> apply_passwords(const tracker_services& s,
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

}  // namespace

api_answer op_update_or_upsert(const tracker_services& s, const tracker_command& req, const principal& who,
                                 bool upsert) {
  std::optional<api_answer> refused;
  auto in = write_inputs(s, req, who,
                         upsert ? storage::id_policy::optional : storage::id_policy::required,
                         refused);
  if (!in) return answer_error(in.error());
  if (refused) return std::move(*refused);
  if (!upsert)
    for (size_t i = 0; i < in->size(); ++i)
      if ((*in)[i].fields.empty() && (*in)[i].find("password") == nullptr)
        return bad_request("element " + std::to_string(i) + ": no key to change besides _id");
  auto ids = unfolded_ids(*in);
  if (!ids) return answer_error(ids.error());
  auto held = foreign_lock(s, *ids, who);
  if (!held) return answer_error(held.error());
  if (*held)
    return refuse(actors_errc::conflict,
                          "element " + (*held)->first + " is locked by " + (*held)->second);
  std::vector<std::string> password_only;
  if (who.cls == user_class::admin) {
    auto applied = apply_passwords(s, *in);
    if (!applied) return answer_error(applied.error());
    password_only = std::move(*applied);
  }
  auto ctx = context_for(who);
  std::vector<element_outcome> outs;
  if (!in->empty()) {
    auto done = upsert ? s.elements->upsert(*in, ctx) : s.elements->update(*in, ctx);
    if (!done) return answer_error(done.error());
    outs = std::move(*done);
    // A user's class or `disable` changed: durable before the answer, like any revocation.
    bool users = std::any_of(outs.begin(), outs.end(), [](const element_outcome& o) {
      return is_user_id(o.id) &&
             (o.result == element_result::updated || o.result == element_result::created);
    });
    if (users)
      if (auto err = s.users->sync()) return answer_error(err);
  }
  for (auto& id : password_only) {
    element_outcome o;
    o.id = id;
    auto got = s.elements->get(id);
    if (!got) return answer_error(got.error());
    o.result = *got ? element_result::updated : element_result::not_found;
    if (*got) o.json = std::move(**got);
    outs.push_back(std::move(o));
  }
  if (auto conflict = lock_conflict(outs)) return std::move(*conflict);
  if (outs.empty()) return bad_request("nothing to change");
  size_t missing = 0;
  for (auto& o : outs) missing += o.result == element_result::not_found;
  if (missing == outs.size()) return refuse(actors_errc::unknown_id, "none of the ids exists");
  if (missing > 0) return answer_json(answer_kind::partial, outcome_array(outs));
  if (outs.size() == 1) return answer_json(answer_kind::done, std::move(outs.front().json));
  return answer_json(answer_kind::done, outcome_array(outs));
}

// Where an element's copies are, as sites record it: only the per-site keys (numbers, or null
// to remove one), on elements that exist; `time` and `author` stay, and a lock does not refuse
// it (a lock guards content and description, not the record of copies).
api_answer op_sync_state(const tracker_services& s, const tracker_command& req, const principal& who) {
  auto in = storage::parse_elements(req.body, storage::id_policy::required);
  if (!in) return answer_error(in.error());
  if (auto r = check_write_ids(s, *in, who)) return std::move(*r);
  for (size_t i = 0; i < in->size(); ++i) {
    auto& e = (*in)[i];
    if (e.fields.empty()) return bad_request("element " + std::to_string(i) + ": no per-site key");
    for (auto& id : e.ids)
      if (is_user_id(id)) return bad_request("element " + id + ": a user has no copies");
    bool volume = std::all_of(e.ids.begin(), e.ids.end(),
                              [](const std::string& id) { return is_volume_element_id(id); });
    for (auto& f : e.fields) {
      // A site's volume element takes its status keys (a string, number or boolean) this way.
      if (volume && is_volume_status_key(f.key)) {
        if (!f.value.empty() && (f.value[0] == '{' || f.value[0] == '['))
          return bad_request("element " + std::to_string(i) + ": " + f.key +
                             " takes a string, a number, a boolean or null");
        continue;
      }
      if (!parse_site_key(f.key))
        return bad_request("element " + std::to_string(i) + ": " + f.key +
                           " is not a per-site key (syncing_, synced_, syncError_ or "
                           "syncLastAttempt_ followed by a site name, or a status key of a "
                           "volume element site/<name>)");
      bool number = !f.value.empty() && (f.value[0] == '-' || (f.value[0] >= '0' && f.value[0] <= '9'));
      if (!number && !f.is_null())
        return bad_request("element " + std::to_string(i) + ": " + f.key +
                           " takes a number, or null to remove it");
    }
  }
  auto ctx = context_for(who);
  ctx.keep_time = true;
  ctx.honor_locks = false;
  auto done = s.elements->update(*in, ctx);
  if (!done) return answer_error(done.error());
  size_t missing = 0;
  for (auto& o : *done) missing += o.result == element_result::not_found;
  if (missing == done->size()) return refuse(actors_errc::unknown_id, "none of the ids exists");
  if (missing > 0) return answer_json(answer_kind::partial, outcome_array(*done));
  if (done->size() == 1) return answer_json(answer_kind::done, std::move(done->front().json));
  return answer_json(answer_kind::done, outcome_array(*done));
}

api_answer op_delete(const tracker_services& s, const tracker_command& req, const principal& who) {
  auto ids = request_ids(s, req);
  if (!ids) return answer_error(ids.error());
  if (auto bad = check_ids(ids->ids, false)) return std::move(*bad);
  if (who.cls != user_class::admin)
    for (auto& id : ids->ids)
      if (s.admin_id(id)) return refuse(actors_errc::forbidden, "only admins may delete " + id);
  auto held = foreign_lock(s, ids->ids, who);
  if (!held) return answer_error(held.error());
  if (*held)
    return refuse(actors_errc::conflict,
                          "element " + (*held)->first + " is locked by " + (*held)->second);
  // A deleted user's password hash and tokens go in the same write as its element.
  auto done = s.users->remove_elements(ids->ids, context_for(who));
  if (!done) return answer_error(done.error());
  if (auto conflict = lock_conflict(*done)) return std::move(*conflict);
  size_t missing = 0;
  for (auto& o : *done) missing += o.result == element_result::not_found;
  if (missing == done->size()) return refuse(actors_errc::unknown_id, "none of the ids exists");
  if (missing > 0) return answer_json(answer_kind::partial, outcome_array(*done, true));
  return single_or_array(answer_kind::done, *done, ids->array, true);
}

namespace {

// An unlock body that is an object: `{"_id": id or [ids], "force": true or false}`; nothing
// when the body is not an object (then it holds the ids, as damas-core's clients send them).
struct unlock_request {
  id_list ids;
  bool force = false;
};

caf::expected<std::optional<unlock_request>> parse_unlock_object(std::string_view body) {
  auto first = body.find_first_not_of(" \t\r\n");
  if (first == std::string_view::npos || body[first] != '{')
    return std::optional<unlock_request>{};
  auto in = storage::parse_elements(body, storage::id_policy::required);
  if (!in) return std::move(in.error());
  auto bad = [](std::string text) {
    return storage::make_error(storage::storage_errc::invalid_argument, std::move(text));
  };
  if (in->size() != 1) return bad("unlock takes an id, an array of ids, or one object");
  unlock_request out;
  for (auto& f : in->front().fields) {
    if (f.key != "force")
      return bad("unlock's object takes only _id and force, not " + f.key);
    if (f.value != "true" && f.value != "false") return bad("force must be true or false");
    out.force = f.value == "true";
  }
  out.ids.ids = std::move(in->front().ids);
  out.ids.array = out.ids.ids.size() > 1;
  return std::optional<unlock_request>{std::move(out)};
}

}  // namespace

api_answer op_lock_or_unlock(const tracker_services& s, const tracker_command& req, const principal& who,
                               bool lock) {
  bool force = false;
  caf::expected<id_list> ids{id_list{}};
  auto object = lock ? caf::expected<std::optional<unlock_request>>{std::nullopt}
                     : parse_unlock_object(req.body);
  if (!object) return answer_error(object.error());
  if (*object && !req.ids_in_path) {
    force = (*object)->force;
    ids = std::move((*object)->ids);
    if (ids->ids.empty()) return bad_request("no id given");
    if (ids->ids.size() > s.settings.max_ids)
      return bad_request("more than " + std::to_string(s.settings.max_ids) + " ids in one request");
  } else {
    ids = request_ids(s, req);
  }
  if (!ids) return answer_error(ids.error());
  if (auto bad = check_ids(ids->ids, false)) return std::move(*bad);
  if (force && who.cls != user_class::admin)
    return refuse(actors_errc::forbidden, "only admins may break another user's lock (force)");
  if (who.cls != user_class::admin)
    for (auto& id : ids->ids)
      if (s.admin_id(id)) return refuse(actors_errc::forbidden, "only admins may lock " + id);
  // All or nothing: a request naming an element someone else holds changes nothing (unless an
  // admin breaks the locks).
  if (!force) {
    auto held = foreign_lock(s, ids->ids, who);
    if (!held) return answer_error(held.error());
    if (*held)
      return refuse(actors_errc::conflict,
                    "element " + (*held)->first + " is locked by " + (*held)->second);
  }
  auto ctx = context_for(who);
  ctx.honor_locks = !force;
  auto done = lock ? s.elements->lock(ids->ids, ctx) : s.elements->unlock(ids->ids, ctx);
  if (!done) return answer_error(done.error());
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
  for (auto& o : *done)
    if (o.result == element_result::updated && !o.lock_owner.empty())
      spdlog::warn("tracker: admin {} broke the lock of {} on {}", who.name, o.lock_owner, o.id);
  if (auto err = fill_missing_json(s, *done)) return answer_error(err);
  size_t missing = 0;
  for (auto& o : *done) missing += o.result == element_result::not_found;
  if (missing == done->size()) return refuse(actors_errc::unknown_id, "none of the ids exists");
  if (missing > 0) return answer_json(answer_kind::partial, outcome_array(*done));
  return single_or_array(answer_kind::done, *done, ids->array);
}

api_answer op_comment(const tracker_services& s, const tracker_command& req, const principal& who) {
  auto in = storage::parse_elements(req.body, storage::id_policy::optional);
  if (!in) return answer_error(in.error());
  if (in->size() != 1 || body_is_array(req.body))
    return bad_request("comment takes one object with #parent and comment");
  if (auto refused = lock_key_refused(*in)) return std::move(*refused);
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
  if (!found) return answer_error(found.error());
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
  if (children.empty()) return refuse(actors_errc::unknown_id, "no parent exists");
  auto made = s.elements->create(children, context_for(who));
  if (!made) return answer_error(made.error());
  if (!parents->array) return answer_json(answer_kind::created, std::move(made->front().json));
  std::vector<std::optional<std::string>> out(parents->ids.size());
  for (size_t k = 0; k < made->size(); ++k) out[child_of[k]] = std::move((*made)[k].json);
  std::string body = "[";
  for (size_t i = 0; i < out.size(); ++i) {
    if (i > 0) body += ',';
    body += out[i] ? *out[i] : std::string{"null"};
  }
  body += ']';
  return answer_json(made->size() < parents->ids.size() ? answer_kind::partial : answer_kind::created, std::move(body));
}

// A tracked file's path: absolute, with no `.` or `..` segment that could name another place.
std::optional<std::string> path_problem(std::string_view id) {
  if (id.empty() || id.front() != '/') return "must be a path starting with /";
  if (has_dot_segment(id)) return "must not hold . or .. segments";
  return std::nullopt;
}

api_answer op_publish(const tracker_services& s, const tracker_command& req, const principal& who) {
  auto in = storage::parse_elements(req.body, storage::id_policy::optional);
  if (!in) return answer_error(in.error());
  if (auto refused = lock_key_refused(*in)) return std::move(*refused);
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
  if (!parents) return answer_error(parents.error());
  // Each new file gets a child holding the publish record as it was at publish time.
  std::vector<storage::element_input> children;
  for (auto& o : *parents) {
    if (o.result != element_result::created) continue;
    auto fields = storage::parse_stored(o.json);
    if (!fields) return answer_error(fields.error());
    storage::element_input c;
    c.fields.push_back({"#parent", json_string(o.id)});
    for (auto& f : *fields)
      if (f.key != "#parent") c.fields.push_back(std::move(f));
    children.push_back(std::move(c));
  }
  if (children.empty()) return refuse(actors_errc::conflict, "every file is already tracked");
  // Children keep the parent's author and time as recorded.
  auto child_ctx = ctx;
  child_ctx.keep_given_author_time = true;
  auto made = s.elements->create(children, child_ctx);
  if (!made) return answer_error(made.error());
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
  return answer_json(children.size() < parents->size() ? answer_kind::partial : answer_kind::created, std::move(body));
}

api_answer op_version(const tracker_services& s, const tracker_command& req, const principal& who) {
  const std::string& id = req.arg;
  if (id.empty()) return bad_request("version needs an element id in the path");
  if (auto err = storage::validate_id(id)) return bad_request(error_message(err));
  auto in = storage::parse_elements(req.body, storage::id_policy::optional);
  if (!in) return answer_error(in.error());
  if (in->size() != 1 || body_is_array(req.body) || !in->front().ids.empty())
    return bad_request("version takes one object without _id");
  if (auto refused = lock_key_refused(*in)) return std::move(*refused);
  auto& keys = in->front();
  if (keys.find("file") == nullptr) return bad_request("version needs the key file");
  if (who.cls != user_class::admin && s.admin_id(id))
    return refuse(actors_errc::forbidden, "only admins may version " + id);
  auto head = s.elements->get(id);
  if (!head) return answer_error(head.error());
  if (!*head) return refuse(actors_errc::unknown_id, "no element " + id);
  if (auto owner = lock_owner(**head); owner && *owner != who.name)
    return refuse(actors_errc::conflict, "element " + id + " is locked by " + *owner);
  auto fields = storage::parse_stored(**head);
  if (!fields) return answer_error(fields.error());
  // The child keeps the head as it was; the head takes the new keys and the version number.
  storage::element_input child;
  child.fields.push_back({"#parent", json_string(id)});
  for (auto& f : *fields)
    if (f.key != "#parent" && f.key != "version" && f.key != "lock") child.fields.push_back(f);
  auto child_ctx = context_for(who);
  child_ctx.keep_given_author_time = true;
  auto made = s.elements->create(std::vector<storage::element_input>{child}, child_ctx);
  if (!made) return answer_error(made.error());
  auto query = storage::element_query::parse_mongo("{\"#parent\":" + json_string(id) + "}");
  if (!query) return answer_error(query.error());
  auto versions = storage::search(*s.elements, *query);
  if (!versions) return answer_error(versions.error());
  storage::element_input update;
  update.ids.push_back(id);
  for (auto& f : keys.fields)
    if (!restricted_key(f.key, who) && f.key != "version") update.fields.push_back(f);
  update.fields.push_back({"version", std::to_string(versions->count + 1)});
  auto ctx = context_for(who);
  ctx.keep_given_author_time = false;
  update.fields.push_back({"author", json_string(who.name)});
  auto done = s.elements->update(std::vector<storage::element_input>{update}, ctx);
  if (!done) return answer_error(done.error());
  if (auto conflict = lock_conflict(*done)) return std::move(*conflict);
  if (done->front().result != element_result::updated)
    return refuse(actors_errc::unknown_id, "no element " + id);
  return answer_json(answer_kind::created, std::move(done->front().json));
}

}  // namespace syncline::actors::detail
