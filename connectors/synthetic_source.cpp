#include "connectors/synthetic_source.hpp"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>
#include <optional>

#include <xxhash.h>

#include "connectors/error.hpp"

namespace syncline::connectors {

namespace {

// splitmix64's finalizer: cheap, and every input bit moves every output bit.
constexpr uint64_t mix(uint64_t x) noexcept {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

// Independent draws for independent purposes: one salt each.
enum class salt : uint64_t { change = 1, size, mtime, content, directory_mtime };

constexpr uint64_t draw(uint64_t seed, salt s, uint64_t a, uint64_t b) noexcept {
  return mix(mix(mix(seed ^ (static_cast<uint64_t>(s) << 56)) ^ a) ^ b);
}

// Mid-November 2023: any fixed, plausible time will do.
constexpr int64_t base_seconds = 1'700'000'000;
constexpr uint64_t hour_ns = 3'600'000'000'000ULL;

int digits(uint64_t x) noexcept {
  int n = 1;
  while (x >= 10) {
    x /= 10;
    ++n;
  }
  return n;
}

// What a reference names: a directory, or a file (with its directory when there are some).
struct parsed_reference {
  bool directory = false;
  uint64_t dir = 0;
  uint64_t index = 0;
};

}  // namespace

namespace detail {

struct synthetic_state {
  synthetic_source_options options;
  std::atomic<uint64_t> generation{0};
  uint64_t change_threshold = 0;  ///< a draw below it is a change (when neither flag below)
  bool never_changes = false;
  bool always_changes = false;
  int dir_width = 4;
  int file_width = 8;

  // Directory d holds files [dir_start(d), dir_start(d + 1)): an even spread, computed without
  // any table. REQUIRES: directories > 0, d <= directories.
  uint64_t dir_start(uint64_t d) const noexcept {
    const auto n = options.count;
    const auto dirs = options.directories;
    return (d * n + dirs - 1) / dirs;
  }
  uint64_t dir_of(uint64_t index) const noexcept {
    return index * options.directories / options.count;
  }

  uint64_t version(uint64_t index, uint64_t gen) const noexcept {
    if (never_changes) return 0;
    if (always_changes) return gen;
    for (uint64_t g = gen; g > 0; --g) {
      if (draw(options.seed, salt::change, index, g) < change_threshold) return g;
    }
    return 0;
  }

  std::string dir_reference(uint64_t d) const {
    char buf[32];
    std::snprintf(buf, sizeof buf, "d%0*llu/", dir_width, static_cast<unsigned long long>(d));
    return buf;
  }

  std::string file_reference(uint64_t index) const {
    char buf[64];
    if (options.directories == 0) {
      std::snprintf(buf, sizeof buf, "f%0*llu.bin", file_width,
                    static_cast<unsigned long long>(index));
    } else {
      std::snprintf(buf, sizeof buf, "d%0*llu/f%0*llu.bin", dir_width,
                    static_cast<unsigned long long>(dir_of(index)), file_width,
                    static_cast<unsigned long long>(index));
    }
    return buf;
  }

  item_info dir_item(uint64_t d) const {
    item_info info;
    info.reference = dir_reference(d);
    info.kind = item_kind::directory;
    info.mode = 0755;
    info.mtime_ns = base_seconds * 1'000'000'000 +
                    static_cast<int64_t>(draw(options.seed, salt::directory_mtime, d, 0) % hour_ns);
    return info;
  }

  // Content byte p of a file version is byte p % 8 of mix(key + p / 8), little-endian. Whole
  // words are stored 8 bytes at a time (the same bytes, a byte loop only for partial words).
  void fill(uint64_t key, uint64_t offset, char* buf, size_t n) const noexcept {
    uint64_t word_index = offset / 8;
    size_t k = 0;
    auto byte_wise = [&](unsigned from, size_t count) {
      const uint64_t word = mix(key + word_index);
      for (size_t j = 0; j < count; ++j)
        buf[k++] = static_cast<char>(static_cast<unsigned char>(word >> ((from + j) * 8)));
      ++word_index;
    };
    if (const auto head = static_cast<unsigned>(offset % 8); head != 0 && n > 0) {
      byte_wise(head, std::min<size_t>(n, 8 - head));
    }
    for (; n - k >= 8; k += 8) {
      uint64_t word = mix(key + word_index++);
      unsigned char bytes[8];
      for (unsigned j = 0; j < 8; ++j) bytes[j] = static_cast<unsigned char>(word >> (j * 8));
      std::memcpy(buf + k, bytes, 8);
    }
    if (k < n) byte_wise(0, n - k);
  }

