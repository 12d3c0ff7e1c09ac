// connectors/null_volume.hpp: a volume that keeps nothing.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>

#include "connectors/volume.hpp"

namespace syncline::connectors {

/// Accepts every write, directory, symlink and removal and keeps nothing, like /dev/null: for
/// load tests of the runtime (where a real disk would measure the kernel, not syncline) and
/// for dry runs. Writers hash what they are given, so verification works. `stat` finds nothing,
/// `list` is empty, `open_reader` is `not_found`. Counts what it was given. Thread-safe.
class null_volume final : public volume {
 public:
  null_volume() = default;

  uint64_t committed() const noexcept { return committed_.load(); }
  uint64_t bytes() const noexcept { return bytes_.load(); }

  std::string describe() const override { return "null volume"; }
  /// This very volume (it keeps nothing, so every target is the same nothing; counts add up).
  [[nodiscard]] caf::expected<std::shared_ptr<volume>> target(std::string_view relative) override {
    auto whole = volume::target("");
    if (!whole || relative.empty()) return whole;
    if (auto p = target_problem(relative); !p.empty()) return volume::target(relative);
    return whole;
  }
  [[nodiscard]] caf::error check() override { return caf::none; }
  [[nodiscard]] caf::expected<std::unique_ptr<item_writer>> open_writer(
      const item_info& info, uint64_t resume_offset) override;
  [[nodiscard]] caf::error make_directory(const item_info&) override { return caf::none; }
  [[nodiscard]] caf::error make_symlink(const item_info&) override { return caf::none; }
  [[nodiscard]] caf::error set_mtime(std::string_view, int64_t) override { return caf::none; }
  [[nodiscard]] caf::error remove(std::string_view) override { return caf::none; }
  [[nodiscard]] caf::expected<std::optional<item_info>> stat(std::string_view) override {
    return std::optional<item_info>{};
  }
  [[nodiscard]] caf::expected<std::unique_ptr<listing>> list() override;
  [[nodiscard]] caf::expected<std::unique_ptr<item_reader>> open_reader(std::string_view reference,
                                                                        uint64_t offset) override;
  [[nodiscard]] caf::error sync() override { return caf::none; }

 private:
  friend class null_writer;
  std::atomic<uint64_t> committed_{0};
  std::atomic<uint64_t> bytes_{0};
};

}  // namespace syncline::connectors
