// Prefetch for restore_command: PostgreSQL asks for one segment at a time and replays it before
// asking for the next, so a plain `wal get` makes replay wait for the repository on every
// segment. After serving segment N, `wal get` starts (at most one) background prefetcher that
// fetches N+1..N+k in parallel into a spool directory beside %p (pg_wal/dbmedic-prefetch); the
// next `wal get` then only renames a verified file. Spool files are complete (written through a
// rename) or absent; files for segments before the one requested are removed.
#pragma once

#include <chrono>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "wal/archive.hpp"

namespace dbmedic::wal {

inline constexpr std::string_view kSpoolDirName = "dbmedic-prefetch";

// The spool next to restore_command's %p.
std::filesystem::path SpoolFor(const std::filesystem::path& dest);

// restore_command that takes a prefetched segment with `mv` (one exec of a small program) and
// runs `get_command` (dbmedic wal get ... %f "%p") only when the spool does not hold it: starting
// dbmedic costs ~45 ms (it links ~40 shared libraries), once per 16 MB segment of replay. A miss
// fetches the segment and starts the next prefetch, so there is one dbmedic start per
// `wal.prefetch` + 1 segments.
std::string SpoolFirstRestoreCommand(const std::string& get_command);

// Moves a prefetched `name` onto `dest`; false when the spool does not hold it. Removes spooled
// segments older than `name` (a timeline switch or a restart left them behind).
bool TakeFromSpool(const std::filesystem::path& spool, const std::string& name,
                   const std::filesystem::path& dest);

// The `count` segment names after `name` on its timeline (empty for non-segment names), minus
// those already spooled.
std::vector<std::string> SegmentsToPrefetch(const std::filesystem::path& spool,
                                            const std::string& name, int count);

// A segment the prefetcher is fetching has a marker "<name>.fetching" in the spool meanwhile.
inline constexpr std::string_view kFetchingSuffix = ".fetching";

// For a `wal get` that did not find `name` in the spool: when the prefetcher is fetching it
// (marker present), waits until it is spooled and moves it onto `dest` (true), rather than
// fetching it a second time on the CPU the prefetcher and the replay share. False at once when
// it is not being fetched, when the prefetcher ends without it, or after `limit`.
bool AwaitPrefetched(const std::filesystem::path& spool, const std::string& name,
                     const std::filesystem::path& dest,
                     std::chrono::milliseconds limit = std::chrono::seconds(30));

// Whether a prefetcher holds the spool's lock now (then starting another one is wasted work:
// it would find the lock held and exit).
bool PrefetcherRunning(const std::filesystem::path& spool);

// Counts one segment served from the spool (a byte appended to <spool>/served), for the report
// of EndPrefetch.
void NoteServed(const std::filesystem::path& spool);

// For recovery_end_command (`wal recovery-end`): waits until no prefetcher holds the spool, then
// removes it. Returns the number of segments served from it (0 when there is no spool).
std::uint64_t EndPrefetch(const std::filesystem::path& spool);

// Starts `argv` as a detached grandchild (new session, not waited for), so restore_command
// returns at once. Errors are logged, not thrown: prefetch is an optimisation. Its stdin and
// stdout are /dev/null; stderr is appended to `log_file` when given (so it does not keep the
// caller's stderr pipe open), else inherited (the server log, under archive/restore_command).
void LaunchDetached(const std::vector<std::string>& argv,
                    const std::filesystem::path& log_file = {});

// Body of the background prefetcher: takes an exclusive lock on the spool (returns at once when
// another prefetcher holds it), then fetches `names` with `jobs` threads, each taking the next
// segment as soon as it has written one (no batches: a worker never waits for another's
// segment to be done). A name missing from the archive ends the prefetch quietly (end of the
// archive).
//
// With keep_ahead > 0 it then stays and keeps up to keep_ahead segments in the spool (counting
// those being fetched), fetching the ones after the last it handed out as PostgreSQL takes
// them: a prefetcher that stops after its batch leaves replay waiting for a synchronous `wal
// get` (one process start and one fetch) at every keep_ahead + 1 segments, which was 10 s of a
// 52 s replay of 1.1 GB. It ends at the end of the archive, when EndPrefetch asks it to, or
// after idle_limit with a full spool and nobody taking from it (recovery paused, a timeline
// switch, a server stopped).
// How one segment gets into the spool: WalArchive::Get, or undo's filtered fetch
// (wal/wal_filter.hpp). Returns false when the archive does not have it.
using SegmentFetch = std::function<bool(const std::string& name, const std::filesystem::path& dest)>;
// `fetch` empty: archive.Get.
void RunPrefetch(const WalArchive& archive, const std::filesystem::path& spool,
                 const std::vector<std::string>& names, int jobs, int keep_ahead = 0,
                 std::chrono::milliseconds idle_limit = std::chrono::seconds(30),
                 const SegmentFetch& fetch = {});

}  // namespace dbmedic::wal
