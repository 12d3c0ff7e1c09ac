#include "tools/console.hpp"

#include <poll.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <ctime>
#include <iostream>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <simdjson.h>

#include "tools/api_session.hpp"
#include "tools/node_actions.hpp"
#include "tools/node_view.hpp"

namespace syncline::tools {

namespace {

using clock_type = std::chrono::steady_clock;

std::atomic<bool> g_stop{false};
std::atomic<bool> g_resized{false};

extern "C" void on_signal(int sig) {
  if (sig == SIGWINCH) g_resized = true;
  else g_stop = true;
}

// Raw keys and the alternate screen while the console runs; the terminal as it was after.
class terminal {
 public:
  bool start() {
    if (tcgetattr(STDIN_FILENO, &old_) != 0) return false;
    termios raw = old_;
    raw.c_lflag &= ~static_cast<tcflag_t>(ICANON | ECHO | IEXTEN);
    raw.c_iflag &= ~static_cast<tcflag_t>(IXON | ICRNL);
    raw.c_cc[VMIN] = 0;
    raw.c_cc[VTIME] = 0;
    if (tcsetattr(STDIN_FILENO, TCSANOW, &raw) != 0) return false;
    active_ = true;
    put("\033[?1049h\033[?25l");
    return true;
  }
  ~terminal() {
    if (!active_) return;
    put("\033[?25h\033[?1049l");
    tcsetattr(STDIN_FILENO, TCSANOW, &old_);
  }
  // rows, columns
  std::pair<size_t, size_t> size() const {
    winsize w{};
    if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &w) == 0 && w.ws_row > 0 && w.ws_col > 0)
      return {w.ws_row, w.ws_col};
    return {24, 80};
  }
  static void put(const std::string& s) {
    size_t at = 0;
    while (at < s.size()) {
      auto n = ::write(STDOUT_FILENO, s.data() + at, s.size() - at);
      if (n <= 0) return;
      at += static_cast<size_t>(n);
    }
  }

 private:
  termios old_{};
  bool active_ = false;
};

// What the event stream tells the screen.
struct live_state {
  std::mutex mu;
  bool dirty = true;
  std::string last_event;
  std::string problem;
  progress_meter meter;
};

std::string field(simdjson::dom::element e, const char* key) {
  std::string_view v;
  if (!e[key].get(v)) return std::string{v};
  uint64_t n = 0;
  if (!e[key].get(n)) return std::to_string(n);
  return {};
}

uint64_t number(simdjson::dom::element e, const char* key) {
  uint64_t n = 0;
  return e[key].get(n) ? 0 : n;
}

// One event block of the stream (`id:`, `event:`, `data:` lines).
void take_event(std::string_view block, std::string& last_id, live_state& st) {
  std::string id, type, data;
  size_t at = 0;
  while (at < block.size()) {
    auto end = block.find('\n', at);
    auto line = block.substr(at, end == std::string_view::npos ? end : end - at);
    at = end == std::string_view::npos ? block.size() : end + 1;
    if (line.rfind("id: ", 0) == 0) id = std::string{line.substr(4)};
    else if (line.rfind("event: ", 0) == 0) type = std::string{line.substr(7)};
    else if (line.rfind("data: ", 0) == 0) data = std::string{line.substr(6)};
  }
  if (type.empty()) return;  // a keep-alive comment
  if (!id.empty()) last_id = id;
  std::lock_guard<std::mutex> lock{st.mu};
  st.dirty = true;
  st.problem.clear();
  if (type == "reset") return;  // read everything again, follow from its id
  simdjson::dom::parser p;
  simdjson::dom::element e;
  if (p.parse(data).get(e)) return;
  auto ds = field(e, "datasource");
  if (type == "progress") {
    progress_meter::reading r;
    r.run = number(e, "run");
    r.done = number(e, "done");
    r.total = number(e, "total");
    r.failed = number(e, "failed");
    r.bytes = number(e, "bytes_done");
    r.bytes_total = number(e, "bytes_total");
    int64_t at_ms = 0;
    if (e["at_ms"].get(at_ms)) at_ms = 0;
    r.at_ms = at_ms;
    st.meter.observe(ds, r);
    return;
  }
  std::string what = type + " " + (ds.empty() ? field(e, "id") : ds);
  if (type == "run") what += " " + field(e, "run") + ": " + field(e, "status");
  else if (type == "datasource" || type == "actor") what += ": " + field(e, type == "actor" ? "state" : "status");
  else if (type == "health") what += ": " + field(e, "health");
  st.last_event = "event " + id + ": " + what;
}

