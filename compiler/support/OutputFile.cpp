//===- OutputFile.cpp - writing a result without destroying a file --------===//

#include "compiler/support/OutputFile.h"

#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/Signals.h"

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>
#include <vector>

namespace llmc::support {
namespace {

llvm::Error error(const std::string &message) {
  return llvm::createStringError(llvm::inconvertibleErrorCode(), message);
}

/// An unnamed file in `dir` that commit() can link (O_TMPFILE, linked
/// through /proc/self/fd), or -1 where the kernel or filesystem has none.
int openUnnamed(const std::string &dir) {
#ifdef O_TMPFILE
  if (::access("/proc/self/fd", X_OK) != 0)
    return -1;
  return ::open(dir.c_str(), O_TMPFILE | O_RDWR | O_CLOEXEC, 0666);
#else
  (void)dir;
  return -1;
#endif
}

std::string parentDir(const std::string &path) {
  llvm::SmallString<256> dir(path);
  llvm::sys::path::remove_filename(dir);
  return dir.empty() ? "." : std::string(dir);
}

/// Writes all of `data` to `fd` (at `offset`, or at the current position
/// when negative); errno on failure.
bool writeAll(int fd, const char *data, uint64_t size, int64_t offset) {
  while (size > 0) {
    size_t chunk = size_t(std::min<uint64_t>(size, 1u << 30));
    ssize_t n = offset < 0 ? ::write(fd, data, chunk)
                           : ::pwrite(fd, data, chunk, off_t(offset));
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0) {
      if (n == 0)
        errno = EIO;
      return false;
    }
    data += n;
    size -= uint64_t(n);
    if (offset >= 0)
      offset += n;
  }
  return true;
}

} // namespace

llvm::Error OutputFile::fail(const std::string &what, int code) const {
  return error(path_ + ": " + what + ": " + std::strerror(code));
}

llvm::Expected<std::unique_ptr<OutputFile>>
OutputFile::open(llvm::StringRef path) {
  std::unique_ptr<OutputFile> f(new OutputFile());
  f->path_ = path.str();
  if (path.empty())
    return error("the output path is empty");

  struct stat st;
  bool stdoutPath = path == "-";
  std::string target = stdoutPath ? "/dev/stdout" : path.str();
  bool exists = stdoutPath ? ::fstat(STDOUT_FILENO, &st) == 0
                           : ::stat(target.c_str(), &st) == 0;
  if (!exists && errno != ENOENT)
    return f->fail("cannot inspect it", errno);
  if (!exists) {
    struct stat link;
    if (::lstat(target.c_str(), &link) == 0 && S_ISLNK(link.st_mode))
      return error(f->path_ +
                   ": is a symbolic link to a file that does not exist");
    f->kind_ = Kind::Replace;
    f->target_ = target;
  } else if (S_ISREG(st.st_mode) && !stdoutPath) {
    // Replace what a symbolic link points to, and keep the link.
    char resolved[PATH_MAX];
    if (!::realpath(target.c_str(), resolved))
      return f->fail("cannot resolve it", errno);
    f->kind_ = Kind::Replace;
    f->target_ = resolved;
  } else if (S_ISDIR(st.st_mode)) {
    return error(f->path_ + ": is a directory");
  } else if (S_ISSOCK(st.st_mode)) {
    return error(f->path_ + ": is a socket; give a file, a device or a FIFO");
  } else {
    f->target_ = target;
    f->kind_ = Kind::Copy;
    if (S_ISCHR(st.st_mode) && !stdoutPath) {
      // A device that can seek takes the bytes where they go.
      int fd = ::open(target.c_str(), O_WRONLY | O_NOCTTY | O_CLOEXEC);
      if (fd < 0)
        return f->fail("cannot open it for writing", errno);
      if (::lseek(fd, 0, SEEK_CUR) >= 0) {
        f->kind_ = Kind::Direct;
        f->fd_ = fd;
        return f;
      }
      ::close(fd);
    }
    if (!stdoutPath && ::access(target.c_str(), W_OK) != 0)
      return f->fail("cannot write it", errno);
  }

  // The staging file: next to the file it replaces, or in the temporary
  // directory for a copy.
  std::string dir;
  if (f->kind_ == Kind::Replace) {
    dir = parentDir(f->target_);
  } else {
    llvm::SmallString<256> tmp;
    llvm::sys::path::system_temp_directory(/*ErasedOnReboot=*/true, tmp);
    dir = std::string(tmp);
  }
  f->fd_ = openUnnamed(dir);
  if (f->fd_ < 0) {
    // No O_TMPFILE here: a named file, removed on failure and on signals.
    llvm::SmallString<256> model(f->kind_ == Kind::Replace ? f->target_
                                                            : dir + "/llmc");
    model += ".tmp-%%%%%%";
    llvm::SmallString<256> named;
    if (std::error_code ec =
            llvm::sys::fs::createUniqueFile(model, f->fd_, named))
      return error(f->path_ + ": cannot create a file in '" + dir +
                   "': " + ec.message());
    if (f->kind_ == Kind::Copy) {
      ::unlink(named.c_str()); // the descriptor is all a copy needs
    } else {
      f->named_ = std::string(named);
      llvm::sys::RemoveFileOnSignal(f->named_);
    }
  }
  return f;
}

