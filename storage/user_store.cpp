#include "storage/user_store.hpp"

#include <algorithm>
#include <condition_variable>
#include <cstdlib>
#include <functional>
#include <limits>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <thread>
#include <utility>
#include <vector>

#include <rocksdb/db.h>
#include <sodium.h>

#include "storage/codec.hpp"
#include "storage/database.hpp"
#include "storage/detail/rocks.hpp"
#include "storage/element_json.hpp"
#include "storage/element_store.hpp"
#include "storage/error.hpp"

namespace syncline::storage {

const char* to_string(user_class c) noexcept {
  switch (c) {
    case user_class::guest:
      return "guest";
    case user_class::user:
      return "user";
    case user_class::editor:
      return "editor";
    case user_class::admin:
      return "admin";
  }
  return "guest";
}

std::optional<user_class> user_class_from_string(std::string_view s) noexcept {
  if (s == "guest") return user_class::guest;
  if (s == "user") return user_class::user;
  if (s == "editor") return user_class::editor;
  if (s == "admin") return user_class::admin;
  return std::nullopt;
}

user_store_options user_store_options::minimum_cost() noexcept {
  user_store_options o;
  o.pwhash_opslimit = crypto_pwhash_argon2id_OPSLIMIT_MIN;
  o.pwhash_memlimit = crypto_pwhash_argon2id_MEMLIMIT_MIN;
  return o;
}

namespace {

constexpr size_t max_username_bytes = 64;
// argon2 accepts far longer passwords; beyond this a request is abuse, not a passphrase.
constexpr size_t max_password_bytes = 4096;
constexpr size_t token_bytes = 32;
constexpr size_t token_text_bytes = 43;  // base64url of 32 bytes, no padding
// A random value stored with a user's password hash and copied into each token issued for the
// user. Setting a password or creating the user again draws a new one, so tokens issued before
// stop verifying even if deleting them missed one (one issued concurrently, or left behind when
// an admin deleted the user's element through the generic API).
constexpr size_t generation_bytes = 16;
constexpr uint8_t credentials_format = 1;
constexpr uint8_t token_format = 1;

// One message for every way a sign-in or a token can fail, so that answers name nothing.
constexpr const char* wrong_credentials = "wrong username or password";
constexpr const char* bad_token = "invalid or expired token";

rocksdb::Slice slice(std::string_view s) {
  return {s.data(), s.size()};
}

// sodium_init() is idempotent, and the function-local static makes its first call exactly once
// whatever the threads.
bool sodium_ready() {
  static const bool ok = sodium_init() >= 0;
  return ok;
}

caf::error sodium_unavailable() {
  return make_error(storage_errc::io_error, "libsodium could not be initialized");
}

bool name_char(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' ||
         c == '_' || c == '-';
}

// `s` without one leading `@`, when what remains is a user name.
std::optional<std::string_view> user_name(std::string_view s) {
  if (!s.empty() && s.front() == '@') s.remove_prefix(1);
  if (s.empty() || s.size() > max_username_bytes) return std::nullopt;
  if (!std::all_of(s.begin(), s.end(), name_char)) return std::nullopt;
  return s;
}

std::string user_id(std::string_view name) {
  std::string id{"@"};
  id.append(name.data(), name.size());
  return id;
}

caf::error bad_name() {
  return make_error(storage_errc::invalid_argument,
                    "a user name is 1 to 64 of the characters A-Z a-z 0-9 . _ -");
}

caf::error check_password(std::string_view password) {
  if (password.empty()) return make_error(storage_errc::invalid_argument, "empty password");
  if (password.size() > max_password_bytes)
    return make_error(storage_errc::invalid_argument,
                      "password longer than " + std::to_string(max_password_bytes) + " bytes");
  return caf::none;
}

bool ascii_iequal(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    auto x = static_cast<unsigned char>(a[i]), y = static_cast<unsigned char>(b[i]);
    if (x >= 'A' && x <= 'Z') x = static_cast<unsigned char>(x - 'A' + 'a');
    if (y >= 'A' && y <= 'Z') y = static_cast<unsigned char>(y - 'A' + 'a');
    if (x != y) return false;
  }
  return true;
}

// damas-core refuses a user whose `disable` is truthy in JavaScript's sense; so do we, which
// also fails closed for values an admin may write by hand (`1`, `"yes"`).
bool truthy(std::string_view json) {
  if (json == "null" || json == "false" || json == "\"\"") return false;
  if (!json.empty() && (json.front() == '-' || (json.front() >= '0' && json.front() <= '9'))) {
    std::string text{json};
    char* end = nullptr;
    double x = std::strtod(text.c_str(), &end);
    return !(end == text.c_str() + text.size() && x == 0.0);
  }
  return true;
}

caf::expected<user_info> to_user_info(std::string_view id, std::string json) {
  auto fields = parse_stored(json);
  if (!fields)
    return make_error(storage_errc::corruption,
                      "element " + std::string{id} + ": " + render(fields.error()));
  user_info u;
  u.id = std::string{id};
  u.username = u.id.substr(1);
  for (auto& f : *fields) {
    if (f.key == "class") {
      // A missing or unknown class is the weakest, as damas-core's `class || 'guest'`.
      if (auto s = json_unquote(f.value))
        if (auto c = user_class_from_string(*s)) u.cls = *c;
    } else if (f.key == "email") {
      if (auto s = json_unquote(f.value)) u.email = std::move(*s);
    } else if (f.key == "disable") {
      u.disabled = truthy(f.value);
    }
  }
  u.element_json = std::move(json);
  return u;
}

// --- stored records (`users`: id -> credentials; `tokens`: BLAKE2b(token) -> token_record) ---

struct credentials {
  std::string generation;
  std::string hash;  // crypto_pwhash_str's text, `$argon2id$...`
};

std::string encode(const credentials& c) {
  std::string out;
  codec::writer{out}.u8(credentials_format).bytes(c.generation).bytes(c.hash);
  return out;
}

std::optional<credentials> decode_credentials(std::string_view in) {
  codec::reader r{in};
  uint8_t format = 0;
  credentials c;
  r.u8(format).bytes(c.generation).bytes(c.hash);
  if (!r.ok() || !r.at_end() || format != credentials_format ||
      c.generation.size() != generation_bytes || c.hash.size() >= crypto_pwhash_STRBYTES ||
      c.hash.find('\0') != std::string::npos)
    return std::nullopt;
  return c;
}

struct token_record {
  std::string user;
  std::string generation;
  int64_t issued_ms = 0;
  int64_t expires_ms = 0;
};

std::string encode(const token_record& t) {
  std::string out;
  codec::writer{out}
      .u8(token_format)
      .bytes(t.user)
      .bytes(t.generation)
      .svarint(t.issued_ms)
      .svarint(t.expires_ms);
  return out;
}

std::optional<token_record> decode_token(std::string_view in) {
  codec::reader r{in};
  uint8_t format = 0;
  token_record t;
  r.u8(format).bytes(t.user).bytes(t.generation).svarint(t.issued_ms).svarint(t.expires_ms);
  if (!r.ok() || !r.at_end() || format != token_format) return std::nullopt;
  return t;
}

caf::error corrupt(column c, std::string_view what) {
  return make_error(storage_errc::corruption,
                    std::string{"unreadable record in "} + to_string(c) + ": " + std::string{what});
}

std::string random_generation() {
  std::string g(generation_bytes, '\0');
  randombytes_buf(g.data(), g.size());
  return g;
}

// The lookup key of a token: its BLAKE2b-256. Lookups compare hashes of the secret, never the
// secret, so the database's key comparisons leak nothing usable about a token being guessed.
std::string token_key(std::string_view token) {
  std::string key(crypto_generichash_BYTES, '\0');
  crypto_generichash(reinterpret_cast<unsigned char*>(key.data()), key.size(),
                     reinterpret_cast<const unsigned char*>(token.data()), token.size(), nullptr,
                     0);
  return key;
}

bool well_formed_token(std::string_view t) {
  return t.size() == token_text_bytes && std::all_of(t.begin(), t.end(), [](char c) {
           return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                  c == '-' || c == '_';
         });
}

caf::expected<std::optional<std::string>> get_value(const database& db, column c,
                                                    std::string_view key) {
  auto& r = db.internals();
  std::string value;
  auto st = r.db->Get(rocksdb::ReadOptions{}, r.cf(c), slice(key), &value);
  if (st.IsNotFound()) return std::optional<std::string>{};
  if (!st.ok()) return to_error(st, std::string{"read "} + to_string(c));
  return std::optional<std::string>{std::move(value)};
}

caf::expected<std::optional<credentials>> get_credentials(const database& db, std::string_view id) {
  auto value = get_value(db, column::users, id);
  if (!value) return std::move(value.error());
  if (!*value) return std::optional<credentials>{};
  auto c = decode_credentials(**value);
  if (!c) return corrupt(column::users, id);
  return std::optional<credentials>{std::move(*c)};
}

// Calls `visit(key, value)` for every record of column family `c`, from one snapshot.
caf::error scan_column(const database& db, column c,
                       const std::function<caf::error(std::string_view, std::string_view)>& visit) {
  auto& r = db.internals();
  std::unique_ptr<rocksdb::Iterator> it{r.db->NewIterator(rocksdb::ReadOptions{}, r.cf(c))};
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    if (auto err =
            visit({it->key().data(), it->key().size()}, {it->value().data(), it->value().size()}))
      return err;
  }
  return to_error(it->status(), std::string{"scan "} + to_string(c));
}