  uint64_t content_key(uint64_t index, uint64_t version) const noexcept {
    return draw(options.seed, salt::content, index, version);
  }

  uint64_t content_hash(uint64_t key, uint64_t size) const {
    char buf[16 * 1024];
    if (size <= sizeof buf) {
      fill(key, 0, buf, size);
      return XXH3_64bits(buf, size);
    }
    XXH3_state_t* st = XXH3_createState();
    XXH3_64bits_reset(st);
    for (uint64_t at = 0; at < size; at += sizeof buf) {
      const auto n = static_cast<size_t>(std::min<uint64_t>(sizeof buf, size - at));
      fill(key, at, buf, n);
      XXH3_64bits_update(st, buf, n);
    }
    const uint64_t h = XXH3_64bits_digest(st);
    XXH3_freeState(st);
    return h;
  }

  item_info file_item(uint64_t index, uint64_t version) const {
    item_info info;
    info.reference = file_reference(index);
    info.kind = item_kind::file;
    info.mode = 0644;
    const uint64_t span = options.max_size - options.min_size + 1;  // 0: the whole range
    const uint64_t d = draw(options.seed, salt::size, index, version);
    info.size = options.min_size + (span == 0 ? d : d % span);
    // Each version lives in its own hour, so a newer version always has a later mtime.
    info.mtime_ns = (base_seconds + static_cast<int64_t>(version) * 3600) * 1'000'000'000 +
                    static_cast<int64_t>(draw(options.seed, salt::mtime, index, version) % hour_ns);
    if (options.compute_hash) info.hash = content_hash(content_key(index, version), info.size);
    return info;
  }

  // Exactly the references `file_reference` and `dir_reference` produce, nothing else.
  std::optional<parsed_reference> parse(std::string_view ref) const noexcept {
    auto number = [&](size_t width, uint64_t& value) {
      if (ref.size() < width) return false;
      value = 0;
      for (size_t k = 0; k < width; ++k) {
        const char c = ref[k];
        if (c < '0' || c > '9') return false;
        value = value * 10 + static_cast<uint64_t>(c - '0');
      }
      ref.remove_prefix(width);
      return true;
    };
    auto literal = [&](std::string_view lit) {
      if (ref.substr(0, lit.size()) != lit) return false;
      ref.remove_prefix(lit.size());
      return true;
    };
    parsed_reference p;
    if (options.directories > 0) {
      if (!literal("d") || !number(static_cast<size_t>(dir_width), p.dir) || !literal("/") ||
          p.dir >= options.directories) {
        return std::nullopt;
      }
      if (ref.empty()) {
        p.directory = true;
        return p;
      }
    }
    if (!literal("f") || !number(static_cast<size_t>(file_width), p.index) || !literal(".bin") ||
        !ref.empty() || p.index >= options.count) {
      return std::nullopt;
    }
    if (options.directories > 0 && dir_of(p.index) != p.dir) return std::nullopt;
    return p;
  }
};

}  // namespace detail

namespace {

using detail::synthetic_state;

class synthetic_listing final : public listing {
 public:
  synthetic_listing(std::shared_ptr<const synthetic_state> state, uint64_t generation)
      : state_(std::move(state)), generation_(generation) {}

  caf::expected<bool> next(std::vector<item_info>& out, size_t max) override {
    const auto& s = *state_;
    const auto& o = s.options;
    for (size_t added = 0; added < max;) {
      if (o.directories == 0) {
        if (index_ == o.count) return false;
      } else if (!in_directory_) {
        if (dir_ == o.directories) return false;
        out.push_back(s.dir_item(dir_));
        ++added;
        in_directory_ = true;
        index_ = s.dir_start(dir_);
        end_ = s.dir_start(dir_ + 1);
        continue;
      } else if (index_ == end_) {
        in_directory_ = false;
        ++dir_;
        continue;
      }
      out.push_back(s.file_item(index_, s.version(index_, generation_)));
      ++index_;
      ++added;
    }
    return o.directories == 0 ? index_ < o.count : dir_ < o.directories;
  }

 private:
  std::shared_ptr<const synthetic_state> state_;
  uint64_t generation_;
  uint64_t dir_ = 0;
  bool in_directory_ = false;
  uint64_t index_ = 0;
  uint64_t end_ = 0;
};

class synthetic_reader final : public item_reader {
 public:
  synthetic_reader(std::shared_ptr<const synthetic_state> state, uint64_t index, uint64_t version,
                   uint64_t offset)
      : state_(std::move(state)),
        index_(index),
        version_(version),
        key_(state_->content_key(index, version)),
        info_(state_->file_item(index, version)),
        position_(offset) {}

