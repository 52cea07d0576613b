// One-run comparison of the VHD engine with the standard tools, on the same
// sparse 1 GiB raw disk and the same local Azurite (see README.md):
//   (a) UploadVhd (raw -> fixed-VHD page blob)   vs  az storage blob upload --type page
//   (b) ComputeVhdSha256 (the upload's hash pass) vs  sha256sum
//   (c) UploadVhd straight from raw               vs  qemu-img convert -O vpc -o subformat=fixed
//                                                     followed by the same upload
// Every contender runs as a child process, so wall time and peak RSS (wait4) are
// measured the same way for all of them.
//
//   build-release/bin/vhd_upload_bench [--size-mib 1024] [--data-mib 8] [--parallelism 8] [--repeat
//   3]
// Each contender runs --repeat times after a warm-up; the median wall time is reported.
#include <fcntl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "controller/azure/blob_client.h"
#include "controller/common/crypto.h"
#include "controller/common/log.h"
#include "controller/image/vhd_upload.h"
#include "tests/support/azurite/azurite.h"

namespace vmrelease {
namespace {

constexpr int64_t kMiB = 1024 * 1024;

struct Run {
  double seconds = 0;
  double peak_rss_mib = 0;
  int exit_code = -1;
};

// Runs argv with extra environment, stdout/stderr to `log`, and measures it.
Run Measure(const std::vector<std::string>& argv, const std::vector<std::string>& env,
            const std::string& log) {
  const auto start = std::chrono::steady_clock::now();
  const pid_t pid = fork();
  if (pid == 0) {
    const int fd = open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
    dup2(fd, 1);
    dup2(fd, 2);
    for (const auto& e : env) putenv(const_cast<char*>(e.c_str()));
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    execvp(args[0], args.data());
    _exit(127);
  }
  int status = 0;
  struct rusage ru {};
  wait4(pid, &status, 0, &ru);
  Run r;
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  r.peak_rss_mib = static_cast<double>(ru.ru_maxrss) / 1024.0;  // ru_maxrss is in KiB
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return r;
}

// Runs `make_argv(i)` `repeat` times; returns the median wall time and the largest peak RSS.
template <typename MakeArgv>
Run MeasureMedian(int repeat, MakeArgv make_argv, const std::vector<std::string>& env,
                  const std::string& log) {
  std::vector<Run> runs;
  for (int i = 0; i < repeat; ++i) runs.push_back(Measure(make_argv(i), env, log));
  std::sort(runs.begin(), runs.end(),
            [](const Run& a, const Run& b) { return a.seconds < b.seconds; });
  Run out = runs[runs.size() / 2];
  for (const Run& r : runs) {
    out.peak_rss_mib = std::max(out.peak_rss_mib, r.peak_rss_mib);
    if (r.exit_code != 0) out.exit_code = r.exit_code;
  }
  return out;
}

std::string SelfPath() {
  char buf[4096];
  const ssize_t n = readlink("/proc/self/exe", buf, sizeof(buf) - 1);
  return n > 0 ? std::string(buf, static_cast<size_t>(n)) : "vhd_upload_bench";
}

int64_t AllocatedBytes(const std::string& path) {
  struct stat st {};
  return stat(path.c_str(), &st) == 0 ? static_cast<int64_t>(st.st_blocks) * 512 : -1;
}

// Child mode: upload one file with UploadVhd.
int ChildUpload(const std::string& account_url, const std::string& blob, const std::string& path,
                int parallelism) {
  log::Init(log::Format::kText, log::Level::kWarn);
  auto signer = azure::SharedKeySigner::Create(testing::kAzuriteAccount, testing::kAzuriteKey);
  auto client = azure::BlobClient::Create({.account_url = account_url},
                                          azure::SharedKeyAuth(std::move(*signer)));
  if (!client.ok()) return 2;
  auto r = image::UploadVhd(**client, {"bench", blob}, path, {.parallelism = parallelism});
  if (!r.ok()) {
    std::fprintf(stderr, "%s\n", r.status().ToString().c_str());
    return 1;
  }
  std::printf("%s uploaded=%lld skipped=%lld calls=%lld\n", r->sha256.c_str(),
              static_cast<long long>(r->bytes_uploaded), static_cast<long long>(r->bytes_skipped),
              static_cast<long long>(r->put_page_calls));
  return 0;
}

// Child mode: the upload's hash pass alone.
int ChildSha256(const std::string& path) {
  auto src = image::InspectDisk(path, std::chrono::system_clock::now());
  if (!src.ok()) return 2;
  auto sha = image::ComputeVhdSha256(*src);
  if (!sha.ok()) return 1;
  std::printf("%s\n", sha->c_str());
  return 0;
}

void Row(const char* what, const Run& r) {
  std::printf("  %-58s %8.2f s %9.1f MiB%s\n", what, r.seconds, r.peak_rss_mib,
              r.exit_code == 0 ? "" : "  (FAILED)");
}

void Ratio(const char* what, double ours, double theirs) {
  std::printf("  %-58s %8.2fx\n", what, theirs / ours);
}

int Main(int argc, char** argv) {
  if (argc >= 2 && std::string(argv[1]) == "--child-upload" && argc == 6) {
    return ChildUpload(argv[2], argv[3], argv[4], std::stoi(argv[5]));
  }
  if (argc == 3 && std::string(argv[1]) == "--child-sha256") return ChildSha256(argv[2]);
  int64_t size_mib = 1024;
  int64_t data_mib = 8;
  int parallelism = 8;
  int repeat = 3;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--size-mib" && i + 1 < argc) {
      size_mib = std::stoll(argv[++i]);
    } else if (a == "--data-mib" && i + 1 < argc) {
      data_mib = std::stoll(argv[++i]);
    } else if (a == "--parallelism" && i + 1 < argc) {
      parallelism = std::stoi(argv[++i]);
    } else if (a == "--repeat" && i + 1 < argc) {
      repeat = std::max(1, std::stoi(argv[++i]));
    } else {
      std::fprintf(stderr,
                   "usage: %s [--size-mib N] [--data-mib N] [--parallelism N] [--repeat N]\n",
                   argv[0]);
      return 2;
    }
  }
  log::Init(log::Format::kText, log::Level::kWarn);
  auto azurite = testing::Azurite::Start();
  if (!azurite.ok()) {
    std::fprintf(stderr, "starting Azurite: %s\n", azurite.status().ToString().c_str());
    return 1;
  }
  const std::string url = (*azurite)->account_url();
  {
    auto signer = azure::SharedKeySigner::Create(testing::kAzuriteAccount, testing::kAzuriteKey);
    auto client = azure::BlobClient::Create({.account_url = url}, azure::SharedKeyAuth(*signer));
    if (!client.ok() || !(*client)->CreateContainer("bench").ok()) return 1;
  }
  testing::TempDir dir;
  const std::string raw = dir.Join("disk.raw");
  const std::string log = dir.Join("children.log");
  {
    // Sparse: ftruncate, then `data_mib` MiB of random data in four scattered pieces.
    const int64_t size = size_mib * kMiB;
    const int64_t piece = std::max<int64_t>(1, data_mib * kMiB / 4);
    const int fd = open(raw.c_str(), O_CREAT | O_TRUNC | O_WRONLY, 0600);
    if (fd < 0 || ftruncate(fd, size) != 0) return 1;
    for (int64_t at : {int64_t{0}, size / 4 + 123, size / 2, size - piece}) {
      for (int64_t done = 0; done < piece && at + done < size;) {
        const int64_t n = std::min<int64_t>({piece - done, 16 * kMiB, size - at - done});
        const std::string data = RandomBytes(static_cast<size_t>(n));
        if (pwrite(fd, data.data(), data.size(), at + done) < 0) return 1;
        done += n;
      }
    }
    close(fd);
  }
  const std::string self = SelfPath();
  const std::string par = std::to_string(parallelism);
  const std::vector<std::string> az_env = {"AZURE_CONFIG_DIR=" + dir.Join("az"),
                                           "AZURE_CORE_COLLECT_TELEMETRY=no",
                                           "AZURE_CORE_ONLY_SHOW_ERRORS=yes"};
  std::printf(
      "vmrelease VHD engine benchmark: %lld MiB sparse raw disk (%lld MiB allocated), "
      "Azurite on %s, parallelism %d, median of %d runs\n\n",
      static_cast<long long>(size_mib), static_cast<long long>(AllocatedBytes(raw) / kMiB),
      url.c_str(), parallelism, repeat);