// Stages the deletion of every token of user `id` into `batch`.
caf::error stage_revoke_all(const database& db, std::string_view id, write_batch& batch) {
  return scan_column(db, column::tokens, [&](std::string_view key, std::string_view value) {
    auto t = decode_token(value);
    if (!t) return corrupt(column::tokens, "token record");
    if (t->user == id) batch.erase(column::tokens, key);
    return caf::error{};
  });
}

}  // namespace

struct user_store::impl {
  unsigned long long opslimit = crypto_pwhash_argon2id_OPSLIMIT_INTERACTIVE;
  size_t memlimit = crypto_pwhash_argon2id_MEMLIMIT_INTERACTIVE;
  bool sodium_ok = false;
  // What an unknown user's password is checked against. Empty if it could not be made, in which
  // case authenticate hashes the password instead (the same work).
  std::string stand_in_hash;
  // Serializes the writers of the `users` column family (create_user, set_password, purge's
  // sweep of deleted users), so that a sweep never removes a hash being written.
  std::mutex users_mtx;

  std::mutex slots_mtx;
  std::condition_variable slots_cv;
  size_t free_slots = 1;

  // One hash slot for the guard's life.
  struct slot {
    explicit slot(impl& s) : self(s) {
      std::unique_lock<std::mutex> lock{self.slots_mtx};
      self.slots_cv.wait(lock, [&] { return self.free_slots > 0; });
      --self.free_slots;
    }
    ~slot() {
      {
        std::lock_guard<std::mutex> lock{self.slots_mtx};
        ++self.free_slots;
      }
      self.slots_cv.notify_one();
    }
    slot(const slot&) = delete;
    slot& operator=(const slot&) = delete;
    impl& self;
  };

