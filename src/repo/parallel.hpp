// The worker pool backup, restore and verify share: runs task(i) for i in [0, count) on `jobs`
// threads. The first exception stops the hand-out of new tasks (running ones finish) and is
// rethrown to the caller once every thread has ended.
#pragma once

#include <cstddef>
#include <functional>

namespace dbmedic::repo {

// jobs <= 0: one per core.
int EffectiveJobs(int jobs);

void RunParallel(std::size_t count, int jobs, const std::function<void(std::size_t)>& task);

}  // namespace dbmedic::repo