  auto n = [](const char* prefix, int i) { return prefix + std::to_string(i) + ".vhd"; };
  // Warm-up: Azurite, az and the page cache see one run of each before anything is timed.
  Measure({self, "--child-upload", url, "warm.vhd", raw, par}, {}, log);
  Measure({"az", "storage", "blob", "upload", "--connection-string",
           (*azurite)->connection_string(), "-c", "bench", "-n", "warm-az.vhd", "-f", raw, "--type",
           "page", "--no-progress", "-o", "none"},
          az_env, log);
  // (a) upload (every run writes a new blob: uploads are create-only)
  const Run ours = MeasureMedian(
      repeat,
      [&](int i) -> std::vector<std::string> {
        return {self, "--child-upload", url, n("ours", i), raw, par};
      },
      {}, log);
  const Run az = MeasureMedian(
      repeat,
      [&](int i) -> std::vector<std::string> {
        return {"az",
                "storage",
                "blob",
                "upload",
                "--connection-string",
                (*azurite)->connection_string(),
                "-c",
                "bench",
                "-n",
                n("az", i),
                "-f",
                raw,
                "--type",
                "page",
                "--no-progress",
                "-o",
                "none"};
      },
      az_env, log);
  // (b) hash
  const Run our_sha = MeasureMedian(
      repeat,
      [&](int) -> std::vector<std::string> {
        return {self, "--child-sha256", raw};
      },
      {}, log);
  const Run sha256sum = MeasureMedian(
      repeat,
      [&](int) -> std::vector<std::string> {
        return {"sha256sum", raw};
      },
      {}, log);
  // (c) convert first, then upload the converted file with the same uploader
  const std::string fixed = dir.Join("fixed.vhd");
  const Run convert = MeasureMedian(
      repeat,
      [&](int) -> std::vector<std::string> {
        unlink(fixed.c_str());
        return {"qemu-img", "convert", "-f", "raw",
                "-O",       "vpc",     "-o", "subformat=fixed,force_size=on",
                raw,        fixed};
      },
      {}, log);
  const Run converted_upload = MeasureMedian(
      repeat,
      [&](int i) -> std::vector<std::string> {
        return {self, "--child-upload", url, n("converted", i), fixed, par};
      },
      {}, log);
  Run two_step;
  two_step.seconds = convert.seconds + converted_upload.seconds;
  two_step.peak_rss_mib = std::max(convert.peak_rss_mib, converted_upload.peak_rss_mib);
  two_step.exit_code = convert.exit_code | converted_upload.exit_code;

