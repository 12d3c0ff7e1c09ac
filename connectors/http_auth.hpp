// connectors/http_auth.hpp: the credentials of an http datasource: read from the node's wallet,
// turned into request headers, and an OAuth2 access token refreshed before it expires and once
// after a 401 (docs/http-datasources.md, "Credentials").
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <caf/error.hpp>
#include <caf/expected.hpp>

namespace syncline::connectors {

/// How an http datasource proves who it is (its `auth` setting), and what the credentials
/// stored for it (a JSON object, seed 000's wallet) must hold:
/// - `bearer`: `{"token": "..."}`, sent as `Authorization: Bearer ...`;
/// - `basic`: `{"user": "...", "password": "..."}`;
/// - `header`: every member is a request header (`{"X-Api-Key": "..."}`, or seed 000's
///   `{"Authorization": "Bearer ...", "X-Auth-Secret": "..."}`);
/// - `oauth2`: `{"client_id", "client_secret" (optional), "refresh_token"}` and, once
///   refreshed, `access_token` and `expires_at` (seconds since the epoch) kept beside them.
enum class http_auth : uint8_t { none, bearer, basic, header, oauth2 };

/// The words of `http_auth` (`none`, `bearer`, `basic`, `header`, `oauth2`).
const char* to_string(http_auth a) noexcept;
bool http_auth_from_string(std::string_view s, http_auth& out) noexcept;

/// What `json` lacks to serve as credentials for `kind`, naming a key, never a value (secrets
/// stay out of messages); "" when nothing.
std::string credentials_problem(http_auth kind, std::string_view json);

/// Where a datasource's credentials are kept (the node's encrypted wallet). Thread-safe.
class credential_wallet {
 public:
  virtual ~credential_wallet() = default;
  /// The stored credentials (a JSON object), nothing when none are stored.
  [[nodiscard]] virtual caf::expected<std::optional<std::string>> load() = 0;
  /// Stores `now` in place of `before`; false, and nothing written, when what is stored is no
  /// longer `before` (a person stored new credentials meanwhile: theirs win).
  [[nodiscard]] virtual caf::expected<bool> replace(const std::string& before, const std::string& now) = 0;
};

namespace detail {

/// The request headers of a datasource's credentials, kept fresh. Thread-safe: one refresh at
/// a time, and the requests that were refused together cause one refresh, not one each.
class authenticator {
 public:
  struct options {
    http_auth kind = http_auth::none;
    std::string token_url;  ///< oauth2: the token endpoint (RFC 6749 section 6)
    std::shared_ptr<credential_wallet> wallet;
    std::string ca_file;
    long timeout_s = 30;
    std::shared_ptr<std::atomic<bool>> cancel;
    /// An access token expiring within this is refreshed before it is used.
    int64_t margin_s = 60;
  };
  explicit authenticator(options o);

  /// What a request carries: header lines, and the generation they belong to.
  struct pass {
    std::vector<std::string> headers;
    uint64_t generation = 0;
  };
  /// The headers a request carries now: the wallet is read when it has not been yet (or since
  /// `reload`), and an OAuth2 access token that is missing or about to expire is refreshed
  /// first. `permission_denied` when no credentials are stored or the refresh is refused,
  /// `network` when the token endpoint cannot be reached, `bad_config` when the stored ones
  /// lack a key.
  [[nodiscard]] caf::expected<pass> current();
  /// The credentials of `generation` were refused (401). OAuth2 refreshes the access token
  /// (unless another request already did since); the others read the wallet again. True when
  /// asking again is worth it (different credentials now), false when nothing changed.
  [[nodiscard]] caf::expected<bool> refused(uint64_t generation);
  /// Forgets what was read: the next request reads the wallet again (each listing starts so,
  /// and so picks up credentials stored meanwhile).
  void reload();
  /// Access tokens refreshed since start.
  uint64_t refreshes() const noexcept { return refreshes_.load(); }

 private:
  caf::error read_wallet();    // mtx_ held
  caf::error refresh_token();  // mtx_ held
  caf::error use(std::string json);  // mtx_ held: `json` becomes what is sent

  options opt_;
  std::mutex mtx_;
  bool read_ = false;
  std::string stored_;  // the wallet's JSON as last read or written
  std::vector<std::string> headers_;
  uint64_t generation_ = 0;
  int64_t expires_at_ = 0;  // oauth2: seconds since the epoch, 0 when unknown
  bool has_access_ = false;
  std::atomic<uint64_t> refreshes_{0};
};

/// Runs `attempt(headers)` (one request carrying the credential headers, returning its error;
/// `status` is the status it read) with the credentials of `auth` (may be null: no headers).
/// A 401 is told to `auth`, and the request is made once more when the credentials changed.
template <class Attempt>
caf::error authorized(authenticator* auth, const long& status, Attempt attempt) {
  if (auth == nullptr) return attempt(std::vector<std::string>{});
  auto pass = auth->current();
  if (!pass) return std::move(pass.error());
  auto err = attempt(pass->headers);
  if (!err || status != 401) return err;
  auto again = auth->refused(pass->generation);
  if (!again) return std::move(again.error());
  if (!*again) return err;
  pass = auth->current();
  if (!pass) return std::move(pass.error());
  return attempt(pass->headers);
}

}  // namespace detail
}  // namespace syncline::connectors
