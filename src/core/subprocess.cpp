#include "core/subprocess.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <grp.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <fmt/format.h>

#include "core/error.hpp"
#include "core/fs.hpp"

extern char** environ;

namespace dbmedic::core {
namespace {

using Clock = std::chrono::steady_clock;

struct Pipe {
  int fds[2] = {-1, -1};
  Pipe() {
    if (::pipe2(fds, O_CLOEXEC) != 0) throw SystemError(errno, "create", "pipe");
  }
  ~Pipe() noexcept {
    CloseRead();
    CloseWrite();
  }
  void CloseRead() {
    if (fds[0] >= 0) ::close(fds[0]);
    fds[0] = -1;
  }
  void CloseWrite() {
    if (fds[1] >= 0) ::close(fds[1]);
    fds[1] = -1;
  }
};

std::vector<std::string> BuildEnv(const RunOptions& options, const std::optional<UserIds>& user) {
  std::map<std::string, std::string> env;
  for (char** e = environ; *e; ++e) {
    std::string_view kv(*e);
    auto eq = kv.find('=');
    if (eq != std::string_view::npos) env[std::string(kv.substr(0, eq))] = kv.substr(eq + 1);
  }
  if (user) {
    env["HOME"] = user->home.string();
    env["USER"] = user->name;
    env["LOGNAME"] = user->name;
  }
  for (const auto& [k, v] : options.env) env[k] = v;
  std::vector<std::string> out;
  for (const auto& [k, v] : env) out.push_back(k + "=" + v);
  return out;
}

// Runs in the child between fork and exec: only async-signal-safe calls, then _exit on failure.
// argv/envp are prepared before fork: malloc is not safe in the child of a threaded process.
[[noreturn]] void ExecChild(char* const* args, char* const* envp, const RunOptions& options,
                            const std::optional<UserIds>& user, int in_fd, int out_fd,
                            int err_fd) {
  if (options.detach) ::setsid();
  ::dup2(in_fd, 0);
  if (out_fd >= 0) ::dup2(out_fd, 1);
  if (err_fd >= 0) ::dup2(err_fd, 2);
  if (user) {
    if (::setgid(user->gid) != 0 || ::initgroups(user->name.c_str(), user->gid) != 0 ||
        ::setuid(user->uid) != 0) {
      ::_exit(126);
    }
  }
  if (!options.cwd.empty() && ::chdir(options.cwd.c_str()) != 0) ::_exit(126);
  ::execvpe(args[0], args, envp);
  ::_exit(127);
}

int DecodeStatus(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return 255;
}

}  // namespace

std::string DescribeCommand(const std::vector<std::string>& argv) {
  std::string out;
  for (const auto& a : argv) {
    if (!out.empty()) out += ' ';
    bool quote = a.empty() || a.find_first_of(" \t'\"$") != std::string::npos;
    out += quote ? "'" + a + "'" : a;
  }
  return out;
}

ProcessResult RunProcess(const std::vector<std::string>& argv, const RunOptions& options) {
  if (argv.empty()) throw Error(ErrorCode::kInternal, "RunProcess: empty command");
  std::optional<UserIds> user;
  if (options.as_user && IsRoot() && *options.as_user != "root") {
    user = LookupUser(*options.as_user);
    if (!user) {
      throw Error(ErrorCode::kConfig, fmt::format("OS user '{}' does not exist", *options.as_user),
                  "create the user or set cluster.os_user to an existing one");
    }
  }
  auto env = BuildEnv(options, user);
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  std::vector<char*> envp;
  for (const auto& e : env) envp.push_back(const_cast<char*>(e.c_str()));
  envp.push_back(nullptr);
  int null_fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  Pipe in, out, err;
  pid_t pid = ::fork();
  if (pid < 0) throw SystemError(errno, "fork for", argv[0]);
  if (pid == 0) {
    ExecChild(args.data(), envp.data(), options, user, options.stdin_data ? in.fds[0] : null_fd,
              options.capture_output ? out.fds[1] : -1, options.capture_output ? err.fds[1] : -1);
  }
  ::close(null_fd);
  in.CloseRead();
  out.CloseWrite();
  err.CloseWrite();
  if (!options.stdin_data) in.CloseWrite();

  ProcessResult result;
  std::string_view to_write = options.stdin_data ? std::string_view(*options.stdin_data) : "";
  auto deadline = Clock::now() + options.timeout;
  bool timed_out = false;
  while (out.fds[0] >= 0 || err.fds[0] >= 0 || in.fds[1] >= 0) {
    pollfd pfds[3];
    int n = 0;
    if (out.fds[0] >= 0) pfds[n++] = {out.fds[0], POLLIN, 0};
    if (err.fds[0] >= 0) pfds[n++] = {err.fds[0], POLLIN, 0};
    if (in.fds[1] >= 0) pfds[n++] = {in.fds[1], POLLOUT, 0};
    int wait_ms = -1;
    if (options.timeout.count() > 0) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
      if (left.count() <= 0) {
        timed_out = true;
        break;
      }
      wait_ms = static_cast<int>(left.count());
    }
    int rc = ::poll(pfds, static_cast<nfds_t>(n), wait_ms);
    if (rc < 0 && errno == EINTR) continue;
    if (rc < 0) break;
    for (int i = 0; i < n; ++i) {
      if (pfds[i].revents == 0) continue;
      if (pfds[i].fd == in.fds[1]) {
        ssize_t w = ::write(in.fds[1], to_write.data(), to_write.size());
        if (w > 0) to_write.remove_prefix(static_cast<size_t>(w));
        if (w < 0 || to_write.empty()) in.CloseWrite();
        continue;
      }
      char buf[65536];
      ssize_t r = ::read(pfds[i].fd, buf, sizeof buf);
      bool is_out = pfds[i].fd == out.fds[0];
      if (r <= 0) {
        is_out ? out.CloseRead() : err.CloseRead();
      } else {
        (is_out ? result.out : result.err).append(buf, static_cast<size_t>(r));
      }
    }
  }
  if (timed_out) ::kill(pid, SIGKILL);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  result.exit_code = DecodeStatus(status);
  if (timed_out) {
    throw Error(ErrorCode::kTimeout,
                fmt::format("command did not finish within {} ms: {}", options.timeout.count(),
                            DescribeCommand(argv)));
  }
  if (result.exit_code == 127) {
    throw Error(ErrorCode::kNotFound, fmt::format("unable to run '{}': not found", argv[0]));
  }
  return result;
}

ProcessResult RunChecked(const std::vector<std::string>& argv, const RunOptions& options) {
  ProcessResult result = RunProcess(argv, options);
  if (!result.ok()) {
    std::string err = result.err.empty() ? result.out : result.err;
    while (!err.empty() && (err.back() == '\n' || err.back() == ' ')) err.pop_back();
    throw Error(ErrorCode::kIo, fmt::format("command failed with exit code {}: {}: {}",
                                            result.exit_code, DescribeCommand(argv), err));
  }
  return result;
}

int FindFreeTcpPort() {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) throw SystemError(errno, "create", "socket");
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof addr;
  int port = -1;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
    port = ntohs(addr.sin_port);
  }
  int err = errno;
  ::close(fd);
  if (port < 0) throw SystemError(err, "bind", "127.0.0.1:0");
  return port;
}

}  // namespace dbmedic::core
