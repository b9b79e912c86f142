// libzip is used in this file only.
#include "evidence/zip_archive.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <set>
#include <string_view>
#include <vector>

#include <zip.h>

#include "evidence/io.h"

namespace takeback::evidence::internal {
namespace {

namespace fs = std::filesystem;

struct ZipCloser {
  void operator()(zip_t* za) const { zip_discard(za); }  // only reached when not closed successfully
};
using ZipPtr = std::unique_ptr<zip_t, ZipCloser>;

struct ZipFileCloser {
  void operator()(zip_file_t* zf) const { zip_fclose(zf); }
};

std::string OpenError(int code) {
  zip_error_t error;
  zip_error_init_with_code(&error, code);
  std::string message = zip_error_strerror(&error);
  zip_error_fini(&error);
  return message;
}

bool IsTextFile(const std::string& name) {
  for (const std::string_view ext : {".json", ".txt", ".html", ".pem", ".sig"}) {
    if (name.size() >= ext.size() && name.compare(name.size() - ext.size(), ext.size(), ext) == 0) return true;
  }
  return name == "SHA256SUMS";
}

// A name a bundle may contain: relative, "/"-separated, no "." or ".."
// component, no backslash, no control character. Directories end in "/".
bool SafeName(std::string_view name) {
  if (name.empty() || name.size() > 4096 || name.front() == '/') return false;
  if (name.back() == '/') name.remove_suffix(1);
  std::size_t start = 0;
  while (start <= name.size()) {
    const std::size_t end = std::min(name.find('/', start), name.size());
    const std::string_view part = name.substr(start, end - start);
    if (part.empty() || part == "." || part == "..") return false;
    start = end + 1;
  }
  return std::none_of(name.begin(), name.end(),
                      [](char c) { return c == '\\' || static_cast<unsigned char>(c) < 0x20 || c == 0x7F; });
}

}  // namespace

bool LooksLikeZip(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::array<char, 4> magic{};
  if (!in.read(magic.data(), magic.size())) return false;
  return magic[0] == 'P' && magic[1] == 'K' && ((magic[2] == 3 && magic[3] == 4) || (magic[2] == 5 && magic[3] == 6));
}

Status ZipDirectory(const std::string& dir, const std::string& zip_path) {
  std::error_code ec;
  if (fs::exists(zip_path, ec)) return InvalidArgument(zip_path + " already exists");
  std::vector<std::string> names;
  for (auto it = fs::recursive_directory_iterator(dir, ec); !ec && it != fs::recursive_directory_iterator();
       it.increment(ec)) {
    if (it->is_regular_file(ec)) names.push_back(fs::relative(it->path(), dir, ec).generic_string());
  }
  if (ec) return IoError("cannot list " + dir + ": " + ec.message());
  std::sort(names.begin(), names.end());

  // libzip writes to a temporary file and renames it over zip_path in
  // zip_close(), so a failure leaves no partial archive.
  int code = 0;
  ZipPtr za(zip_open(zip_path.c_str(), ZIP_CREATE | ZIP_EXCL, &code));
  if (!za) return IoError("cannot create " + zip_path + ": " + OpenError(code));
  for (const std::string& name : names) {
    const std::string full = (fs::path(dir) / name).string();
    zip_source_t* source = zip_source_file(za.get(), full.c_str(), 0, -1);
    if (source == nullptr) return IoError("cannot read " + full + ": " + zip_strerror(za.get()));
    const zip_int64_t index = zip_file_add(za.get(), name.c_str(), source, ZIP_FL_ENC_UTF_8);
    if (index < 0) {
      zip_source_free(source);
      return IoError("cannot add " + name + " to " + zip_path + ": " + zip_strerror(za.get()));
    }
    const auto uindex = static_cast<zip_uint64_t>(index);
    if (zip_set_file_compression(za.get(), uindex, IsTextFile(name) ? ZIP_CM_DEFLATE : ZIP_CM_STORE, 0) != 0 ||
        zip_file_set_external_attributes(za.get(), uindex, 0, ZIP_OPSYS_UNIX, (S_IFREG | 0644U) << 16U) != 0) {
      return IoError("cannot set attributes of " + name + ": " + zip_strerror(za.get()));
    }
  }
  if (zip_close(za.get()) != 0) return IoError("cannot write " + zip_path + ": " + zip_strerror(za.get()));
  (void)za.release();  // closed and freed by zip_close
  Fd fd(::open(zip_path.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0 || ::fsync(fd.get()) != 0) return ErrnoError("cannot sync", zip_path, errno);
  return FsyncDir(fs::path(zip_path).parent_path().empty() ? "." : fs::path(zip_path).parent_path().string());
}

Result<std::uint64_t> ExtractZipSafely(const std::string& zip_path, const std::string& out_dir,
                                       const ZipLimits& limits) {
  std::error_code ec;
  if (fs::exists(out_dir, ec)) return InvalidArgument(out_dir + " already exists");
  int code = 0;
  ZipPtr za(zip_open(zip_path.c_str(), ZIP_RDONLY | ZIP_CHECKCONS, &code));
  if (!za && code == ZIP_ER_EXISTS) return Corrupt("a zip entry name appears twice in the archive");
  if (!za) return Corrupt("not a readable zip archive: " + OpenError(code));
  const zip_int64_t count = zip_get_num_entries(za.get(), 0);
  if (count < 0) return Corrupt("cannot read the zip directory");
  if (static_cast<std::uint64_t>(count) > limits.max_entries) {
    return Corrupt("the zip archive has " + std::to_string(count) + " entries (limit " +
                   std::to_string(limits.max_entries) + ")");
  }
  // Check every entry before extracting any.
  std::set<std::string> seen;
  std::uint64_t total = 0;
  for (zip_int64_t i = 0; i < count; ++i) {
    const auto index = static_cast<zip_uint64_t>(i);
    zip_stat_t st;
    zip_stat_init(&st);
    if (zip_stat_index(za.get(), index, ZIP_FL_ENC_RAW, &st) != 0 || (st.valid & ZIP_STAT_NAME) == 0) {
      return Corrupt("zip entry " + std::to_string(i) + " cannot be read: " + zip_strerror(za.get()));
    }
    const std::string name = st.name;
    if (!SafeName(name)) return Corrupt("zip entry '" + name + "' has an unsafe name (absolute, '..' or odd bytes)");
    const std::string key = name.back() == '/' ? name.substr(0, name.size() - 1) : name;
    if (!seen.insert(key).second) return Corrupt("zip entry '" + name + "' appears twice");
    zip_uint8_t opsys = 0;
    zip_uint32_t attributes = 0;
    if (zip_file_get_external_attributes(za.get(), index, 0, &opsys, &attributes) == 0 && opsys == ZIP_OPSYS_UNIX) {
      const mode_t mode = attributes >> 16U;
      const bool is_dir = name.back() == '/';
      if (mode != 0 && !(is_dir ? S_ISDIR(mode) : S_ISREG(mode))) {
        return Corrupt("zip entry '" + name + "' is not a plain file (a link or device); refused");
      }
    }
    if ((st.valid & ZIP_STAT_ENCRYPTION_METHOD) != 0 && st.encryption_method != ZIP_EM_NONE) {
      return Corrupt("zip entry '" + name + "' is encrypted");
    }
    if ((st.valid & ZIP_STAT_SIZE) == 0 || (st.valid & ZIP_STAT_COMP_SIZE) == 0) {
      return Corrupt("zip entry '" + name + "' has no size");
    }
    if (st.size > (std::uint64_t{1} << 20) && st.size / std::max<std::uint64_t>(st.comp_size, 1) > limits.max_ratio) {
      return Corrupt("zip entry '" + name + "' expands " +
                     std::to_string(st.size / std::max<std::uint64_t>(st.comp_size, 1)) +
                     " times (a zip bomb?); refused");
    }
    total += st.size;
    if (total > limits.max_total_bytes) return Corrupt("the zip archive expands past the size limit");
  }

  Status made = MakeDirs(out_dir);
  if (!made.ok()) return made;
  std::vector<char> buffer(std::size_t{1} << 16);
  std::uint64_t files = 0;
  for (zip_int64_t i = 0; i < count; ++i) {
    const auto index = static_cast<zip_uint64_t>(i);
    zip_stat_t st;
    zip_stat_init(&st);
    if (zip_stat_index(za.get(), index, ZIP_FL_ENC_RAW, &st) != 0) return Corrupt(zip_strerror(za.get()));
    const std::string name = st.name;
    const fs::path target = fs::path(out_dir) / name;
    if (name.back() == '/') {
      made = MakeDirs(target.string());
      if (!made.ok()) return made;
      continue;
    }
    made = MakeDirs(target.parent_path().string());
    if (!made.ok()) return made;
    std::unique_ptr<zip_file_t, ZipFileCloser> zf(zip_fopen_index(za.get(), index, 0));
    if (!zf) return Corrupt("zip entry '" + name + "' cannot be opened: " + zip_strerror(za.get()));
    Fd out(::open(target.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
    if (out.get() < 0) return ErrnoError("cannot create", target.string(), errno);
    std::uint64_t written = 0;
    for (;;) {
      const zip_int64_t n = zip_fread(zf.get(), buffer.data(), buffer.size());
      if (n < 0) {
        return Corrupt("zip entry '" + name + "' is damaged: " + zip_file_strerror(zf.get()));
      }
      if (n == 0) break;
      written += static_cast<std::uint64_t>(n);
      if (written > st.size) return Corrupt("zip entry '" + name + "' holds more bytes than its header says");
      Status w = WriteAll(out.get(), std::string_view(buffer.data(), static_cast<std::size_t>(n)), target.string());
      if (!w.ok()) return w;
    }
    if (written != st.size) return Corrupt("zip entry '" + name + "' is shorter than its header says");
    if (zip_fclose(zf.release()) != 0) return Corrupt("zip entry '" + name + "' fails its CRC check");
    ++files;
  }
  return files;
}

}  // namespace takeback::evidence::internal