  caf::expected<std::string> hash(std::string_view password) {
    char out[crypto_pwhash_STRBYTES];
    int rc;
    {
      slot s{*this};
      rc = crypto_pwhash_str_alg(out, password.data(), password.size(), opslimit, memlimit,
                                 crypto_pwhash_ALG_ARGON2ID13);
    }
    if (rc != 0) return make_error(storage_errc::busy, "not enough memory to hash a password");
    return std::string{out};
  }

  bool verify(const std::string& stored, std::string_view password) {
    slot s{*this};
    return crypto_pwhash_str_verify(stored.c_str(), password.data(), password.size()) == 0;
  }

  // The work of checking a password, for a user that has none to check.
  void verify_stand_in(std::string_view password) {
    if (!stand_in_hash.empty()) {
      static_cast<void>(verify(stand_in_hash, password));
      return;
    }
    static_cast<void>(hash(password));
  }
};

user_store::user_store(database& db, element_store& elements, const user_store_options& opts)
    : db_(db), elements_(elements), impl_(std::make_unique<impl>()) {
  impl_->sodium_ok = sodium_ready();
  if (opts.pwhash_opslimit != 0)
    impl_->opslimit =
        std::clamp<unsigned long long>(opts.pwhash_opslimit, crypto_pwhash_argon2id_opslimit_min(),
                                       crypto_pwhash_argon2id_opslimit_max());
  if (opts.pwhash_memlimit != 0)
    impl_->memlimit =
        std::clamp<size_t>(opts.pwhash_memlimit, crypto_pwhash_argon2id_memlimit_min(),
                           crypto_pwhash_argon2id_memlimit_max());
  impl_->free_slots = opts.max_concurrent_hashes != 0
                          ? opts.max_concurrent_hashes
                          : std::max<size_t>(1, std::thread::hardware_concurrency());
  if (!impl_->sodium_ok) return;
  // A random password nobody knows, hashed at the store's cost: verifying against it costs what
  // verifying a real user's password costs.
  unsigned char secret[32];
  randombytes_buf(secret, sizeof secret);
  auto stand_in = impl_->hash({reinterpret_cast<const char*>(secret), sizeof secret});
  sodium_memzero(secret, sizeof secret);
  if (stand_in) impl_->stand_in_hash = std::move(*stand_in);
}

