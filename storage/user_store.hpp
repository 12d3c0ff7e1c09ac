// storage/user_store.hpp: users, passwords and tokens.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include <caf/error.hpp>
#include <caf/expected.hpp>

#include "storage/element_store.hpp"

namespace syncline::storage {

class database;

/// User classes, weakest first: each can do what the ones before it can.
enum class user_class : uint8_t { guest, user, editor, admin };

/// `"guest"`, `"user"`, `"editor"`, `"admin"`.
const char* to_string(user_class c) noexcept;
std::optional<user_class> user_class_from_string(std::string_view s) noexcept;

/// What authentication yields.
struct user_info {
  /// The element id, `@name` (damas-core's `username` is `name` without the `@`).
  std::string id;
  std::string username;
  user_class cls = user_class::guest;
  std::string email;
  bool disabled = false;
  /// The user's element as stored (JSON; never holds a password).
  std::string element_json;
  /// When the token it was found by expires (epoch ms), for `verify_token`; 0 otherwise.
  int64_t token_expires_ms = 0;
};

/// A token handed out at sign-in. The token text is only ever returned here; the database keeps
/// a hash of it.
struct issued_token {
  std::string token;
  int64_t expires_ms = 0;
};

/// How costly the password hashes a store makes are.
struct user_store_options {
  /// argon2id passes and memory in bytes for new hashes; 0 takes libsodium's INTERACTIVE limits
  /// (`crypto_pwhash_OPSLIMIT_INTERACTIVE`, `crypto_pwhash_MEMLIMIT_INTERACTIVE`: 2 passes over
  /// 64 MiB). Values outside libsodium's bounds are clamped to them. A stored hash is always
  /// verified with the cost it was made with.
  uint64_t pwhash_opslimit = 0;
  size_t pwhash_memlimit = 0;
  /// At most this many hashes are computed at once (each holds `pwhash_memlimit` bytes); more
  /// callers wait, so a flood of sign-ins cannot exhaust memory. 0: the hardware threads.
  size_t max_concurrent_hashes = 0;

  /// libsodium's minimum cost (1 pass over 8 KiB): fast and weak, for tests only.
  static user_store_options minimum_cost() noexcept;
};

/// Users are elements `@name` (seed 003) with keys `class`, `email`, `fullname`, `disable`...;
/// their password hashes (argon2id, libsodium's `crypto_pwhash_str`) live in the `users`
/// column family and never in the element, so no read or search can return them. Tokens are
/// 32 random bytes (base64url), stored as their BLAKE2b hash with user and expiry in the
/// `tokens` column family; revoking deletes the hash. Every write of users, passwords and
/// tokens is fsynced before it returns (`write_batch::sync_on_write`), so a power cut cannot
/// roll back a revocation or a password change. Thread-safe.
class user_store {
 public:
  /// Computes one hash (the stand-in that unknown users are verified against, so they take
  /// as long as known ones). The database and the element store must outlive the store.
  user_store(database& db, element_store& elements, const user_store_options& opts = {});
  ~user_store();
  user_store(const user_store&) = delete;
  user_store& operator=(const user_store&) = delete;

  /// Creates user `@username` with a password and a class (and extra keys, a JSON object, may
  /// be empty). `already_exists` if the element exists; `invalid_argument` for an empty
  /// password or a username outside `[A-Za-z0-9._-]{1,64}`. Element and hash are one write.
  /// `username` may start with `@` (as in every method here). The element gets `username`
  /// (damas-core's clients read it), `class`, the extra keys (null ones dropped), `author` (the
  /// user itself) and `time`. `invalid_argument` for a password over 4096 bytes, extra keys
  /// that are not an object or hold `_id`, `password`, `class` or `username`, or an `email`
  /// that is not a string; `already_exists` for an email (compared ignoring ASCII case) that
  /// another user has. Hashing takes the options' cost and happens before any lock is taken.
  [[nodiscard]] caf::expected<user_info> create_user(std::string_view username,
                                                     std::string_view password, user_class cls,
                                                     std::string_view extra_json = {});

  /// Replaces a user's password (and revokes every token of the user, in the same write).
  /// `not_found` if the element `@username` does not exist; password rules as `create_user`.
  [[nodiscard]] caf::error set_password(std::string_view username, std::string_view password);

  /// Deletes elements as `element_store::remove` does. For each user element `@name` deleted,
  /// its password hash and every token of the user go in the same atomic, fsynced write: a user
  /// made again under that name never signs in with the old password, and no old token
  /// verifies. Serialized with the other writers of users.
  [[nodiscard]] caf::expected<std::vector<element_outcome>> remove_elements(
      const std::vector<std::string>& ids, const write_context& ctx);

  /// Makes every write so far survive a power cut (one fsync of the log). For user elements
  /// changed through the element store (`class`, `disable`): the caller syncs after them.
  [[nodiscard]] caf::error sync();

  /// Whether any element `@...` has class admin, disabled or not (safe for "may someone set up
  /// a first admin?").
  [[nodiscard]] caf::expected<bool> has_admin() const;

  /// The user named by `username` (with or without a leading `@`), or by `email` when the text
  /// holds an `@` after its first character; checks the password. An unknown user and a wrong
  /// password fail alike (`not_found`, "wrong username or password"), so the answer does not
  /// tell which names exist; a disabled user fails with `invalid_argument` "user disabled"
  /// (only when the password is right). An email matches ignoring ASCII case, and one that
  /// several users share matches nobody. A user element without a password hash (made through
  /// the generic element API) cannot sign in. Both failures cost one argon2id verification.
  [[nodiscard]] caf::expected<user_info> authenticate(std::string_view username_or_email,
                                                      std::string_view password) const;

  /// The user as stored now; `not_found`.
  [[nodiscard]] caf::expected<user_info> find(std::string_view username) const;

  /// Issues a token for `username`, valid for `ttl_ms` (> 0, else `invalid_argument`) from
  /// `now_ms`; the expiry saturates at INT64_MAX, which callers may use for "never". `not_found`
  /// for an unknown user or one without a password, `invalid_argument` for a disabled one.
  /// Tokens are 43 characters of base64url (32 random bytes).
  [[nodiscard]] caf::expected<issued_token> issue_token(std::string_view username, int64_t ttl_ms,
                                                        int64_t now_ms);

  /// The user a token belongs to, if it exists, has not expired at `now_ms`, and its user still
  /// exists and is not disabled; `not_found` otherwise (one message for all, naming nothing).
  /// The answer's `token_expires_ms` is the token's expiry.
  /// A token also dies when its user's password is set again or the user is created again.
  /// Expired means `now_ms >= expires_ms`.
  [[nodiscard]] caf::expected<user_info> verify_token(std::string_view token, int64_t now_ms) const;

  /// Revokes one token (absent or malformed is fine) / every token of a user (any user name
  /// that is well formed, existing or not; others get `invalid_argument`).
  [[nodiscard]] caf::error revoke_token(std::string_view token);
  [[nodiscard]] caf::error revoke_all(std::string_view username);

  /// Deletes expired tokens, and tokens that can no longer verify (their user's password was
  /// set again, or the user is gone); returns how many. Also deletes the password hash of every
  /// user whose element is gone (deleted through the generic element API), so that an element
  /// made later under that name does not inherit the old password.
  [[nodiscard]] caf::expected<uint64_t> purge_expired(int64_t now_ms);

 private:
  struct impl;

  database& db_;
  element_store& elements_;
  std::unique_ptr<impl> impl_;
};

}  // namespace syncline::storage
