// storage/user_store.hpp: users, passwords and tokens.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <caf/error.hpp>
#include <caf/expected.hpp>

namespace syncline::storage {

class database;
class element_store;

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
};

/// A token handed out at sign-in. The token text is only ever returned here; the database keeps
/// a hash of it.
struct issued_token {
  std::string token;
  int64_t expires_ms = 0;
};

/// Users are elements `@name` (seed 003) with keys `class`, `email`, `fullname`, `disable`...;
/// their password hashes (argon2id, libsodium's `crypto_pwhash_str`) live in the `users`
/// column family and never in the element, so no read or search can return them. Tokens are
/// 32 random bytes (base64url), stored as their BLAKE2b hash with user and expiry in the
/// `tokens` column family; revoking deletes the hash. Thread-safe.
class user_store {
 public:
  user_store(database& db, element_store& elements);

  /// Creates user `@username` with a password and a class (and extra keys, a JSON object, may
  /// be empty). `already_exists` if the element exists; `invalid_argument` for an empty
  /// password or a username outside `[A-Za-z0-9._-]{1,64}`. Element and hash are one write.
  [[nodiscard]] caf::expected<user_info> create_user(std::string_view username,
                                                     std::string_view password, user_class cls,
                                                     std::string_view extra_json = {});

  /// Replaces a user's password (and revokes every token of the user).
  [[nodiscard]] caf::error set_password(std::string_view username, std::string_view password);

  /// Whether any user of class admin exists.
  [[nodiscard]] caf::expected<bool> has_admin() const;

  /// The user named by `username` (with or without a leading `@`), or by `email` when the text
  /// holds an `@` after its first character; checks the password. An unknown user and a wrong
  /// password fail alike (`not_found`, "wrong username or password"), so the answer does not
  /// tell which names exist; a disabled user fails with `invalid_argument` "user disabled".
  [[nodiscard]] caf::expected<user_info> authenticate(std::string_view username_or_email,
                                                      std::string_view password) const;

  /// The user as stored now; `not_found`.
  [[nodiscard]] caf::expected<user_info> find(std::string_view username) const;

  /// Issues a token for `username`, valid for `ttl_ms` from `now_ms`.
  [[nodiscard]] caf::expected<issued_token> issue_token(std::string_view username,
                                                        int64_t ttl_ms, int64_t now_ms);

  /// The user a token belongs to, if it exists, has not expired at `now_ms`, and its user still
  /// exists and is not disabled; `not_found` otherwise (one message for all, naming nothing).
  [[nodiscard]] caf::expected<user_info> verify_token(std::string_view token, int64_t now_ms) const;

  /// Revokes one token (absent is fine) / every token of a user.
  [[nodiscard]] caf::error revoke_token(std::string_view token);
  [[nodiscard]] caf::error revoke_all(std::string_view username);

  /// Deletes expired tokens; returns how many.
  [[nodiscard]] caf::expected<uint64_t> purge_expired(int64_t now_ms);

 private:
  database& db_;
  element_store& elements_;
};

}  // namespace syncline::storage
