#include "connectors/null_volume.hpp"

#include <unistd.h>

#include <cerrno>
#include <vector>

#include <xxhash.h>

#include "connectors/error.hpp"

namespace syncline::connectors {

class null_writer final : public item_writer {
 public:
  null_writer(null_volume& owner, std::string reference)
      : owner_(owner), reference_(std::move(reference)), state_(XXH3_createState()) {
    XXH3_64bits_reset(state_);
  }
  ~null_writer() override { XXH3_freeState(state_); }

  uint64_t offset() const noexcept override { return offset_; }

  caf::error write(const char* data, size_t n) override {
    XXH3_64bits_update(state_, data, n);
    offset_ += n;
    return caf::none;
  }

  caf::expected<size_t> copy_from(int fd, size_t n) override {
    // Nothing to copy into: read and drop (hashed, so verification still means something).
    thread_local std::vector<char> buf(1u << 20);
    size_t total = 0;
    while (total < n) {
      auto got = ::read(fd, buf.data(), std::min(buf.size(), n - total));
      if (got < 0) {
        if (errno == EINTR) continue;
        return from_errno(errno, "read for " + reference_);
      }
      if (got == 0) break;
      XXH3_64bits_update(state_, buf.data(), static_cast<size_t>(got));
      total += static_cast<size_t>(got);
    }
    offset_ += total;
    return total;
  }

  caf::error sync() override { return caf::none; }

  caf::error commit(const item_info&) override {
    owner_.committed_.fetch_add(1);
    owner_.bytes_.fetch_add(offset_);
    return caf::none;
  }

  void abort() override {}

  caf::expected<uint64_t> content_hash() override { return XXH3_64bits_digest(state_); }

 private:
  null_volume& owner_;
  std::string reference_;
  XXH3_state_t* state_;
  uint64_t offset_ = 0;
};

namespace {

class empty_listing final : public listing {
 public:
  caf::expected<bool> next(std::vector<item_info>&, size_t) override { return false; }
};

}  // namespace

caf::expected<std::unique_ptr<item_writer>> null_volume::open_writer(const item_info& info,
                                                                     uint64_t) {
  return std::unique_ptr<item_writer>{new null_writer{*this, info.reference}};
}

caf::expected<std::unique_ptr<listing>> null_volume::list() {
  return std::unique_ptr<listing>{new empty_listing};
}

caf::expected<std::unique_ptr<item_reader>> null_volume::open_reader(std::string_view reference,
                                                                     uint64_t) {
  return make_error(connector_errc::not_found,
                    "the null volume keeps nothing: " + std::string{reference});
}

}  // namespace syncline::connectors
