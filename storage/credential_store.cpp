#include "storage/credential_store.hpp"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "storage/database.hpp"
#include "storage/error.hpp"

namespace syncline::storage {

namespace {

constexpr char format_v1 = 1;

caf::error io_failure(const std::string& what, int err) {
  return make_error(storage_errc::io_error, what + ": " + std::strerror(err));
}

bool sodium_ready() {
  static const bool ok = sodium_init() >= 0;
  return ok;
}

// The plaintext binds the value to its datasource: `<id> NUL <secret>`.
std::string bound(std::string_view datasource, std::string_view secret) {
  std::string out{datasource};
  out += '\0';
  out += secret;
  return out;
}

caf::expected<std::string> read_key(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return io_failure("cannot read " + path, errno);
  std::string key(crypto_secretbox_KEYBYTES + 1, '\0');
  ssize_t n = ::read(fd, key.data(), key.size());
  int err = errno;
  ::close(fd);
  if (n < 0) return io_failure("cannot read " + path, err);
  if (static_cast<size_t>(n) != crypto_secretbox_KEYBYTES)
    return make_error(storage_errc::corruption,
                      path + " must hold exactly " + std::to_string(crypto_secretbox_KEYBYTES) +
                          " bytes");
  key.resize(crypto_secretbox_KEYBYTES);
  return key;
}

// Made under a temporary name and linked into place, so a crash never leaves a short key file
// and two openers agree on one key.
caf::expected<std::string> make_key(const std::string& path) {
  std::string key(crypto_secretbox_KEYBYTES, '\0');
  crypto_secretbox_keygen(reinterpret_cast<unsigned char*>(key.data()));
  auto tmp = path + ".tmp";
  ::unlink(tmp.c_str());
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) return io_failure("cannot create " + tmp, errno);
  bool ok = ::write(fd, key.data(), key.size()) == static_cast<ssize_t>(key.size()) &&
            ::fsync(fd) == 0;
  int err = errno;
  ::close(fd);
  if (!ok) {
    ::unlink(tmp.c_str());
    return io_failure("cannot write " + tmp, err);
  }
  int rc = ::link(tmp.c_str(), path.c_str());
  err = errno;
  ::unlink(tmp.c_str());
  if (rc != 0) {
    if (err == EEXIST) return read_key(path);
    return io_failure("cannot create " + path, err);
  }
  return key;
}

}  // namespace

credential_store::credential_store(database& db, std::string key)
    : db_(db), key_(std::move(key)) {}

credential_store::~credential_store() {
  sodium_memzero(key_.data(), key_.size());
}

caf::expected<std::unique_ptr<credential_store>> credential_store::open(database& db) {
  if (!sodium_ready()) return make_error(storage_errc::io_error, "libsodium cannot start");
  auto path = (db.data_dir() / "credentials.key").string();
  struct stat st {};
  caf::expected<std::string> key = std::string{};
  if (::stat(path.c_str(), &st) == 0) {
    if ((st.st_mode & 077) != 0 && ::chmod(path.c_str(), 0600) != 0)
      return io_failure("cannot restrict " + path + " to mode 0600", errno);
    key = read_key(path);
  } else if (errno == ENOENT) {
    key = make_key(path);
  } else {
    return io_failure("cannot stat " + path, errno);
  }
  if (!key) return std::move(key.error());
  return std::unique_ptr<credential_store>(new credential_store(db, std::move(*key)));
}

std::string credential_store::key_of(std::string_view datasource) {
  return "credentials/" + std::string{datasource};
}

caf::error credential_store::put(std::string_view datasource, std::string_view secret) {
  std::lock_guard<std::mutex> g{mtx_};
  return write(datasource, secret);
}

caf::expected<bool> credential_store::replace(std::string_view datasource, std::string_view before,
                                              std::string_view secret) {
  std::lock_guard<std::mutex> g{mtx_};
  auto now = get(datasource);
  if (!now) return std::move(now.error());
  bool same = *now && **now == before;
  if (*now) sodium_memzero((*now)->data(), (*now)->size());
  if (!same) return false;
  if (auto err = write(datasource, secret)) return err;
  return true;
}

caf::error credential_store::write(std::string_view datasource, std::string_view secret) {
  auto plain = bound(datasource, secret);
  std::string value(1 + crypto_secretbox_NONCEBYTES + crypto_secretbox_MACBYTES + plain.size(),
                    '\0');
  value[0] = format_v1;
  auto* nonce = reinterpret_cast<unsigned char*>(value.data() + 1);
  randombytes_buf(nonce, crypto_secretbox_NONCEBYTES);
  crypto_secretbox_easy(nonce + crypto_secretbox_NONCEBYTES,
                        reinterpret_cast<const unsigned char*>(plain.data()), plain.size(), nonce,
                        reinterpret_cast<const unsigned char*>(key_.data()));
  sodium_memzero(plain.data(), plain.size());
  return db_.put_meta(key_of(datasource), value);
}

caf::expected<std::optional<std::string>> credential_store::get(std::string_view datasource) const {
  auto value = db_.get_meta(key_of(datasource));
  if (!value) return std::move(value.error());
  if (!*value) return std::optional<std::string>{};
  auto& v = **value;
  constexpr size_t head = 1 + crypto_secretbox_NONCEBYTES;
  if (v.size() < head + crypto_secretbox_MACBYTES || v[0] != format_v1)
    return make_error(storage_errc::corruption, "stored credentials cannot be decoded");
  std::string plain(v.size() - head - crypto_secretbox_MACBYTES, '\0');
  auto* nonce = reinterpret_cast<const unsigned char*>(v.data() + 1);
  if (crypto_secretbox_open_easy(reinterpret_cast<unsigned char*>(plain.data()),
                                 nonce + crypto_secretbox_NONCEBYTES, v.size() - head, nonce,
                                 reinterpret_cast<const unsigned char*>(key_.data())) != 0)
    return make_error(storage_errc::corruption,
                      "stored credentials do not decrypt with this node's credentials.key");
  auto id_end = plain.find('\0');
  if (id_end == std::string::npos || std::string_view{plain}.substr(0, id_end) != datasource)
    return make_error(storage_errc::corruption, "stored credentials belong to another datasource");
  return std::optional<std::string>{plain.substr(id_end + 1)};
}

caf::expected<bool> credential_store::has(std::string_view datasource) const {
  auto value = db_.get_meta(key_of(datasource));
  if (!value) return std::move(value.error());
  return value->has_value();
}

caf::error credential_store::erase(std::string_view datasource) {
  std::lock_guard<std::mutex> g{mtx_};
  return db_.erase_meta(key_of(datasource));
}

}  // namespace syncline::storage
