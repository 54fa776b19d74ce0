#include "diagnose/quantile_sketch.hpp"

#include <algorithm>
#include <cmath>

namespace dbmedic::diagnose {
namespace {

constexpr double kGamma = (1 + QuantileSketch::kRelativeAccuracy) /
                          (1 - QuantileSketch::kRelativeAccuracy);
const double kLogGamma = std::log(kGamma);

}  // namespace

int QuantileSketch::Index(double value) const {
  return static_cast<int>(std::ceil(std::log(value) / kLogGamma));
}

void QuantileSketch::Grow(int index) {
  if (buckets_.empty()) {
    buckets_.assign(1, 0);
    first_index_ = index;
    return;
  }
  int last_index = first_index_ + static_cast<int>(buckets_.size()) - 1;
  if (index < first_index_) {
    buckets_.insert(buckets_.begin(), static_cast<std::size_t>(first_index_ - index), 0);
    first_index_ = index;
  } else if (index > last_index) {
    buckets_.resize(buckets_.size() + static_cast<std::size_t>(index - last_index), 0);
  }
}

void QuantileSketch::Add(double value) {
  ++count_;
  if (!(value > kMinValue)) {  // also catches NaN
    ++zeros_;
    return;
  }
  int index = Index(value);
  Grow(index);
  ++buckets_[static_cast<std::size_t>(index - first_index_)];
}

void QuantileSketch::Merge(const QuantileSketch& other) {
  count_ += other.count_;
  zeros_ += other.zeros_;
  if (other.buckets_.empty()) return;
  Grow(other.first_index_);
  Grow(other.first_index_ + static_cast<int>(other.buckets_.size()) - 1);
  std::size_t offset = static_cast<std::size_t>(other.first_index_ - first_index_);
  for (std::size_t k = 0; k < other.buckets_.size(); ++k) buckets_[offset + k] += other.buckets_[k];
}

double QuantileSketch::Quantile(double q) const {
  if (count_ == 0) return 0;
  q = std::clamp(q, 0.0, 1.0);
  // Nearest rank: the ceil(q * n)-th smallest value (0-based rank below).
  auto rank = static_cast<std::uint64_t>(std::ceil(q * static_cast<double>(count_)));
  rank = rank == 0 ? 0 : rank - 1;
  if (rank < zeros_) return 0;
  std::uint64_t seen = zeros_;
  for (std::size_t k = 0; k < buckets_.size(); ++k) {
    seen += buckets_[k];
    if (seen > rank) {
      int index = first_index_ + static_cast<int>(k);
      return 2 * std::pow(kGamma, index) / (kGamma + 1);
    }
  }
  return 2 * std::pow(kGamma, first_index_ + static_cast<int>(buckets_.size()) - 1) / (kGamma + 1);
}

}  // namespace dbmedic::diagnose
