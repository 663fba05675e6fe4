//===- InputFile.cpp - reading an input file without hanging --------------===//

#include "compiler/support/InputFile.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <string>
#include <sys/stat.h>
#include <unistd.h>

namespace llmc::support {
namespace {

llvm::Error error(llvm::StringRef path, const std::string &what) {
  return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                 path + ": " + what);
}

std::string kindOf(mode_t mode) {
  if (S_ISDIR(mode))
    return "a directory";
  if (S_ISFIFO(mode))
    return "a FIFO";
  if (S_ISCHR(mode))
    return "a character device";
  if (S_ISBLK(mode))
    return "a block device";
  if (S_ISSOCK(mode))
    return "a socket";
  return "a special file";
}

} // namespace

llvm::Expected<std::unique_ptr<InputFile>> InputFile::open(llvm::StringRef path) {
  std::unique_ptr<InputFile> f(new InputFile());
  f->path_ = path.str();
  // Non-blocking: opening a FIFO must not wait for a writer.
  f->fd_ = ::open(f->path_.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
  if (f->fd_ < 0)
    return error(path, std::string("cannot read: ") + std::strerror(errno));
  struct stat st;
  if (::fstat(f->fd_, &st) != 0)
    return error(path, std::string("cannot read: ") + std::strerror(errno));
  if (!S_ISREG(st.st_mode))
    return error(path, "is " + kindOf(st.st_mode) + ", not a regular file");
  f->size_ = uint64_t(st.st_size);
  return f;
}

InputFile::~InputFile() {
  if (fd_ >= 0)
    ::close(fd_);
}

llvm::Expected<std::unique_ptr<llvm::MemoryBuffer>> InputFile::map() const {
  auto buffer = llvm::MemoryBuffer::getOpenFile(
      fd_, path_, size_, /*RequiresNullTerminator=*/false, /*IsVolatile=*/false);
  if (!buffer)
    return error(path_, "cannot read: " + buffer.getError().message());
  return std::move(*buffer);
}

llvm::Error InputFile::read(uint64_t offset,
                            llvm::MutableArrayRef<uint8_t> out) const {
  uint8_t *to = out.data();
  uint64_t left = out.size();
  while (left > 0) {
    size_t chunk = size_t(std::min<uint64_t>(left, uint64_t(1) << 30));
    ssize_t n = ::pread(fd_, to, chunk, off_t(offset));
    if (n < 0 && (errno == EINTR || errno == EAGAIN))
      continue;
    if (n < 0)
      return error(path_, std::string("read failed: ") + std::strerror(errno));
    if (n == 0)
      return error(path_, "ends before byte " + std::to_string(offset) +
                              ": the file shrank while it was being read");
    to += n;
    offset += uint64_t(n);
    left -= uint64_t(n);
  }
  return llvm::Error::success();
}

void InputFile::adviseSequential() const {
  ::posix_fadvise(fd_, 0, 0, POSIX_FADV_SEQUENTIAL);
}

llvm::Expected<std::unique_ptr<llvm::MemoryBuffer>>
readInputFile(llvm::StringRef path, uint64_t maxBytes, bool isText) {
  auto file = InputFile::open(path);
  if (!file)
    return file.takeError();
  uint64_t size = (*file)->size();
  if (size > maxBytes)
    return error(path, "is " + std::to_string(size) + " bytes; at most " +
                           std::to_string(maxBytes) + " are read");
  auto buffer = llvm::MemoryBuffer::getOpenFile(
      (*file)->fd_, path, size, /*RequiresNullTerminator=*/isText,
      /*IsVolatile=*/false);
  if (!buffer)
    return error(path, "cannot read: " + buffer.getError().message());
  return std::move(*buffer);
}

} // namespace llmc::support
