// More than one repository per cluster (a local one for fast restores, an off-site one). The
// [repository] / [s3] / [retention] sections are repository 1, as they always were; each
// [[repositories]] entry of the config file adds the next one with the same keys, written as
// section.key:
//
//   [[repositories]]                      # repository 2
//   repository.type = "s3"
//   repository.path = "/prod"
//   s3.endpoint = "https://s3.eu-west-1.amazonaws.com"
//   s3.bucket = "offsite"
//   retention.keep_full = 8
//
// Keys an entry leaves out take their defaults (nothing is inherited from repository 1).
// Environment: DBMEDIC_REPO<N>_<KEY>, e.g. DBMEDIC_REPO2_REPOSITORY_PASSPHRASE. Each repository
// is described by a whole core::Config whose repository.*, s3.* and retention.* keys are its own,
// so every function that takes a Config works on any of them unchanged.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "core/config.hpp"

namespace dbmedic::repo {

struct RepositoryConfig {
  int index = 1;        // 1-based, in config order
  core::Config config;  // the whole configuration, with this repository's sections
  // "repository 2 (s3://bucket/prefix at http://host:port)", for messages.
  std::string Describe() const;
};

// Sections that belong to one repository.
std::span<const std::string_view> RepositorySections();

// Every configured repository, repository 1 first. Throws Error(kConfig) naming the entry and key
// for a malformed [[repositories]] entry. Command-line repository options (--repo-key-file, ...)
// apply to repository 1 only.
std::vector<RepositoryConfig> ConfiguredRepositories(const core::Config& config);
// Repository `index` (1-based) alone; command-line repository options apply to it. Throws
// Error(kUsage) when there is no such repository, saying how many are configured.
RepositoryConfig SelectRepository(const core::Config& config, int index);

}  // namespace dbmedic::repo