// The event stream, followed until `stop`: reconnects after the stream's end (it lasts five
// minutes) or a reset, and after a failure every two seconds.
void follow_events(const console_options& o, live_state& st,
                   const std::shared_ptr<std::atomic<bool>>& stop) {
  api_session api{o.url, o.token_file, false, stop};
  std::string last_id;
  while (!*stop) {
    std::string buffer;
    auto r = api.follow_events(last_id, [&](std::string_view chunk) {
      buffer.append(chunk);
      for (auto end = buffer.find("\n\n"); end != std::string::npos; end = buffer.find("\n\n")) {
        take_event(std::string_view{buffer}.substr(0, end), last_id, st);
        buffer.erase(0, end + 2);
      }
      return !*stop;
    });
    if (*stop) return;
    if (!r.ok()) {
      {
        std::lock_guard<std::mutex> lock{st.mu};
        st.problem = "live events: " + r.error;
      }
      for (int i = 0; i < 20 && !*stop; ++i) std::this_thread::sleep_for(std::chrono::milliseconds{100});
    }
  }
}

std::string clock_of(int64_t ms) {
  std::time_t t = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  localtime_r(&t, &tm);
  char buf[16];
  std::strftime(buf, sizeof buf, "%H:%M:%S", &tm);
  return buf;
}

// The lines of the detail pane for the selected line.
std::vector<std::string> details(const node_view& v, const target& sel, const progress_meter& m,
                                 const std::string& last_event) {
  std::vector<std::string> out;
  if (sel.kind == "datasource") {
    auto* found = v.datasource(sel.id);
    if (found == nullptr) return {"(gone)"};
    auto d = *found;
    m.overlay(d);
    std::string vols;
    for (auto& x : d.volumes) vols += (vols.empty() ? "" : ",") + x;
    out.push_back(d.type + ", sync " + d.sync_type + ", priority " + std::to_string(d.sync_priority) +
                  ", into " + vols + ", in " + d.container + "/" + d.account + "/" + d.workspace);
    std::string run = "run " + std::to_string(d.run) + " (" + d.run_trigger + "): " + d.run_status;
    std::string shown_time;
    for (auto& [status, at] : d.run_history) {
      auto t = clock_of(at);
      run += (t == shown_time ? " " : "  " + t + " ") + status;
      shown_time = t;
    }
    out.push_back(run);
    out.push_back("items " + std::to_string(d.done) + "/" + std::to_string(d.total) + " done, " +
                  std::to_string(d.failed) + " failed, " + std::to_string(d.listed) + " listed; " +
                  human_bytes(d.bytes_done) + " of " + human_bytes(d.bytes_total) + "; " +
                  std::to_string(d.pending) + " pending; " + std::to_string(d.held_removals) +
                  " removals held" + (m.describe(d).empty() ? "" : "; " + m.describe(d)));
    if (!d.run_error.empty()) out.push_back("run error: " + d.run_error);
    if (!d.last_error.empty()) out.push_back("error: " + d.last_error);
    return out;
  }
  if (sel.kind == "volume" || sel.kind == "transfer") {
    auto id = sel.kind + "/" + sel.id;
    for (auto& a : v.actors) {
      if (a.id != id || (sel.kind == "volume" && a.depth != 0)) continue;
      out.push_back(a.kind + " " + sel.id + ": " + a.state + ", mailbox " + std::to_string(a.mailbox) +
                    (a.current.empty() ? "" : ", " + a.current));
      std::string counters;
      for (auto& [k, n] : a.counters) {
        std::string part = k + " " + std::to_string(n);
        if (counters.size() + part.size() + 2 > 78) {
          out.push_back(counters);
          counters.clear();
        }
        counters += (counters.empty() ? "" : ", ") + part;
      }
      if (!counters.empty()) out.push_back(counters);
      if (!a.last_error.empty()) out.push_back("error: " + a.last_error);
    }
    if (out.empty()) out.push_back("(gone)");
    return out;
  }
  out.push_back("node " + v.node_id + ", syncline " + v.version + ", up " + human_duration(v.uptime_s));
  out.push_back(std::to_string(v.datasources.size()) + " datasources, " +
                std::to_string(v.actors.size()) + " actors, " + std::to_string(v.queue_total) +
                " transfers waiting");
  if (!last_event.empty()) out.push_back(last_event);
  return out;
}

const char* help_line =
    "j/k select  p pause  r resume  s sync  c confirm  +/- priority  i push  q quit";

class console {
 public:
  explicit console(const console_options& o) : o_(o), api_(o.url, o.token_file) {}

  // Reads the node's picture again (run() expects one reading made before it).
  api_result refresh() {
    refresh_now_ = false;
    auto r = read_view(api_, view_);
    problem_ = r.ok() ? std::string{} : r.error;
    return r;
  }

