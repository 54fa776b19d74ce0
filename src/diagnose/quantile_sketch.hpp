// A bounded, mergeable quantile sketch for durations (DDSketch-style log buckets): every value v
// lands in bucket ceil(log_gamma(v)) with gamma = (1 + a) / (1 - a), a = 1%. A quantile is
// answered with the bucket's representative 2 * gamma^i / (gamma + 1), whose relative error is
// at most a (1%) for any rank. Memory: one counter per occupied bucket between the smallest and
// largest value, at most ~1,300 buckets for 1 us .. 1 day (about 10 KiB), whatever the count.
#pragma once

#include <cstdint>
#include <vector>

namespace dbmedic::diagnose {

class QuantileSketch {
 public:
  static constexpr double kRelativeAccuracy = 0.01;

  void Add(double value);
  void Merge(const QuantileSketch& other);
  // q in [0, 1]; 0 when empty. Values <= kMinValue are reported as 0.
  double Quantile(double q) const;
  std::uint64_t count() const { return count_; }

  static constexpr double kMinValue = 1e-6;

 private:
  int Index(double value) const;
  void Grow(int index);

  std::vector<std::uint64_t> buckets_;  // buckets_[k] counts index first_index_ + k
  int first_index_ = 0;
  std::uint64_t zeros_ = 0;  // values <= kMinValue
  std::uint64_t count_ = 0;
};

}  // namespace dbmedic::diagnose
