#include "diagnose/quantile_sketch.hpp"

#include <cmath>
#include <random>
#include <vector>
#include <algorithm>

#include <gtest/gtest.h>

#include "diagnose/log_stats.hpp"

namespace dbmedic::diagnose {
namespace {

double Exact(std::vector<double> v, double q) {
  std::sort(v.begin(), v.end());
  auto rank = static_cast<std::size_t>(std::ceil(q * static_cast<double>(v.size())));
  return v[rank == 0 ? 0 : rank - 1];  // nearest rank
}

TEST(QuantileSketch, EmptyIsZero) {
  QuantileSketch s;
  EXPECT_EQ(s.Quantile(0.5), 0);
  EXPECT_EQ(s.count(), 0u);
}

TEST(QuantileSketch, WithinRelativeAccuracyOnSkewedData) {
  std::mt19937_64 rng(7);
  std::lognormal_distribution<double> dist(0.0, 2.0);
  std::vector<double> values;
  QuantileSketch s;
  for (int i = 0; i < 100000; ++i) {
    double v = dist(rng);
    values.push_back(v);
    s.Add(v);
  }
  for (double q : {0.5, 0.95, 0.99, 1.0}) {
    double exact = Exact(values, q);
    EXPECT_NEAR(s.Quantile(q), exact, exact * QuantileSketch::kRelativeAccuracy * 1.0001)
        << "q=" << q;
  }
}

TEST(QuantileSketch, MergeEqualsAddingEverything) {
  QuantileSketch a, b, all;
  for (int i = 1; i <= 1000; ++i) {
    (i % 2 ? a : b).Add(i * 0.37);
    all.Add(i * 0.37);
  }
  a.Merge(b);
  EXPECT_EQ(a.count(), all.count());
  for (double q : {0.1, 0.5, 0.9, 0.99}) EXPECT_DOUBLE_EQ(a.Quantile(q), all.Quantile(q));
}

TEST(QuantileSketch, NearestRankOfTwoValues) {
  QuantileSketch s;
  s.Add(12.5);
  s.Add(37.5);
  EXPECT_NEAR(s.Quantile(0.5), 12.5, 12.5 * QuantileSketch::kRelativeAccuracy);
  EXPECT_NEAR(s.Quantile(0.95), 37.5, 37.5 * QuantileSketch::kRelativeAccuracy);
}

TEST(QuantileSketch, ZerosAreCounted) {
  QuantileSketch s;
  for (int i = 0; i < 9; ++i) s.Add(0);
  s.Add(100);
  EXPECT_EQ(s.Quantile(0.5), 0);
  EXPECT_NEAR(s.Quantile(1.0), 100, 1);
}

TEST(Timing, OneExecutionReportsItsDurationForEveryPercentile) {
  Timing t;
  t.Add(6026.236);
  EXPECT_DOUBLE_EQ(t.Quantile(0.50), 6026.236);
  EXPECT_DOUBLE_EQ(t.Quantile(0.99), 6026.236);
}

TEST(Timing, PercentilesStayWithinTheExactMinAndMax) {
  Timing a, b;
  a.Add(5282.009);
  b.Add(5341.370);
  a.Merge(b);
  EXPECT_DOUBLE_EQ(a.min_ms, 5282.009);
  EXPECT_DOUBLE_EQ(a.Quantile(0.99), 5341.370);  // the bucket's representative is above it
  EXPECT_DOUBLE_EQ(a.Quantile(0.0), 5282.009);
}

TEST(Timing, MergingAnEmptyTimingKeepsTheMinimum) {
  Timing a, empty;
  a.Add(3);
  a.Merge(empty);
  empty.Merge(a);
  EXPECT_DOUBLE_EQ(a.min_ms, 3);
  EXPECT_DOUBLE_EQ(empty.min_ms, 3);
}

}  // namespace
}  // namespace dbmedic::diagnose
