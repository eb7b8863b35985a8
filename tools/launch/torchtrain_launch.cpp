// torchtrain-launch: starts the ranks of a distributed run on this machine with torchrun's variables, and watches them.
//
//   torchtrain-launch --nproc_per_node N [--nnodes M] [--node_rank K] [--master_addr HOST]
//                     [--master_port PORT] [--grace_period SECONDS] [--] program [args...]
//
// Each rank gets RANK, WORLD_SIZE, LOCAL_RANK, LOCAL_WORLD_SIZE, GROUP_RANK, MASTER_ADDR
// and MASTER_PORT, as from `torchrun --no-python`. SIGINT and SIGTERM are forwarded to
// every rank. When a rank fails, the others get --grace_period seconds to stop by
// themselves (a torchtrain rank stops with an error within --ddp_timeout once a peer is
// gone), then SIGTERM, then SIGKILL. The exit status is the worst of the ranks that ended
// by themselves: the largest exit code, 128 + N for a rank killed by signal N.
#include <algorithm>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <sys/prctl.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <fmt/format.h>

#include "free_port.hpp"

namespace {

struct UsageError {
  std::string message;
};

struct Options {
  int nproc_per_node = 0;
  int nnodes = 1;
  int node_rank = 0;
  std::string master_addr = "127.0.0.1";
  std::optional<int> master_port;
  int grace_period = 30;
  std::vector<std::string> command;
};

constexpr std::string_view usage =
    "usage: torchtrain-launch --nproc_per_node N [--nnodes M] [--node_rank K] [--master_addr HOST]\n"
    "                         [--master_port PORT] [--grace_period SECONDS] [--] program [args...]\n";

int parse_int(std::string_view flag, std::string_view text, int min, int max) {
  int value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size() || value < min || value > max)
    throw UsageError{fmt::format("--{} {}: expected a whole number in [{}, {}]", flag, text, min, max)};
  return value;
}

Options parse(int argc, char** argv) {
  Options options;
  bool master_addr_given = false;
  int i = 1;
  for (; i < argc; ++i) {
    std::string_view word = argv[i];
    if (word == "--") {
      ++i;
      break;
    }
    if (!word.starts_with("--")) break;  // the program
    word.remove_prefix(2);
    std::string_view value;
    if (const auto equals = word.find('='); equals != std::string_view::npos) {
      value = word.substr(equals + 1);
      word = word.substr(0, equals);
    } else {
      if (word == "help") throw UsageError{""};
      if (i + 1 >= argc) throw UsageError{fmt::format("--{} needs a value", word)};
      value = argv[++i];
    }
    if (word == "nproc_per_node" || word == "nproc-per-node")
      options.nproc_per_node = parse_int("nproc_per_node", value, 1, 4096);
    else if (word == "nnodes")
      options.nnodes = parse_int("nnodes", value, 1, 65536);
    else if (word == "node_rank" || word == "node-rank")
      options.node_rank = parse_int("node_rank", value, 0, 65535);
    else if (word == "master_addr" || word == "master-addr")
      options.master_addr = value, master_addr_given = true;
    else if (word == "master_port" || word == "master-port")
      options.master_port = parse_int("master_port", value, 1, 65535);
    else if (word == "grace_period")
      options.grace_period = parse_int("grace_period", value, 0, 86400);
    else
      throw UsageError{fmt::format("unknown flag --{}", word)};
  }
  for (; i < argc; ++i) options.command.emplace_back(argv[i]);
  if (options.nproc_per_node == 0) throw UsageError{"--nproc_per_node is required: the number of ranks on this machine"};
  if (options.command.empty()) throw UsageError{"no program to launch: give it after the flags"};
  if (options.node_rank >= options.nnodes)
    throw UsageError{fmt::format("--node_rank {} is not below --nnodes {}: node ranks count from 0", options.node_rank,
                                 options.nnodes)};
  if (options.nnodes > 1 && !master_addr_given)
    throw UsageError{"--nnodes > 1 needs --master_addr: the address of node 0, which every node can reach"};
  if (options.nnodes > 1 && !options.master_port)
    throw UsageError{"--nnodes > 1 needs --master_port: one port, the same on every node"};
  return options;
}

struct Rank {
  int rank = 0;
  pid_t pid = 0;
  bool running = true;
  bool stopped_by_us = false;  // terminated after another rank failed
  int status = 0;              // exit code, or 128 + signal
};

int exit_code(int wait_status) {
  if (WIFEXITED(wait_status)) return WEXITSTATUS(wait_status);
  if (WIFSIGNALED(wait_status)) return 128 + WTERMSIG(wait_status);
  return 1;
}

void signal_all(std::vector<Rank>& ranks, int signal, bool stopping) {
  for (auto& rank : ranks)
    if (rank.running) {
      ::kill(-rank.pid, signal);  // its process group: the rank and anything it started
      if (stopping) {
        rank.stopped_by_us = true;
        ::kill(-rank.pid, SIGCONT);  // a stopped rank (SIGSTOP, a debugger) takes the signal only once continued
      }
    }
}