user_store::~user_store() = default;

caf::expected<user_info> user_store::create_user(std::string_view username,
                                                 std::string_view password, user_class cls,
                                                 std::string_view extra_json) {
  if (!impl_->sodium_ok) return sodium_unavailable();
  auto name = user_name(username);
  if (!name) return bad_name();
  if (auto err = check_password(password)) return err;
  element_input in;
  in.ids.push_back(user_id(*name));
  // `username` too, as damas-core's clients read and search it.
  in.fields.push_back({"username", json_quote(*name)});
  in.fields.push_back({"class", json_quote(to_string(cls))});
  std::optional<std::string> email;
  auto first = extra_json.find_first_not_of(" \t\r\n");
  if (first != std::string_view::npos) {
    if (extra_json[first] != '{')
      return make_error(storage_errc::invalid_argument,
                        "a user's extra keys must be a JSON object");
    auto parsed = parse_elements(extra_json, id_policy::optional);
    if (!parsed) return std::move(parsed.error());
    if (parsed->size() != 1)
      return make_error(storage_errc::invalid_argument,
                        "a user's extra keys must be a JSON object");
    auto& extra = parsed->front();
    if (!extra.ids.empty())
      return make_error(storage_errc::invalid_argument,
                        "extra keys may not hold _id: it comes from the user name");
    for (auto& f : extra.fields) {
      if (f.key == "password" || f.key == "class" || f.key == "username")
        return make_error(storage_errc::invalid_argument,
                          "extra keys may not hold `" + f.key + "`: it comes from the arguments");
      if (f.is_null()) continue;
      if (f.key == "email") {
        email = json_unquote(f.value);
        if (!email) return make_error(storage_errc::invalid_argument, "email must be a string");
      }
      in.fields.push_back(f);
    }
  }
  auto hashed = impl_->hash(password);
  if (!hashed) return std::move(hashed.error());
  auto record = encode(credentials{random_generation(), std::move(*hashed)});
  write_context ctx;
  // The store does not know who asks for the user; the user is the author of its own element.
  ctx.author = in.ids.front();
  std::vector<element_input> inputs{std::move(in)};
  std::lock_guard<std::mutex> lock{impl_->users_mtx};
  auto out = elements_.create_staged(
      inputs, ctx,
      [&](const std::vector<element_outcome>& outcomes, write_batch& batch) -> caf::error {
        if (outcomes.size() != 1 || outcomes.front().result != element_result::created)
          return caf::none;
        if (email) {
          // Sign-in by email needs one user per address; admins editing `email` later can
          // still make two alike, and such an address then signs nobody in.
          bool taken = false;
          auto err = elements_.scan("@", [&](std::string_view id, std::string_view json) {
            if (!user_name(id)) return true;
            auto fields = parse_stored(json);
            if (!fields) return true;
            for (auto& f : *fields)
              if (f.key == "email")
                if (auto other = json_unquote(f.value); other && ascii_iequal(*other, *email))
                  taken = true;
            return !taken;
          });
          if (err) return err;
          if (taken)
            return make_error(storage_errc::already_exists,
                              "email " + *email + " is used by another user");
        }
        batch.put(column::users, outcomes.front().id, record);
        batch.sync_on_write();
        return caf::none;
      });
  sodium_memzero(record.data(), record.size());
  if (!out) return std::move(out.error());
  if (out->size() != 1)
    return make_error(storage_errc::corruption,
                      "create of one user gave another count of outcomes");
  auto& o = out->front();
  if (o.result == element_result::exists)
    return make_error(storage_errc::already_exists, "user " + o.id + " exists");
  if (o.result != element_result::created)
    return make_error(storage_errc::invalid_argument, "user " + o.id + ": " + to_string(o.result));
  return to_user_info(o.id, std::move(o.json));
}

