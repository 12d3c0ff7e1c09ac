#include "actors/io_pool.hpp"

#include <spdlog/spdlog.h>

#include "actors/error.hpp"

namespace syncline::actors {

io_pool::io_pool(size_t threads) {
  if (threads == 0) threads = 1;
  workers_.reserve(threads);
  for (size_t i = 0; i < threads; ++i) workers_.emplace_back([this] { work(); });
}

io_pool::~io_pool() { stop(); }

void io_pool::submit(std::function<void()> job) {
  {
    std::lock_guard<std::mutex> guard{mtx_};
    if (stopping_) return;
    jobs_.push_back(std::move(job));
  }
  cv_.notify_one();
}

void io_pool::stop() {
  {
    std::lock_guard<std::mutex> guard{mtx_};
    if (stopping_ && workers_.empty()) return;
    stopping_ = true;
  }
  cv_.notify_all();
  for (auto& t : workers_)
    if (t.joinable()) t.join();
  workers_.clear();
}

size_t io_pool::queued() const {
  std::lock_guard<std::mutex> guard{mtx_};
  return jobs_.size();
}

size_t io_pool::busy() const {
  std::lock_guard<std::mutex> guard{mtx_};
  return busy_;
}

void io_pool::work() {
  for (;;) {
    std::function<void()> job;
    {
      std::unique_lock<std::mutex> lock{mtx_};
      cv_.wait(lock, [this] { return stopping_ || !jobs_.empty(); });
      // Queued jobs still run after stop(): they may hold results that must be written.
      if (jobs_.empty()) return;
      job = std::move(jobs_.front());
      jobs_.pop_front();
      ++busy_;
    }
    // A job that throws (run_io's catch their own) costs its own work, never the node.
    try {
      job();
    } catch (...) {
      spdlog::error("an I/O job failed: {}", render(detail::job_exception(std::current_exception())));
    }
    std::lock_guard<std::mutex> guard{mtx_};
    --busy_;
  }
}

caf::error detail::job_exception(std::exception_ptr e) {
  try {
    std::rethrow_exception(std::move(e));
  } catch (const std::exception& x) {
    return make_error(actors_errc::job_failed, std::string{"an I/O job threw: "} + x.what());
  } catch (...) {
    return make_error(actors_errc::job_failed, "an I/O job threw an exception of unknown type");
  }
}

}  // namespace syncline::actors
