// connectors/synthetic_source.hpp: a generated datasource for load tests and benchmarks.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include <caf/error.hpp>
#include <caf/expected.hpp>

#include "connectors/source.hpp"

namespace syncline::connectors {

namespace detail {
struct synthetic_state;
}  // namespace detail

struct synthetic_source_options {
  /// Everything (names aside) derives from it: two sources with the same options are identical.
  uint64_t seed = 0;
  /// Number of files.
  uint64_t count = 1000;
  /// Files are spread evenly over this many directories (`d0000/` ...); 0 puts them all at the
  /// root.
  uint64_t directories = 10;
  /// File sizes are drawn uniformly from [min_size, max_size].
  uint64_t min_size = 1024;
  uint64_t max_size = 8192;
  /// The probability that a given file changes (new size, mtime and content) in a given
  /// generation, in [0, 1].
  double change_rate = 0.01;
  /// The generation (the "run") the source starts at; generation 0 is every file's first version.
  uint64_t generation = 0;
  /// Whether items carry the XXH3-64 of their content. It costs generating every listed file's
  /// bytes, so it is off for listing benchmarks.
  bool compute_hash = false;
};

/// A source whose items are computed, not stored. File `i` (0 ≤ i < count) is
/// `d<dir>/f<i>.bin` with zero-padded numbers (at least 4 and 8 digits), so that numeric order is
/// byte order; directories are items too (mode 0755, a fixed mtime). A file's *version* at
/// generation g is the last generation ≤ g in which it changed (0 if none), the change test
/// being a hash of (seed, i, generation) below `change_rate`; finding it walks back from g,
/// about min(g, 1/change_rate) hash evaluations. Size, mtime (which grows with the version) and
/// content derive from (seed, i, version); files have mode 0644. Readers generate the content as
/// they go (no native handle); `changed()` is true when the generation moved on and the file has
/// a newer version. Memory is O(1) whatever `count`. Thread-safe, the generation included.
class synthetic_source final : public source {
 public:
  /// `bad_config` when sizes are reversed, `change_rate` is outside [0, 1] or `count` times
  /// `directories` does not fit in 64 bits.
  [[nodiscard]] static caf::expected<std::unique_ptr<synthetic_source>> make(
      synthetic_source_options options);

  /// The generation listings, stats and readers opened from now on reflect.
  uint64_t generation() const noexcept;
  void set_generation(uint64_t generation) noexcept;
  /// Moves to the next generation; returns it.
  uint64_t advance() noexcept;

  /// Moves to generation `number - 1`: run 1 sees every file's first version.
  void on_run(uint64_t number) override;

  std::string describe() const override;
  [[nodiscard]] caf::error check() override;
  /// Each listing keeps the generation it started at.
  [[nodiscard]] caf::expected<std::unique_ptr<listing>> list() override;
  [[nodiscard]] caf::expected<item_info> stat(std::string_view reference) override;
  [[nodiscard]] caf::expected<std::unique_ptr<item_reader>> open(std::string_view reference,
                                                                 uint64_t offset) override;

 private:
  explicit synthetic_source(std::shared_ptr<detail::synthetic_state> state);

  std::shared_ptr<detail::synthetic_state> state_;
};

}  // namespace syncline::connectors