OutputFile::~OutputFile() {
  if (fd_ >= 0)
    ::close(fd_);
  if (!named_.empty() && !committed_) {
    ::unlink(named_.c_str());
    llvm::sys::DontRemoveFileOnSignal(named_);
  }
}

llvm::Error OutputFile::write(const void *data, uint64_t size,
                              uint64_t offset) {
  if (!writeAll(fd_, static_cast<const char *>(data), size, int64_t(offset)))
    return fail("write failed", errno);
  end_ = std::max(end_, offset + size);
  return llvm::Error::success();
}

llvm::Error OutputFile::read(void *data, uint64_t size,
                             uint64_t offset) const {
  if (kind_ == Kind::Direct)
    return error(path_ + ": a device written directly cannot be read back");
  char *p = static_cast<char *>(data);
  while (size > 0) {
    ssize_t n = ::pread(fd_, p, size_t(std::min<uint64_t>(size, 1u << 30)),
                        off_t(offset));
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      return fail("cannot read the staged bytes back", n < 0 ? errno : EIO);
    p += n;
    size -= uint64_t(n);
    offset += uint64_t(n);
  }
  return llvm::Error::success();
}

llvm::Error OutputFile::append(const void *data, uint64_t size) {
  return write(data, size, end_);
}

llvm::Error OutputFile::resize(uint64_t size) {
  if (kind_ != Kind::Direct && ::ftruncate(fd_, off_t(size)) != 0)
    return fail("cannot size the file", errno);
  end_ = size;
  return llvm::Error::success();
}

void OutputFile::startWriteback(uint64_t offset, uint64_t size) {
  if (kind_ == Kind::Direct || size == 0)
    return;
  ::sync_file_range(fd_, off_t(offset), off_t(size), SYNC_FILE_RANGE_WRITE);
}

void OutputFile::finishWriteback(uint64_t offset, uint64_t size) {
  if (kind_ == Kind::Direct || size == 0)
    return;
  if (::sync_file_range(fd_, off_t(offset), off_t(size),
                        SYNC_FILE_RANGE_WAIT_BEFORE | SYNC_FILE_RANGE_WRITE |
                            SYNC_FILE_RANGE_WAIT_AFTER) == 0)
    ::posix_fadvise(fd_, off_t(offset), off_t(size), POSIX_FADV_DONTNEED);
}

uint64_t OutputFile::availableBytes() const {
  struct statvfs vfs;
  if (kind_ == Kind::Direct || ::fstatvfs(fd_, &vfs) != 0)
    return UINT64_MAX;
  return uint64_t(vfs.f_bavail) * uint64_t(vfs.f_frsize);
}