caf::error user_store::set_password(std::string_view username, std::string_view password) {
  if (!impl_->sodium_ok) return sodium_unavailable();
  auto name = user_name(username);
  if (!name) return bad_name();
  if (auto err = check_password(password)) return err;
  auto id = user_id(*name);
  auto hashed = impl_->hash(password);
  if (!hashed) return std::move(hashed.error());
  auto record = encode(credentials{random_generation(), std::move(*hashed)});
  std::lock_guard<std::mutex> lock{impl_->users_mtx};
  auto element = elements_.get(id);
  if (!element) return std::move(element.error());
  if (!*element) return make_error(storage_errc::not_found, "no user " + id);
  write_batch batch{db_};
  batch.put(column::users, id, record);
  sodium_memzero(record.data(), record.size());
  if (auto err = stage_revoke_all(db_, id, batch)) return err;
  batch.sync_on_write();
  return db_.write(batch);
}

caf::expected<std::vector<element_outcome>> user_store::remove_elements(
    const std::vector<std::string>& ids, const write_context& ctx) {
  bool users = std::any_of(ids.begin(), ids.end(), [](const std::string& id) {
    return !id.empty() && id.front() == '@' && user_name(id);
  });
  if (!users) return elements_.remove(ids, ctx);
  std::lock_guard<std::mutex> lock{impl_->users_mtx};
  return elements_.remove_staged(
      ids, ctx,
      [&](const std::vector<element_outcome>& outcomes, write_batch& batch) -> caf::error {
        std::set<std::string, std::less<>> gone;
        for (auto& o : outcomes)
          if (o.result == element_result::deleted && !o.id.empty() && o.id.front() == '@' &&
              user_name(o.id))
            gone.insert(o.id);
        if (gone.empty()) return caf::none;
        // The hash goes now, not at the next purge: a user made again under the name in
        // between must not sign in with the old password.
        for (auto& id : gone) batch.erase(column::users, id);
        auto err = scan_column(db_, column::tokens, [&](std::string_view key, std::string_view value) {
          auto t = decode_token(value);
          if (!t) return corrupt(column::tokens, "token record");
          if (gone.count(t->user) != 0) batch.erase(column::tokens, key);
          return caf::error{};
        });
        if (err) return err;
        batch.sync_on_write();
        return caf::none;
      });
}

caf::error user_store::sync() {
  return db_.sync_wal();
}

caf::expected<bool> user_store::has_admin() const {
  bool found = false;
  caf::error bad;
  auto err = elements_.scan("@", [&](std::string_view id, std::string_view json) {
    auto u = to_user_info(id, std::string{json});
    if (!u) {
      bad = std::move(u.error());
      return false;
    }
    // Disabled admins count: callers use this to decide whether anyone may set up a first
    // admin, and answering "none" when one exists would open that door.
    found = u->cls == user_class::admin;
    return !found;
  });
  if (err) return err;
  if (bad) return bad;
  return found;
}

