// storage/credential_store.hpp: datasource credentials, encrypted at rest.
#pragma once

#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include <caf/error.hpp>
#include <caf/expected.hpp>

namespace syncline::storage {

class database;

/// Secrets of datasources (service tokens, passwords: seed 000's "wallet"), kept in the `meta`
/// column family under `credentials/<datasource>` and encrypted with libsodium's secretbox
/// (XSalsa20-Poly1305, a fresh random nonce per write). The 32-byte key lives in the file
/// `<data_dir>/credentials.key`, created on first open with mode 0600; the database alone
/// (files, backups, the write-ahead log) never holds a secret in plaintext. Losing the key file
/// makes the stored credentials unreadable (`get` fails with `corruption`), not the database.
/// Each value is bound to its datasource id, so a value copied under another id does not
/// decrypt. Thread-safe.
class credential_store {
 public:
  /// Reads the key file, or creates it (0600) when absent. `io_error` when it cannot be read or
  /// made, `corruption` when it is not 32 bytes. Logs nothing; the caller warns if it wants to.
  [[nodiscard]] static caf::expected<std::unique_ptr<credential_store>> open(database& db);
  ~credential_store();

  /// Encrypts and stores `secret` for `datasource`, replacing what was there.
  [[nodiscard]] caf::error put(std::string_view datasource, std::string_view secret);
  /// Stores `secret` in place of `before`; false, and nothing written, when what is stored is
  /// not `before` any more (a refreshed token does not overwrite credentials a person stored
  /// meanwhile). Atomic with `put` and `erase`.
  [[nodiscard]] caf::expected<bool> replace(std::string_view datasource, std::string_view before,
                                            std::string_view secret);
  /// The decrypted secret, or nothing when none is stored.
  [[nodiscard]] caf::expected<std::optional<std::string>> get(std::string_view datasource) const;
  /// Whether a secret is stored (without decrypting it).
  [[nodiscard]] caf::expected<bool> has(std::string_view datasource) const;
  /// Removes the secret (absent is fine).
  [[nodiscard]] caf::error erase(std::string_view datasource);

  /// The meta key of a datasource's secret.
  static std::string key_of(std::string_view datasource);

 private:
  credential_store(database& db, std::string key);
  caf::error write(std::string_view datasource, std::string_view secret);  // mtx_ held

  database& db_;
  std::string key_;
  std::mutex mtx_;  // orders writes (put, replace, erase)  // crypto_secretbox_KEYBYTES bytes
};

}  // namespace syncline::storage