  int run(terminal& term) {
    auto stop = std::make_shared<std::atomic<bool>>(false);
    std::thread events([this, stop] { follow_events(o_, live_, stop); });
    draw(term);
    auto last_refresh = clock_type::now();
    while (!g_stop && !quit_) {
      pollfd p{STDIN_FILENO, POLLIN, 0};
      bool redraw = false;
      if (::poll(&p, 1, 200) > 0 && (p.revents & POLLIN) != 0) {
        char keys[64];
        auto n = ::read(STDIN_FILENO, keys, sizeof keys);
        for (ssize_t i = 0; i < n; ++i) {
          if (keys[i] == '\033' && i + 2 < n && keys[i + 1] == '[') {
            key(keys[i + 2] == 'A' ? 'k' : keys[i + 2] == 'B' ? 'j' : 0, term);
            i += 2;
          } else {
            key(keys[i], term);
          }
        }
        redraw = true;
      }
      bool dirty = false;
      {
        std::lock_guard<std::mutex> lock{live_.mu};
        dirty = live_.dirty;
        live_.dirty = false;
      }
      auto now = clock_type::now();
      if ((dirty && now - last_refresh >= std::chrono::milliseconds{500}) ||
          now - last_refresh >= std::chrono::seconds{5} || refresh_now_) {
        refresh();
        last_refresh = now;
        redraw = true;
      } else if (dirty) {
        std::lock_guard<std::mutex> lock{live_.mu};
        live_.dirty = true;  // not yet: at most two readings a second
      }
      if (redraw || g_resized.exchange(false)) draw(term);
    }
    *stop = true;
    events.join();
    return exit_ok;
  }

 private:

  std::vector<view_line> lines(size_t width) {
    std::lock_guard<std::mutex> lock{live_.mu};
    auto v = view_;
    for (auto& d : v.datasources) live_.meter.overlay(d);
    return render_view(v, live_.meter, width);
  }

  void move(int by, size_t width) {
    auto ls = lines(width);
    std::vector<size_t> selectable;
    size_t at = 0;
    for (size_t i = 0; i < ls.size(); ++i) {
      if (ls[i].kind.empty()) continue;
      if (ls[i].kind == sel_.kind && ls[i].id == sel_.id) at = selectable.size();
      selectable.push_back(i);
    }
    if (selectable.empty()) return;
    long next = static_cast<long>(at) + by;
    next = std::max(0L, std::min(next, static_cast<long>(selectable.size()) - 1));
    auto& l = ls[selectable[static_cast<size_t>(next)]];
    sel_ = target{l.kind, l.id};
  }

  void show(const api_result& r, const std::string& done) {
    // The node's own words first: the request that failed may be longer than the line.
    message_ = r.ok() ? done
               : r.status != 0 ? std::to_string(r.status) + " " + error_message(r.body) + " (" + r.error + ")"
                               : r.error;
    refresh_now_ = true;
  }

  void key(char k, terminal& term) {
    auto width = term.size().second;
    auto name = sel_.kind == "node" ? std::string{"the node"} : sel_.kind + " " + sel_.id;
    auto node_or = [&] { return sel_.kind == "node" ? target{"node", {}} : sel_; };
    switch (k) {
      case 'q': quit_ = true; break;
      case 'j': move(1, width); break;
      case 'k': move(-1, width); break;
      case 'u': refresh_now_ = true; break;
      case 'p': show(pause_resume(api_, node_or(), true), name + ": paused"); break;
      case 'r': show(pause_resume(api_, node_or(), false), name + ": resumed"); break;
      case 's':
        if (sel_.kind == "transfer") message_ = "sync: select a datasource, a volume or the node";
        else show(sync_now(api_, node_or()), name + ": a run was asked");
        break;
      case 'c':
      case '+':
      case '-':
      case 'i': datasource_key(k, term, name); break;
      default: break;
    }
  }

  void datasource_key(char k, terminal& term, const std::string& name) {
    auto* d = sel_.kind == "datasource" ? view_.datasource(sel_.id) : nullptr;
    if (d == nullptr) {
      message_ = "select a datasource first";
      return;
    }
    if (k == 'c') {
      if (d->held_removals == 0) message_ = name + ": no removals are held";
      else show(confirm_removals(api_, d->id, d->held_removals),
                name + ": " + std::to_string(d->held_removals) + " removals confirmed");
    } else if (k == '+' || k == '-') {
      auto p = d->sync_priority + (k == '+' ? 1 : -1);
      show(set_priority(api_, d->id, p), name + ": priority " + std::to_string(p));
    } else {
      auto ref = prompt(term, "item of " + d->id + " to push again (path, Enter; Esc cancels): ");
      if (!ref.empty()) show(push_item(api_, d->id, ref), name + ": " + ref + " pushed again");
    }
  }