  const item_info& info() const noexcept override { return info_; }

  caf::expected<size_t> read(char* buf, size_t n) override {
    if (position_ >= info_.size) return size_t{0};
    const auto m = static_cast<size_t>(std::min<uint64_t>(n, info_.size - position_));
    state_->fill(key_, position_, buf, m);
    position_ += m;
    return m;
  }

  caf::expected<bool> changed() override {
    return state_->version(index_, state_->generation.load()) != version_;
  }

 private:
  std::shared_ptr<const synthetic_state> state_;
  uint64_t index_;
  uint64_t version_;
  uint64_t key_;
  item_info info_;
  uint64_t position_;
};

}  // namespace

caf::expected<std::unique_ptr<synthetic_source>> synthetic_source::make(
    synthetic_source_options options) {
  auto bad = [](const std::string& why) {
    return make_error(connector_errc::bad_config, "synthetic: " + why);
  };
  if (options.min_size > options.max_size) return bad("min_size is above max_size");
  if (!(options.change_rate >= 0.0 && options.change_rate <= 1.0)) {
    return bad("change_rate is outside [0, 1]");
  }
  const auto max = std::numeric_limits<uint64_t>::max();
  if (options.directories > 0 &&
      options.count > (max - options.directories) / options.directories) {
    return bad("count times directories is too large");
  }
  auto state = std::make_shared<synthetic_state>();
  state->options = options;
  state->generation = options.generation;
  state->never_changes = options.change_rate <= 0.0;
  state->always_changes = options.change_rate >= 1.0;
  if (!state->never_changes && !state->always_changes) {
    state->change_threshold = static_cast<uint64_t>(std::ldexp(options.change_rate, 64));
  }
  if (options.directories > 0) state->dir_width = std::max(4, digits(options.directories - 1));
  if (options.count > 0) state->file_width = std::max(8, digits(options.count - 1));
  return std::unique_ptr<synthetic_source>{new synthetic_source(std::move(state))};
}

synthetic_source::synthetic_source(std::shared_ptr<synthetic_state> state)
    : state_(std::move(state)) {}

uint64_t synthetic_source::generation() const noexcept {
  return state_->generation.load();
}

void synthetic_source::set_generation(uint64_t generation) noexcept {
  state_->generation.store(generation);
}

uint64_t synthetic_source::advance() noexcept {
  return state_->generation.fetch_add(1) + 1;
}

std::string synthetic_source::describe() const {
  const auto& o = state_->options;
  char buf[256];
  std::snprintf(buf, sizeof buf,
                "synthetic seed=%llu count=%llu directories=%llu sizes=%llu..%llu "
                "change_rate=%g",
                static_cast<unsigned long long>(o.seed), static_cast<unsigned long long>(o.count),
                static_cast<unsigned long long>(o.directories),
                static_cast<unsigned long long>(o.min_size),
                static_cast<unsigned long long>(o.max_size), o.change_rate);
  return buf;
}

caf::error synthetic_source::check() {
  return {};
}

caf::expected<std::unique_ptr<listing>> synthetic_source::list() {
  return std::unique_ptr<listing>{new synthetic_listing(state_, state_->generation.load())};
}

caf::expected<item_info> synthetic_source::stat(std::string_view reference) {
  const std::string ref{reference};
  if (auto err = validate_reference(ref)) return err;
  const auto p = state_->parse(ref);
  if (!p) return make_error(connector_errc::not_found, "synthetic: no item '" + ref + "'");
  if (p->directory) return state_->dir_item(p->dir);
  return state_->file_item(p->index, state_->version(p->index, state_->generation.load()));
}

caf::expected<std::unique_ptr<item_reader>> synthetic_source::open(std::string_view reference,
                                                                   uint64_t offset) {
  const std::string ref{reference};
  if (auto err = validate_reference(ref)) return err;
  const auto p = state_->parse(ref);
  if (!p) return make_error(connector_errc::not_found, "synthetic: no item '" + ref + "'");
  if (p->directory) {
    return make_error(connector_errc::invalid_path, "synthetic: '" + ref + "' is a directory");
  }
  const uint64_t version = state_->version(p->index, state_->generation.load());
  return std::unique_ptr<item_reader>{new synthetic_reader(state_, p->index, version, offset)};
}

void synthetic_source::on_run(uint64_t number) {
  set_generation(number > 0 ? number - 1 : 0);
}

}  // namespace syncline::connectors
