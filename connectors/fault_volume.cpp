#include "connectors/fault_volume.hpp"

#include <atomic>
#include <limits>

#include "connectors/error.hpp"
#include "connectors/glob.hpp"

namespace syncline::connectors {

namespace {

constexpr uint64_t unlimited = std::numeric_limits<uint64_t>::max();

}  // namespace

namespace detail {

struct fault_rules {
  fault_volume_options options;
  glob_set references;
  /// Failures left; `unlimited` means for ever.
  std::atomic<uint64_t> budget{0};
  std::atomic<uint64_t> injected{0};
  std::atomic<uint64_t> eligible{0};

  // The error the call `op` on `reference` must fail with now, if any, counting it.
  caf::error inject(fault_operation op, std::string_view reference) {
    // `any` selects every operation; a writer's sync is only ever selected by `any`.
    if (options.operation != fault_operation::any && options.operation != op) return {};
    if (!references.empty() && !references.matches(reference)) return {};
    eligible.fetch_add(1);
    uint64_t left = budget.load();
    do {
      if (left == 0) return {};
    } while (left != unlimited && !budget.compare_exchange_weak(left, left - 1));
    injected.fetch_add(1);
    return from_errno(options.error, std::string{"injected fault: "} + to_string(op) + " " +
                                         std::string{reference});
  }
};

}  // namespace detail

namespace {

class fault_writer final : public item_writer {
 public:
  fault_writer(std::shared_ptr<detail::fault_rules> owner, std::unique_ptr<item_writer> inner,
               std::string reference)
      : owner_(std::move(owner)), inner_(std::move(inner)), reference_(std::move(reference)) {}

  uint64_t offset() const noexcept override { return inner_->offset(); }

  caf::error write(const char* data, size_t n) override {
    if (auto err = owner_->inject(fault_operation::write, reference_)) return err;
    return inner_->write(data, n);
  }

  caf::expected<size_t> copy_from(int fd, size_t n) override {
    if (auto err = owner_->inject(fault_operation::write, reference_)) return err;
    return inner_->copy_from(fd, n);
  }

  caf::error sync() override {
    if (auto err = owner_->inject(fault_operation::any, reference_)) return err;
    return inner_->sync();
  }

  caf::expected<uint64_t> content_hash() override { return inner_->content_hash(); }

  caf::error commit(const item_info& info) override {
    if (auto err = owner_->inject(fault_operation::commit, reference_)) return err;
    return inner_->commit(info);
  }

  void abort() override { inner_->abort(); }

 private:
  std::shared_ptr<detail::fault_rules> owner_;
  std::unique_ptr<item_writer> inner_;
  std::string reference_;
};

}  // namespace

const char* to_string(fault_operation op) noexcept {
  switch (op) {
    case fault_operation::open_writer:
      return "open_writer";
    case fault_operation::write:
      return "write";
    case fault_operation::commit:
      return "commit";
    case fault_operation::any:
      return "any";
  }
  return "unknown";
}

std::optional<fault_operation> fault_operation_from_string(std::string_view s) noexcept {
  for (auto op : {fault_operation::open_writer, fault_operation::write, fault_operation::commit,
                  fault_operation::any}) {
    if (s == to_string(op)) return op;
  }
  return std::nullopt;
}

caf::expected<std::unique_ptr<fault_volume>> fault_volume::make(std::shared_ptr<volume> inner,
                                                                fault_volume_options options) {
  if (!inner) return make_error(connector_errc::bad_config, "faulty volume: no inner volume");
  auto r = std::make_shared<detail::fault_rules>();
  if (!options.references.empty()) {
    auto compiled = glob_set::compile({options.references});
    if (!compiled) return std::move(compiled.error());
    r->references = std::move(*compiled);
  }
  r->budget = options.times ? *options.times : unlimited;
  r->options = std::move(options);
  return std::unique_ptr<fault_volume>{new fault_volume(std::move(inner), std::move(r))};
}

fault_volume::fault_volume(std::shared_ptr<volume> inner,
                           std::shared_ptr<detail::fault_rules> rules)
    : inner_(std::move(inner)), rules_(std::move(rules)) {}

uint64_t fault_volume::injected() const noexcept {
  return rules_->injected.load();
}

uint64_t fault_volume::eligible() const noexcept {
  return rules_->eligible.load();
}

void fault_volume::rearm(std::optional<uint64_t> times) noexcept {
  rules_->budget.store(times ? *times : unlimited);
}

std::string fault_volume::describe() const {
  return "faulty " + inner_->describe();
}

caf::expected<std::shared_ptr<volume>> fault_volume::target(std::string_view relative) {
  if (relative.empty()) return volume::target(relative);
  auto inner = inner_->target(relative);
  if (!inner) return std::move(inner.error());
  return std::shared_ptr<volume>{new fault_volume(std::move(*inner), rules_)};
}

caf::error fault_volume::check() {
  return inner_->check();
}

caf::expected<std::unique_ptr<item_writer>> fault_volume::open_writer(const item_info& info,
                                                                      uint64_t resume_offset) {
  if (auto err = rules_->inject(fault_operation::open_writer, info.reference)) return err;
  auto inner = inner_->open_writer(info, resume_offset);
  if (!inner) return std::move(inner.error());
  return std::unique_ptr<item_writer>{new fault_writer(rules_, std::move(*inner), info.reference)};
}

caf::error fault_volume::make_directory(const item_info& info) {
  if (auto err = rules_->inject(fault_operation::any, info.reference)) return err;
  return inner_->make_directory(info);
}

caf::error fault_volume::make_symlink(const item_info& info) {
  if (auto err = rules_->inject(fault_operation::any, info.reference)) return err;
  return inner_->make_symlink(info);
}

caf::error fault_volume::set_mtime(std::string_view reference, int64_t mtime_ns) {
  if (auto err = rules_->inject(fault_operation::any, reference)) return err;
  return inner_->set_mtime(reference, mtime_ns);
}

caf::error fault_volume::remove(std::string_view reference) {
  if (auto err = rules_->inject(fault_operation::any, reference)) return err;
  return inner_->remove(reference);
}

caf::expected<std::optional<item_info>> fault_volume::stat(std::string_view reference) {
  return inner_->stat(reference);
}

caf::expected<std::unique_ptr<listing>> fault_volume::list() {
  return inner_->list();
}

caf::expected<std::unique_ptr<item_reader>> fault_volume::open_reader(std::string_view reference,
                                                                      uint64_t offset) {
  return inner_->open_reader(reference, offset);
}

caf::error fault_volume::sync() {
  return inner_->sync();
}

}  // namespace syncline::connectors