  std::printf("%-60s %10s %13s\n", "", "wall", "peak RSS");
  std::printf("(a) upload to Azurite\n");
  Row("vmrelease UploadVhd (raw -> fixed VHD page blob)", ours);
  Row("az storage blob upload --type page (raw, no footer)", az);
  Ratio("speed-up vs az", ours.seconds, az.seconds);
  std::printf("(b) SHA-256 of the disk\n");
  Row("vmrelease ComputeVhdSha256 (raw + padding + footer)", our_sha);
  Row("sha256sum (raw)", sha256sum);
  Ratio("speed-up vs sha256sum", our_sha.seconds, sha256sum.seconds);
  std::printf("(c) raw disk to fixed-VHD page blob\n");
  Row("vmrelease UploadVhd straight from raw", ours);
  Row("qemu-img convert -O vpc -o subformat=fixed", convert);
  Row("  + UploadVhd of the converted file", converted_upload);
  Row("  = convert then upload", two_step);
  Ratio("speed-up vs convert + upload", ours.seconds, two_step.seconds);
  std::printf("  converted copy: %lld MiB apparent, %lld MiB allocated on disk (UploadVhd: none)\n",
              static_cast<long long>(size_mib),
              static_cast<long long>(AllocatedBytes(fixed) / kMiB));
  if (ours.exit_code || az.exit_code || our_sha.exit_code || sha256sum.exit_code ||
      two_step.exit_code) {
    std::printf("\nsome runs failed; see %s\n", log.c_str());
    std::printf("%s\n", testing::ReadFile(log).c_str());
    return 1;
  }
  return 0;
}

}  // namespace
}  // namespace vmrelease

int main(int argc, char** argv) { return vmrelease::Main(argc, argv); }
