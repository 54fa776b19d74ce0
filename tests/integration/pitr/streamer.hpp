// `wal stream`'s receiver on a thread of the test, into an ArchivingCluster's repository.
#pragma once

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <thread>

#include <fmt/format.h>

#include "archiving_cluster.hpp"
#include "wal/stream_receiver.hpp"

namespace dbmedic::testing {

// A receiver on its own thread, stopped and joined by the destructor.
class Streamer {
 public:
  Streamer(ArchivingCluster& primary, const std::string& slot,
           std::function<void(pg::Lsn, pg::Lsn)> on_gap = {})
      : repository_(repo::OpenRepository(primary.config())),
        archive_(repository_, repository_.info().codec) {
    TestCluster& c = primary.cluster();
    wal::StreamOptions options;
    options.conninfo = fmt::format("host={} port={} user=postgres dbname=postgres",
                                   c.socket_dir().string(), c.port());
    options.slot = slot;
    options.partial_dir = primary.repo_dir() / "stream";
    options.reconnect_delay = std::chrono::milliseconds(200);
    options.status_interval = std::chrono::milliseconds(200);
    options.on_flush = [this](pg::Lsn lsn) { flushed_ = lsn.value; };
    options.on_gap = std::move(on_gap);
    receiver_ = std::make_unique<wal::StreamReceiver>(archive_, options);
    thread_ = std::thread([this] { receiver_->Run(stop_); });
  }
  ~Streamer() { Stop(); }

  void Stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }
  // Waits until the receiver has flushed `lsn`.
  void WaitFlushed(pg::Lsn lsn) const {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (flushed_ < lsn.value) {
      ASSERT_LT(std::chrono::steady_clock::now(), deadline) << "the receiver never flushed " << lsn.ToString();
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }
  const wal::WalArchive& archive() const { return archive_; }

 private:
  repo::Repository repository_;
  wal::WalArchive archive_;
  std::unique_ptr<wal::StreamReceiver> receiver_;
  std::atomic<bool> stop_{false};
  std::atomic<std::uint64_t> flushed_{0};
  std::thread thread_;
};

}  // namespace dbmedic::testing