  // A line typed at the bottom of the screen; empty when cancelled.
  std::string prompt(terminal& term, const std::string& question) {
    std::string text;
    for (;;) {
      auto [rows, cols] = term.size();
      terminal::put("\033[" + std::to_string(rows) + ";1H\033[K" + fit(question + text, cols - 1) +
                    "\033[?25h");
      pollfd p{STDIN_FILENO, POLLIN, 0};
      if (g_stop) return {};
      if (::poll(&p, 1, 200) <= 0) continue;
      char c = 0;
      if (::read(STDIN_FILENO, &c, 1) != 1) continue;
      if (c == '\r' || c == '\n') break;
      if (c == '\033') {
        text.clear();
        break;
      }
      if ((c == 127 || c == 8) && !text.empty()) text.pop_back();
      else if (static_cast<unsigned char>(c) >= 0x20 && c != 127) text += c;
    }
    terminal::put("\033[?25l");
    return text;
  }

  void draw(terminal& term) {
    auto [rows, cols] = term.size();
    auto ls = lines(cols);
    std::string last_event, live_problem;
    progress_meter meter;
    {
      std::lock_guard<std::mutex> lock{live_.mu};
      last_event = live_.last_event;
      live_problem = live_.problem;
      meter = live_.meter;
    }
    auto detail = details(view_, sel_, meter, last_event);
    size_t pane = std::min<size_t>(detail.size(), rows > 16 ? rows / 4 : 3);
    size_t body = rows > pane + 4 ? rows - pane - 4 : 1;
    size_t selected = 0;
    for (size_t i = 0; i < ls.size(); ++i)
      if (!ls[i].kind.empty() && ls[i].kind == sel_.kind && ls[i].id == sel_.id) selected = i;
    if (selected < top_) top_ = selected;
    if (selected >= top_ + body) top_ = selected - body + 1;
    if (top_ + body > ls.size()) top_ = ls.size() > body ? ls.size() - body : 0;

    std::string frame = "\033[H";
    auto row = [&](const std::string& text, bool inverse = false) {
      frame += inverse ? "\033[7m" : "";
      frame += fit(text, cols);
      frame += inverse ? "\033[0m\r\n" : "\r\n";
    };
    row("syncline console  " + api_.url() + "  " + (problem_.empty() ? live_problem : problem_), true);
    for (size_t i = 0; i < body; ++i) {
      size_t at = top_ + i;
      if (at < ls.size()) row(ls[at].text, at == selected && !ls[at].kind.empty());
      else row("");
    }
    std::string head = "-- " + (sel_.kind == "node" ? std::string{"node"} : sel_.kind + " " + sel_.id) + " ";
    row(head + std::string(cols > head.size() ? cols - head.size() : 0, '-'));
    for (size_t i = 0; i < pane; ++i) row(detail[i]);
    row(message_);
    frame += "\033[7m" + fit(help_line, cols) + "\033[0m";
    terminal::put(frame);
  }

  console_options o_;
  api_session api_;
  live_state live_;
  node_view view_;
  target sel_{"node", "node"};
  size_t top_ = 0;
  std::string message_, problem_;
  bool quit_ = false;
  bool refresh_now_ = false;
};

int print_once(const console_options& o) {
  api_session api{o.url, o.token_file};
  node_view view;
  auto r = read_view(api, view);
  if (!r.ok()) {
    std::cerr << "syncline: " << r.error << "\n";
    return r.exit;
  }
  for (auto& line : render_view(view, progress_meter{}, 80)) {
    auto text = line.text;
    while (!text.empty() && text.back() == ' ') text.pop_back();
    std::cout << text << "\n";
  }
  return exit_ok;
}

}  // namespace

int run_console(const console_options& o) {
  if (o.once) return print_once(o);
  if (isatty(STDIN_FILENO) == 0 || isatty(STDOUT_FILENO) == 0) {
    std::cerr << "syncline: the console needs a terminal; `syncline console --once` prints one "
                 "snapshot\n";
    return exit_usage;
  }
  console c{o};
  // The first reading, before the screen is taken: a node that does not answer is said plainly.
  if (auto r = c.refresh(); !r.ok()) {
    std::cerr << "syncline: " << r.error << "\n";
    return r.exit;
  }
  struct sigaction sa{};
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  for (int sig : {SIGINT, SIGTERM, SIGHUP, SIGWINCH}) sigaction(sig, &sa, nullptr);
  terminal term;
  if (!term.start()) {
    std::cerr << "syncline: cannot put the terminal in raw mode\n";
    return exit_failed;
  }
  return c.run(term);
}

}  // namespace syncline::tools
