#pragma once

#include <sys/stat.h>

#include <cstdint>
#include <memory>
#include <string>

#include "balancer/static_files/encoding_choice.h"
#include "balancer/static_files/path_resolver.h"

namespace balancer::static_files {

// A file a lookup found under a root, open, with its precompressed siblings, as they were
// when it looked. Read-only once made; shared by the responses that send it and the worker's
// OpenFileCache: the descriptors close when the last of them lets go.
struct OpenFile {
  // Files up to this size have their pages read by the lookup (on the thread pool), so that
  // sending them right after, on the loop, finds them in the page cache. Larger ones are
  // read and sent on the pool.
  static constexpr uint64_t kReadAheadMax = 1024 * 1024;

  struct Version {
    FileDescriptor fd;  // invalid: no such sibling
    struct stat stat {};
  };
  std::string name;     // the file's own name, for its content type
  Version versions[4];  // by Coding: the siblings (.zst, .br, .gz), then the file itself
  // Every version's bytes were read into the page cache by the lookup.
  bool pages_read = false;

  const Version& version(Coding coding) const { return versions[static_cast<size_t>(coding)]; }
  // Whether every open version is still what the lookup opened: the same size and
  // modification time, and still linked (a file deleted, or replaced by a rename, has no
  // name left). One fstat per version; it never waits on a local disk (the inode is held).
  bool unchanged() const;
};

// The lookup's second half, after resolveUnderRoot found `found` (kFile): opens the siblings
// beside it and, for files up to kReadAheadMax, reads every version's pages. Blocks on the
// disk: for the thread pool.
std::shared_ptr<const OpenFile> openWithSiblings(ResolvedFile found);

}  // namespace balancer::static_files