int run(const Options& options) {
  const auto port = options.master_port ? options.master_port : torchtrain_launch::free_port();
  if (!port) throw UsageError{fmt::format("cannot find a free port ({}); give --master_port", std::strerror(errno))};
  const int world_size = options.nnodes * options.nproc_per_node;
  // The launcher takes these signals synchronously (sigtimedwait); ranks get the default handling back.
  sigset_t watched, previous;
  sigemptyset(&watched);
  for (int signal : {SIGCHLD, SIGINT, SIGTERM, SIGHUP}) sigaddset(&watched, signal);
  sigprocmask(SIG_BLOCK, &watched, &previous);

  std::vector<Rank> ranks;
  const pid_t launcher = ::getpid();
  for (int local = 0; local < options.nproc_per_node; ++local) {
    const int rank = options.node_rank * options.nproc_per_node + local;
    const pid_t pid = ::fork();
    if (pid < 0) {
      fmt::print(stderr, "torchtrain-launch: cannot start rank {}: {}\n", rank, std::strerror(errno));
      signal_all(ranks, SIGTERM, true);
      return 1;
    }
    if (pid == 0) {
      // Its own process group: a terminal's Ctrl-C reaches the launcher only, which
      // forwards it once to every rank.
      ::setpgid(0, 0);
      sigprocmask(SIG_SETMASK, &previous, nullptr);
      // SIGTERM when the launcher dies, however (SIGKILL included): no rank trains on as an
      // orphan. If it died before this line, the rank has a new parent already: stop here.
      ::prctl(PR_SET_PDEATHSIG, SIGTERM);
      if (::getppid() != launcher) ::_exit(128 + SIGTERM);
      const auto set = [](const char* name, const std::string& value) { ::setenv(name, value.c_str(), 1); };
      set("RANK", std::to_string(rank));
      set("WORLD_SIZE", std::to_string(world_size));
      set("LOCAL_RANK", std::to_string(local));
      set("LOCAL_WORLD_SIZE", std::to_string(options.nproc_per_node));
      set("GROUP_RANK", std::to_string(options.node_rank));
      set("MASTER_ADDR", options.master_addr);
      set("MASTER_PORT", std::to_string(*port));
      std::vector<char*> argv;
      for (const auto& word : options.command) argv.push_back(const_cast<char*>(word.c_str()));
      argv.push_back(nullptr);
      ::execvp(argv[0], argv.data());
      fmt::print(stderr, "torchtrain-launch: cannot run '{}': {}\n", options.command[0], std::strerror(errno));
      ::_exit(127);
    }
    ::setpgid(pid, pid);  // also here, so a signal forwarded at once finds the group
    ranks.push_back({.rank = rank, .pid = pid});
  }

  using Clock = std::chrono::steady_clock;
  std::optional<Clock::time_point> terminate_at, kill_at;
  auto running = ranks.size();
  bool forwarded = false;
  while (running > 0) {
    // Wake at least once a second to act on the grace deadlines.
    timespec wait{1, 0};
    const int signal = ::sigtimedwait(&watched, nullptr, &wait);
    if (signal == SIGINT || signal == SIGTERM || signal == SIGHUP) {
      fmt::print(stderr, "torchtrain-launch: got {}, passing it to every rank\n", strsignal(signal));
      signal_all(ranks, signal, false);
      forwarded = true;  // ranks ending on it are doing as asked, not failing
    }
    int status = 0;
    pid_t pid;
    while ((pid = ::waitpid(-1, &status, WNOHANG)) > 0) {
      auto it = std::find_if(ranks.begin(), ranks.end(), [&](const Rank& r) { return r.pid == pid; });
      if (it == ranks.end() || !it->running) continue;
      it->running = false;
      it->status = exit_code(status);
      --running;
      if (it->status != 0 && !it->stopped_by_us) {
        fmt::print(stderr, "torchtrain-launch: rank {} (pid {}) exited with status {}\n", it->rank, pid, it->status);
        if (!terminate_at && !forwarded && running > 0) {
          fmt::print(stderr,
                     "torchtrain-launch: giving the other ranks {} s to stop by themselves (--grace_period), then "
                     "terminating them\n",
                     options.grace_period);
          terminate_at = Clock::now() + std::chrono::seconds(options.grace_period);
        }
      }
    }
    if (terminate_at && !kill_at && Clock::now() >= *terminate_at && running > 0) {
      fmt::print(stderr, "torchtrain-launch: terminating the {} rank(s) still running\n", running);
      signal_all(ranks, SIGTERM, true);
      kill_at = Clock::now() + std::chrono::seconds(5);
    }
    if (kill_at && Clock::now() >= *kill_at && running > 0) {
      signal_all(ranks, SIGKILL, true);
    }
  }
  int worst = 0;
  for (const auto& rank : ranks)
    if (!rank.stopped_by_us) worst = std::max(worst, rank.status);
  return worst;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return run(parse(argc, argv));
  } catch (const UsageError& error) {
    if (!error.message.empty()) fmt::print(stderr, "torchtrain-launch: {}\n", error.message);
    fmt::print(stderr, "{}", usage);
    return error.message.empty() ? 0 : 2;
  }
}
