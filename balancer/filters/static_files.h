#pragma once

#include <memory>

#include "balancer/config.h"
#include "balancer/filters/filter.h"
#include "balancer/static_files/file_server.h"

namespace balancer::filters {

// A static route's last filter: it answers every request that reaches it from the files
// under the route's root (static_files::FileServer), so nothing goes upstream. It sits after
// the route's other filters: a token or a rate limit is checked before a file is served, and
// compress and the cache, before it, see its responses.
//
// Finding the file (opening each component of its path, fstat, the precompressed siblings)
// can wait on a disk, so it runs on libuv's thread pool while the exchange pauses, and reads
// the pages of files up to 1 MiB (OpenFile::kReadAheadMax). The worker's OpenFileCache keeps
// what it found: a request for a file found within the last second, and unchanged since
// (fstat), is answered at once on the loop, and its body, in the page cache, is sent on the
// loop too (sendfile, or pread for TLS and filters that read it). Larger files are read and
// sent on the pool, so the loop does not wait on the disk for them.
class StaticFiles final : public Filter {
 public:
  StaticFiles(const StaticFilesConfig& config, const std::string& strip_prefix)
      : server_(std::make_shared<const static_files::FileServer>(config.root, config.index,
                                                                   strip_prefix)) {}
  std::string_view name() const override { return "static"; }
  Verdict onRequestHead(FilterContext& ctx) override;

 private:
  // Shared with lookups in flight: a reload may drop this filter before they end.
  std::shared_ptr<const static_files::FileServer> server_;
};

}  // namespace balancer::filters
