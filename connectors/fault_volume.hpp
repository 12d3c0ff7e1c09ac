// connectors/fault_volume.hpp: a volume that fails on purpose, for tests of retry and error.
#pragma once

#include <cerrno>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include <caf/error.hpp>
#include <caf/expected.hpp>

#include "connectors/volume.hpp"

namespace syncline::connectors {

namespace detail {
struct fault_rules;
}  // namespace detail

/// The operations a `fault_volume` can fail.
enum class fault_operation : uint8_t {
  /// `volume::open_writer`.
  open_writer,
  /// `item_writer::write` and `item_writer::copy_from`.
  write,
  /// `item_writer::commit`.
  commit,
  /// Every call that changes the volume: the three above, `item_writer::sync`,
  /// `make_directory`, `make_symlink`, `set_mtime` and `remove`.
  any,
};

const char* to_string(fault_operation op) noexcept;
/// Parses `to_string`'s spelling (for configuration files).
std::optional<fault_operation> fault_operation_from_string(std::string_view s) noexcept;

struct fault_volume_options {
  fault_operation operation = fault_operation::any;
  /// The errno value the failure carries; it is converted like a real one (`from_errno`):
  /// EIO is `io_error` (retried), EACCES `permission_denied`, ENOSPC `no_space`...
  int error = EIO;
  /// Glob (see `glob_set`) of the references to fail; empty: all.
  std::string references;
  /// How many failures to inject before succeeding again; nothing: fail for ever. 0 injects
  /// none (a transparent wrapper).
  std::optional<uint64_t> times;
};

/// Wraps a volume and makes chosen operations on chosen references fail, as if the file
/// system had answered `error`; every other call goes to the wrapped volume unchanged. A
/// failed call does nothing (a failed commit keeps the temporary file, as a real one would).
/// Thread-safe: the failure budget is shared by every thread and writer; writers may outlive
/// the volume.
class fault_volume final : public volume {
 public:
  /// `bad_config` for a null inner volume or an invalid glob.
  [[nodiscard]] static caf::expected<std::unique_ptr<fault_volume>> make(
      std::shared_ptr<volume> inner, fault_volume_options options);

  /// Failures injected so far.
  uint64_t injected() const noexcept;
  /// Calls that were eligible (right operation, matching reference) so far, failed or not.
  uint64_t eligible() const noexcept;
  /// Starts a new budget: `times` more failures (nothing: for ever). Counters are kept.
  void rearm(std::optional<uint64_t> times) noexcept;

  std::string describe() const override;
  /// The inner volume's target, with the same faults (and counters) as this one.
  [[nodiscard]] caf::expected<std::shared_ptr<volume>> target(std::string_view relative) override;
  [[nodiscard]] caf::error check() override;
  [[nodiscard]] caf::expected<std::unique_ptr<item_writer>> open_writer(
      const item_info& info, uint64_t resume_offset) override;
  [[nodiscard]] caf::error make_directory(const item_info& info) override;
  [[nodiscard]] caf::error make_symlink(const item_info& info) override;
  [[nodiscard]] caf::error set_mtime(std::string_view reference, int64_t mtime_ns) override;
  [[nodiscard]] caf::error remove(std::string_view reference) override;
  [[nodiscard]] caf::expected<std::optional<item_info>> stat(std::string_view reference) override;
  [[nodiscard]] caf::expected<std::unique_ptr<listing>> list() override;
  [[nodiscard]] caf::expected<std::unique_ptr<item_reader>> open_reader(std::string_view reference,
                                                                        uint64_t offset) override;
  [[nodiscard]] caf::error sync() override;

 private:
  fault_volume(std::shared_ptr<volume> inner, std::shared_ptr<detail::fault_rules> rules);

  std::shared_ptr<volume> inner_;
  /// Shared with the writers.
  std::shared_ptr<detail::fault_rules> rules_;
};

}  // namespace syncline::connectors
