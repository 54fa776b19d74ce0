#include "harness/s3_server.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <stdexcept>
#include <thread>
#include <vector>

#include <fmt/format.h>

namespace dbmedic::testing {
namespace {

bool Accepts(int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<std::uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  const bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
  ::close(fd);
  return ok;
}

}  // namespace

int FreePort() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    ::close(fd);
    throw std::runtime_error("cannot bind a free port");
  }
  socklen_t len = sizeof(addr);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return ntohs(addr.sin_port);
}

std::filesystem::path S3Server::Executable() {
  if (const char* env = std::getenv("DBMEDIC_S3RVER")) return env;
  return "/opt/dbmedic-s3rver/node_modules/.bin/s3rver";
}

S3Server::S3Server(std::string bucket) : bucket_(std::move(bucket)), dir_("dbmedic-s3") {
  Start();
}

S3Server::~S3Server() noexcept { Stop(); }

void S3Server::Start() {
  if (running()) return;
  if (!std::filesystem::exists(Executable())) {
    throw std::runtime_error(fmt::format("s3rver not found at {}: run scripts/install-s3rver.sh",
                                         Executable().string()));
  }
  if (port_ == 0) port_ = FreePort();
  const std::string exe = Executable().string();
  const std::string data = (dir_.path() / "data").string();
  const std::string log = (dir_.path() / "s3rver.log").string();
  const std::string port = std::to_string(port_);
  const pid_t pid = ::fork();
  if (pid < 0) throw std::runtime_error("fork failed");
  if (pid == 0) {
    const int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (fd >= 0) {
      ::dup2(fd, 1);
      ::dup2(fd, 2);
    }
    ::setpgid(0, 0);
    // s3rver 3.7 encrypts ListObjectsV2 continuation tokens with a cipher OpenSSL 3 only offers
    // in its legacy provider; without it every second page of a listing fails with HTTP 500.
    ::setenv("NODE_OPTIONS", "--openssl-legacy-provider", 1);
    ::execl(exe.c_str(), exe.c_str(), "-d", data.c_str(), "-a", "127.0.0.1", "-p", port.c_str(),
            "--silent", "--service-endpoint", "localhost", "--configure-bucket", bucket_.c_str(), static_cast<char*>(nullptr));
    ::_exit(127);
  }
  pid_ = pid;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (!Accepts(port_)) {
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      throw std::runtime_error(fmt::format("s3rver exited at start; see {}", log));
    }
    if (std::chrono::steady_clock::now() > deadline) {
      Stop();
      throw std::runtime_error(fmt::format("s3rver did not listen on {} within 60 s", port_));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

void S3Server::Stop() noexcept {
  if (pid_ <= 0) return;
  ::kill(-pid_, SIGKILL);  // its own process group: node and anything it started
  ::kill(pid_, SIGKILL);
  int status = 0;
  ::waitpid(pid_, &status, 0);
  pid_ = -1;
}

std::map<std::string, std::string> S3Server::RepositoryConfig(const std::string& prefix,
                                                              std::string endpoint) const {
  return {{"repository.type", "s3"},
          {"repository.path", prefix},
          {"s3.endpoint", endpoint.empty() ? this->endpoint() : endpoint},
          {"s3.bucket", bucket_},
          {"s3.uri_style", "path"},
          {"s3.key", "S3RVER"},
          {"s3.key_secret", "S3RVER"},
          {"s3.retries", "2"}};
}

std::vector<std::string> S3Server::RepositoryArgs(const std::string& prefix,
                                                  std::string endpoint) const {
  return {"--repository-type", "s3",
          "--repo", prefix,
          "--s3-endpoint", endpoint.empty() ? this->endpoint() : endpoint,
          "--s3-bucket", bucket_,
          "--s3-uri-style", "path"};
}

std::map<std::string, std::string> S3Server::S3Env() {
  return {{"AWS_ACCESS_KEY_ID", "S3RVER"}, {"AWS_SECRET_ACCESS_KEY", "S3RVER"}};
}

}  // namespace dbmedic::testing
