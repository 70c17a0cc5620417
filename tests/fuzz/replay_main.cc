// Replays fuzz inputs through LLVMFuzzerTestOneInput without libFuzzer, so that any compiler
// builds it (g++ in the Release and ASan builds): ctest's fuzz.corpus_replay runs every seed and
// regression input of tests/fuzz/corpus in every build. It does not fuzz: nothing is mutated.
//   request_fuzz_replay DIR|FILE...
// A broken invariant aborts (as under libFuzzer); no input at all is a failure too, so that a
// moved corpus cannot pass by replaying nothing.
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <system_error>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

namespace {

namespace fs = std::filesystem;

// The files named, and the regular files under the folders named, in a stable order.
std::vector<fs::path> inputsOf(int argc, char** argv, bool* ok) {
  std::vector<fs::path> inputs;
  for (int i = 1; i < argc; ++i) {
    fs::path arg(argv[i]);
    std::error_code ec;
    if (fs::is_directory(arg, ec)) {
      std::vector<fs::path> found;
      for (const fs::directory_entry& e : fs::recursive_directory_iterator(arg, ec)) {
        if (e.is_regular_file()) {
          found.push_back(e.path());
        }
      }
      std::sort(found.begin(), found.end());
      inputs.insert(inputs.end(), found.begin(), found.end());
    } else if (fs::is_regular_file(arg, ec)) {
      inputs.push_back(arg);
    } else {
      std::fprintf(stderr, "request_fuzz_replay: %s: no such file or folder\n", argv[i]);
      *ok = false;
    }
  }
  return inputs;
}

bool readFile(const fs::path& path, std::vector<uint8_t>* data) {
  std::error_code ec;
  uintmax_t size = fs::file_size(path, ec);
  if (ec) {
    return false;
  }
  data->resize(static_cast<size_t>(size));
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) {
    return false;
  }
  size_t got = data->empty() ? 0 : std::fread(data->data(), 1, data->size(), f);
  std::fclose(f);
  return got == data->size();
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s DIR|FILE...\n", argv[0]);
    return 2;
  }
  bool ok = true;
  std::vector<fs::path> inputs = inputsOf(argc, argv, &ok);
  size_t bytes = 0;
  for (const fs::path& path : inputs) {
    // Exactly the input's size on the heap: ASan sees a read past its end, as under libFuzzer.
    std::vector<uint8_t> data;
    if (!readFile(path, &data)) {
      std::fprintf(stderr, "request_fuzz_replay: cannot read %s\n", path.c_str());
      ok = false;
      continue;
    }
    bytes += data.size();
    if (LLVMFuzzerTestOneInput(data.data(), data.size()) != 0) {
      std::fprintf(stderr, "request_fuzz_replay: %s: the target returned non-zero\n",
                   path.c_str());
      ok = false;
    }
  }
  std::printf("request_fuzz_replay: replayed %zu inputs (%zu bytes), no fuzzing\n",
              inputs.size(), bytes);
  if (inputs.empty()) {
    std::fprintf(stderr, "request_fuzz_replay: no inputs found\n");
    return 1;
  }
  return ok ? 0 : 1;
}