caf::expected<user_info> user_store::authenticate(std::string_view username_or_email,
                                                  std::string_view password) const {
  if (!impl_->sodium_ok) return sodium_unavailable();
  // Refused before any lookup, so this answer says nothing about which users exist.
  if (password.empty() || password.size() > max_password_bytes)
    return make_error(storage_errc::not_found, wrong_credentials);
  std::optional<std::string> id;
  if (username_or_email.find('@', 1) != std::string_view::npos) {
    // Users are few: a scan of the `@` range sees every change of `email` made through the
    // generic element API at once, which an index would have to be kept in step with. The scan
    // runs to the end, so its time does not depend on where (or whether) the address is found.
    size_t matches = 0;
    caf::error bad;
    auto err = elements_.scan("@", [&](std::string_view key, std::string_view json) {
      if (!user_name(key)) return true;
      auto fields = parse_stored(json);
      if (!fields) {
        bad = make_error(storage_errc::corruption,
                         "element " + std::string{key} + ": " + render(fields.error()));
        return false;
      }
      for (auto& f : *fields) {
        if (f.key != "email") continue;
        if (auto e = json_unquote(f.value); e && ascii_iequal(*e, username_or_email)) {
          ++matches;
          id = std::string{key};
        }
      }
      return true;
    });
    if (err) return err;
    if (bad) return bad;
    // An address that two users share names neither.
    if (matches != 1) id.reset();
  } else if (auto name = user_name(username_or_email)) {
    id = user_id(*name);
  }
  std::optional<user_info> user;
  std::optional<credentials> cred;
  if (id) {
    auto element = elements_.get(*id);
    if (!element) return std::move(element.error());
    if (*element) {
      auto u = to_user_info(*id, std::move(**element));
      if (!u) return std::move(u.error());
      user = std::move(*u);
      auto c = get_credentials(db_, *id);
      if (!c) return std::move(c.error());
      cred = std::move(*c);
    }
  }
  if (!user || !cred) {
    impl_->verify_stand_in(password);
    return make_error(storage_errc::not_found, wrong_credentials);
  }
  if (!impl_->verify(cred->hash, password))
    return make_error(storage_errc::not_found, wrong_credentials);
  // Only after the password: who does not know it does not learn that the user is disabled.
  if (user->disabled) return make_error(storage_errc::invalid_argument, "user disabled");
  return std::move(*user);
}

caf::expected<user_info> user_store::find(std::string_view username) const {
  auto name = user_name(username);
  if (!name) return make_error(storage_errc::not_found, "no such user");
  auto id = user_id(*name);
  auto element = elements_.get(id);
  if (!element) return std::move(element.error());
  if (!*element) return make_error(storage_errc::not_found, "no user " + id);
  return to_user_info(id, std::move(**element));
}

