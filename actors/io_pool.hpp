// actors/io_pool.hpp: where blocking work runs, off the scheduler's threads.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <type_traits>
#include <vector>

#include <caf/actor_cast.hpp>
#include <caf/allowed_unsafe_message_type.hpp>
#include <caf/atom.hpp>
#include <caf/error.hpp>
#include <caf/exit_reason.hpp>
#include <caf/expected.hpp>
#include <caf/message_id.hpp>
#include <caf/system_messages.hpp>
#include <caf/send.hpp>

namespace syncline::actors {

/// A fixed set of threads running blocking jobs (disk listing, copies, RocksDB writes, syncfs)
/// in submission order. Actors never block their scheduler thread: they submit a job here and
/// get the result back as a message (`run_io`). Thread-safe.
class io_pool {
 public:
  /// Starts `threads` workers (at least one).
  explicit io_pool(size_t threads);
  /// Stops: see `stop()`.
  ~io_pool();
  io_pool(const io_pool&) = delete;
  io_pool& operator=(const io_pool&) = delete;

  /// Queues `job`. After `stop()` the job is dropped (destroyed without running).
  void submit(std::function<void()> job);

  /// Runs the jobs already queued, refuses new ones, and joins the workers. Idempotent.
  void stop();

  size_t size() const noexcept { return workers_.size(); }
  /// Jobs waiting (not running).
  size_t queued() const;
  /// Jobs running now.
  size_t busy() const;

 private:
  void work();

  mutable std::mutex mtx_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> jobs_;
  bool stopping_ = false;
  size_t busy_ = 0;
  std::vector<std::thread> workers_;
};

/// A piece of code to run inside an actor, sent back by an I/O job. Local only.
struct io_continuation {
  std::function<void()> fn;
};

using io_done_atom = caf::atom_constant<caf::atom("io_done")>;

namespace detail {
template <class T>
struct holds_error : std::is_same<T, caf::error> {};
template <class T>
struct holds_error<caf::expected<T>> : std::true_type {};
caf::error job_exception(std::exception_ptr e);
}  // namespace detail

/// Runs `work()` on `pool`, then `then(result)` inside the actor `self` (as a message
/// `(io_done_atom, io_continuation)`, which every actor using this answers by calling `fn`).
/// If the actor has exited meanwhile, `then` never runs. `work` must not touch the actor's
/// state; `then` may. `work` returns something movable (wrap move-only results in shared_ptr
/// or return them by value: they are moved into `then`). An exception thrown by `work` becomes
/// the error `actors_errc::job_failed`: the result itself when `work` returns `caf::error` or
/// `caf::expected`, else the reason the actor exits with (its supervisor restarts it).
template <class Self, class Work, class Then>
void run_io(Self* self, io_pool& pool, Work work, Then then) {
  pool.submit([hdl = caf::actor_cast<caf::actor>(self), work = std::move(work),
               then = std::move(then)]() mutable {
    using result_type = decltype(work());
    std::shared_ptr<result_type> result;
    try {
      result = std::make_shared<result_type>(work());
    } catch (...) {
      auto err = detail::job_exception(std::current_exception());
      if constexpr (detail::holds_error<result_type>::value) {
        result = std::make_shared<result_type>(std::move(err));
      } else {
        // anon_send_exit takes only an exit_reason in CAF 0.17: the same, with our error.
        if (hdl)
          hdl->enqueue(nullptr, caf::make_message_id(),
                       caf::make_message(caf::exit_msg{hdl->address(), std::move(err)}), nullptr);
        return;
      }
    }
    caf::anon_send(hdl, io_done_atom::value,
                   io_continuation{[then = std::move(then), result]() mutable {
                     then(std::move(*result));
                   }});
  });
}

}  // namespace syncline::actors

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(syncline::actors::io_continuation)