llvm::Error OutputFile::commit() {
  if (committed_)
    return error(path_ + ": internal error: committed twice");
  llvm::Error e = kind_ == Kind::Replace ? commitReplace()
                  : kind_ == Kind::Copy  ? commitCopy()
                                         : llvm::Error::success();
  if (e)
    return e;
  if (fd_ >= 0) {
    int fd = fd_;
    fd_ = -1;
    if (::close(fd) != 0)
      return fail("close failed", errno);
  }
  committed_ = true;
  return llvm::Error::success();
}

llvm::Error OutputFile::commitReplace() {
  if (::fsync(fd_) != 0)
    return fail("fsync failed", errno);
  if (!named_.empty()) {
    if (::rename(named_.c_str(), target_.c_str()) != 0)
      return fail("cannot rename the new file into place", errno);
    llvm::sys::DontRemoveFileOnSignal(named_);
    named_.clear();
  } else {
    // Give the unnamed file a fresh name next to the target, then rename
    // that over it: rename is the atomic step.
    std::string proc = "/proc/self/fd/" + std::to_string(fd_);
    std::string linked;
    for (int attempt = 0;; ++attempt) {
      llvm::SmallString<256> name;
      llvm::sys::fs::createUniquePath(target_ + ".tmp-%%%%%%", name,
                                      /*MakeAbsolute=*/false);
      if (::linkat(AT_FDCWD, proc.c_str(), AT_FDCWD, name.c_str(),
                   AT_SYMLINK_FOLLOW) == 0) {
        linked = std::string(name);
        break;
      }
      if (errno != EEXIST || attempt == 100)
        return fail("cannot link the new file next to it", errno);
    }
    llvm::sys::RemoveFileOnSignal(linked);
    if (::rename(linked.c_str(), target_.c_str()) != 0) {
      int code = errno;
      ::unlink(linked.c_str());
      llvm::sys::DontRemoveFileOnSignal(linked);
      return fail("cannot rename the new file into place", code);
    }
    llvm::sys::DontRemoveFileOnSignal(linked);
  }
  // The rename itself reaches the disk with its directory.
  int dir = ::open(parentDir(target_).c_str(), O_RDONLY | O_DIRECTORY |
                                                   O_CLOEXEC);
  if (dir >= 0) {
    ::fsync(dir);
    ::close(dir);
  }
  return llvm::Error::success();
}

llvm::Error OutputFile::commitCopy() {
  int out = STDOUT_FILENO;
  bool stdoutPath = path_ == "-";
  if (!stdoutPath) {
    // Non-blocking open: a FIFO without a reader fails (ENXIO) at once.
    out = ::open(target_.c_str(),
                 O_WRONLY | O_NOCTTY | O_CLOEXEC | O_NONBLOCK);
    if (out < 0)
      return errno == ENXIO ? error(path_ + ": a FIFO that nobody reads")
                            : fail("cannot open it for writing", errno);
    int flags = ::fcntl(out, F_GETFL);
    if (flags >= 0)
      ::fcntl(out, F_SETFL, flags & ~O_NONBLOCK);
  }
  std::vector<char> buffer(1 << 20);
  llvm::Error result = llvm::Error::success();
  for (uint64_t at = 0; at < end_;) {
    size_t want = size_t(std::min<uint64_t>(buffer.size(), end_ - at));
    ssize_t n = ::pread(fd_, buffer.data(), want, off_t(at));
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0) {
      result = fail("cannot read the staged bytes back", n < 0 ? errno : EIO);
      break;
    }
    if (!writeAll(out, buffer.data(), uint64_t(n), -1)) {
      result = fail("write failed", errno);
      break;
    }
    at += uint64_t(n);
  }
  if (!stdoutPath && ::close(out) != 0 && !result)
    result = fail("close failed", errno);
  return result;
}

llvm::Error writeOutputFile(llvm::StringRef path, llvm::StringRef text) {
  auto file = OutputFile::open(path);
  if (!file)
    return file.takeError();
  if (llvm::Error e = (*file)->append(text.data(), text.size()))
    return e;
  return (*file)->commit();
}

} // namespace llmc::support
