// tests/storage/crash_writer.cpp: the child of crash_test (and of database_test's lock test).
//
//   crash_writer <data_dir> <first_batch> <batch_count> [elements_per_batch]
//
// Opens the database in <data_dir>, prints "open", then writes batches <first_batch>,
// <first_batch>+1, ... and prints "ack <k>" once batch k is written. After <batch_count> batches
// it prints "done" and waits to be killed, holding the database open. Batch k is two writes:
//
//   A_k  element_store::create of elements "b<k>-<i>" ({"batch":k,"i":i,...}), i < elements;
//   B_k  one write_batch: ack of the queue item popped first (its datastore row set to action
//        none), push of item "b<k>" at priority k % 3 to volume "v", datastore row "b<k>" of
//        datasource "crash" (action add, size k, mtime k), run record number k+1 of "crash".
//
// "ack <k>" is written with write(2), unbuffered, only after both writes returned success, so
// whatever the parent saw acknowledged must survive a SIGKILL at any later instant. A first
// batch whose elements already exist (a kill between A_k and B_k) is completed, not refused.
// Errors go to stderr with exit status 2 (open) or 3 (a write).

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>

#include "storage/database.hpp"
#include "storage/datastore.hpp"
#include "storage/element_store.hpp"
#include "storage/error.hpp"
#include "storage/run_log.hpp"
#include "storage/transfer_queue.hpp"

using namespace syncline::storage;

namespace {

[[noreturn]] void die(int code, const std::string& what) {
  std::fprintf(stderr, "crash_writer: %s\n", what.c_str());
  std::_Exit(code);
}

void say(const std::string& line) {
  auto text = line + "\n";
  size_t done = 0;
  while (done < text.size()) {
    auto n = ::write(STDOUT_FILENO, text.data() + done, text.size() - done);
    if (n <= 0) die(4, "cannot write to stdout");
    done += static_cast<size_t>(n);
  }
}

uint64_t number(const char* s, const char* what) {
  char* end = nullptr;
  auto v = std::strtoull(s, &end, 10);
  if (end == s || *end != '\0') die(1, std::string{"bad "} + what + ": " + s);
  return v;
}

std::string elements_json(uint64_t k, uint64_t count) {
  std::string json = "[";
  for (uint64_t i = 0; i < count; ++i) {
    if (i > 0) json += ',';
    json += R"({"_id":"b)" + std::to_string(k) + "-" + std::to_string(i) +
            R"(","batch":)" + std::to_string(k) + R"(,"i":)" + std::to_string(i) +
            R"(,"pad":"0123456789abcdef0123456789abcdef"})";
  }
  return json + "]";
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 4 || argc > 5)
    die(1, "usage: crash_writer <data_dir> <first_batch> <batch_count> [elements_per_batch]");
  uint64_t first = number(argv[2], "first batch");
  uint64_t count = number(argv[3], "batch count");
  uint64_t per_batch = argc == 5 ? number(argv[4], "elements per batch") : 8;

  auto opened = database::open({argv[1]});
  if (!opened) die(2, render(opened.error()));
  auto& db = **opened;
  element_store elements{db};
  datastore rows{db};
  run_log runs{db};
  auto queue = transfer_queue::open(db);
  if (!queue) die(2, render(queue.error()));
  say("open");

  write_context ctx{"crash_writer", 0};
  for (uint64_t k = first; k < first + count; ++k) {
    auto created = elements.create(elements_json(k, per_batch), ctx);
    if (!created) die(3, "create batch " + std::to_string(k) + ": " + render(created.error()));
    size_t fresh = 0;
    for (auto& o : *created) fresh += o.result == element_result::created ? 1 : 0;
    bool complete = fresh == per_batch || (k == first && fresh == 0);
    if (created->size() != per_batch || !complete)
      die(3, "batch " + std::to_string(k) + ": " + std::to_string(fresh) + " of " +
                 std::to_string(per_batch) + " elements created");

    write_batch batch{db};
    auto popped = (*queue)->pop("v");
    if (!popped) die(3, "pop: " + render(popped.error()));
    for (auto& item : *popped) {
      if (auto err = (*queue)->ack(batch, item.ticket)) die(3, "ack: " + render(err));
      auto row = rows.get("crash", item.payload);
      if (!row || !*row) die(3, "no datastore row for queue item " + item.payload);
      (*row)->action = pending_action::none;
      rows.put(batch, "crash", **row);
    }
    auto ref = "b" + std::to_string(k);
    auto pushed = (*queue)->push(batch, "v", static_cast<int32_t>(k % 3), ref);
    if (!pushed) die(3, "push: " + render(pushed.error()));
    datastore_row row;
    row.reference = ref;
    row.size = k;
    row.mtime_ns = static_cast<int64_t>(k);
    row.action = pending_action::add;
    rows.put(batch, "crash", row);
    run_record run;
    run.datasource = "crash";
    run.number = k + 1;
    run.trigger = ref;
    run.started_ms = static_cast<int64_t>(k);
    run.counters.listed = k;
    run.move_to(run_status::started, static_cast<int64_t>(k));
    run.move_to(run_status::success, static_cast<int64_t>(k) + 1);
    runs.stage(batch, run);
    if (auto err = db.write(batch)) die(3, "write batch " + ref + ": " + render(err));
    say("ack " + std::to_string(k));
  }
  say("done");
  for (;;) ::pause();
}
