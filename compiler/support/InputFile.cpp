//===- InputFile.cpp - reading an input file without hanging --------------===//

#include "compiler/support/InputFile.h"

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

llvm::Expected<std::unique_ptr<llvm::MemoryBuffer>>
readInputFile(llvm::StringRef path, uint64_t maxBytes, bool isText) {
  std::string p = path.str();
  // Non-blocking: opening a FIFO must not wait for a writer.
  int fd = ::open(p.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
  if (fd < 0)
    return error(path, std::string("cannot read: ") + std::strerror(errno));
  struct stat st;
  if (::fstat(fd, &st) != 0) {
    int code = errno;
    ::close(fd);
    return error(path, std::string("cannot read: ") + std::strerror(code));
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    return error(path, "is " + kindOf(st.st_mode) + ", not a regular file");
  }
  uint64_t size = uint64_t(st.st_size);
  if (size > maxBytes) {
    ::close(fd);
    return error(path, "is " + std::to_string(size) +
                           " bytes; at most " + std::to_string(maxBytes) +
                           " are read");
  }
  auto buffer = llvm::MemoryBuffer::getOpenFile(
      fd, path, size, /*RequiresNullTerminator=*/isText, /*IsVolatile=*/false);
  ::close(fd);
  if (!buffer)
    return error(path, "cannot read: " + buffer.getError().message());
  return std::move(*buffer);
}

} // namespace llmc::support