caf::expected<issued_token> user_store::issue_token(std::string_view username, int64_t ttl_ms,
                                                    int64_t now_ms) {
  if (!impl_->sodium_ok) return sodium_unavailable();
  if (ttl_ms <= 0)
    return make_error(storage_errc::invalid_argument, "a token's lifetime must be positive");
  auto user = find(username);
  if (!user) return std::move(user.error());
  if (user->disabled) return make_error(storage_errc::invalid_argument, "user disabled");
  auto cred = get_credentials(db_, user->id);
  if (!cred) return std::move(cred.error());
  if (!*cred) return make_error(storage_errc::not_found, "user " + user->id + " has no password");
  token_record rec;
  rec.user = user->id;
  rec.generation = std::move((*cred)->generation);
  rec.issued_ms = now_ms;
  rec.expires_ms = ttl_ms > std::numeric_limits<int64_t>::max() - now_ms
                       ? std::numeric_limits<int64_t>::max()
                       : now_ms + ttl_ms;
  unsigned char raw[token_bytes];
  randombytes_buf(raw, sizeof raw);
  char text[sodium_base64_ENCODED_LEN(token_bytes, sodium_base64_VARIANT_URLSAFE_NO_PADDING)];
  sodium_bin2base64(text, sizeof text, raw, sizeof raw, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
  sodium_memzero(raw, sizeof raw);
  issued_token out;
  out.token.assign(text, token_text_bytes);
  sodium_memzero(text, sizeof text);
  out.expires_ms = rec.expires_ms;
  write_batch batch{db_};
  batch.put(column::tokens, token_key(out.token), encode(rec));
  batch.sync_on_write();
  if (auto err = db_.write(batch)) return err;
  return out;
}

caf::expected<user_info> user_store::verify_token(std::string_view token, int64_t now_ms) const {
  if (!impl_->sodium_ok) return sodium_unavailable();
  auto invalid = [] { return make_error(storage_errc::not_found, bad_token); };
  if (!well_formed_token(token)) return invalid();
  auto value = get_value(db_, column::tokens, token_key(token));
  if (!value) return std::move(value.error());
  if (!*value) return invalid();
  auto rec = decode_token(**value);
  if (!rec) return corrupt(column::tokens, "token record");
  if (now_ms >= rec->expires_ms) return invalid();
  auto cred = get_credentials(db_, rec->user);
  if (!cred) return std::move(cred.error());
  if (!*cred || rec->generation.size() != generation_bytes ||
      sodium_memcmp((*cred)->generation.data(), rec->generation.data(), generation_bytes) != 0)
    return invalid();
  auto element = elements_.get(rec->user);
  if (!element) return std::move(element.error());
  if (!*element) return invalid();
  auto user = to_user_info(rec->user, std::move(**element));
  if (!user) return std::move(user.error());
  if (user->disabled) return invalid();
  user->token_expires_ms = rec->expires_ms;
  return user;
}

caf::error user_store::revoke_token(std::string_view token) {
  if (!impl_->sodium_ok) return sodium_unavailable();
  if (!well_formed_token(token)) return caf::none;  // never issued, so nothing to revoke
  write_batch batch{db_};
  batch.erase(column::tokens, token_key(token));
  batch.sync_on_write();
  return db_.write(batch);
}

caf::error user_store::revoke_all(std::string_view username) {
  auto name = user_name(username);
  if (!name) return bad_name();
  write_batch batch{db_};
  if (auto err = stage_revoke_all(db_, user_id(*name), batch)) return err;
  if (batch.empty()) return caf::none;
  batch.sync_on_write();
  return db_.write(batch);
}

caf::expected<uint64_t> user_store::purge_expired(int64_t now_ms) {
  std::lock_guard<std::mutex> lock{impl_->users_mtx};
  write_batch batch{db_};
  // The generation of every user whose element still exists. A hash whose element is gone (an
  // admin deleted the user through the generic element API) is deleted, so that an element
  // made later under the same name does not take over the old password.
  std::map<std::string, std::string, std::less<>> generations;
  auto err = scan_column(db_, column::users, [&](std::string_view id, std::string_view value) {
    auto c = decode_credentials(value);
    if (!c) return corrupt(column::users, id);
    auto element = elements_.get(id);
    if (!element) return std::move(element.error());
    if (*element)
      generations.emplace(std::string{id}, std::move(c->generation));
    else
      batch.erase(column::users, id);
    return caf::error{};
  });
  if (err) return err;
  uint64_t purged = 0;
  err = scan_column(db_, column::tokens, [&](std::string_view key, std::string_view value) {
    auto t = decode_token(value);
    if (!t) return corrupt(column::tokens, "token record");
    auto g = generations.find(t->user);
    bool dead = now_ms >= t->expires_ms || g == generations.end() ||
                t->generation.size() != generation_bytes ||
                sodium_memcmp(g->second.data(), t->generation.data(), generation_bytes) != 0;
    if (dead) {
      batch.erase(column::tokens, key);
      ++purged;
    }
    return caf::error{};
  });
  if (err) return err;
  if (batch.empty()) return purged;
  batch.sync_on_write();
  if (auto werr = db_.write(batch)) return werr;
  return purged;
}

}  // namespace syncline::storage
