//===- OutputFileTest.cpp - writing a result without destroying a file ----===//
//
// compiler/support/OutputFile.h on every kind of path -o and --logits-out can
// name: regular files and new paths (replaced atomically, nothing left behind
// by a killed writer), symbolic links (kept), FIFOs (written, with or without
// a reader), character devices (never replaced; a full one is an error) and
// what cannot be written at all.
//
//===----------------------------------------------------------------------===//

#include "compiler/support/OutputFile.h"

#include <gtest/gtest.h>

#include <cerrno>
#include <cstdlib>
#include <dirent.h>
#include <fcntl.h>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

namespace {

using llmc::support::OutputFile;
using llmc::support::writeOutputFile;

class OutputFileTest : public ::testing::Test {
protected:
  void SetUp() override {
    char model[] = "/tmp/llmc-output-XXXXXX";
    ASSERT_NE(::mkdtemp(model), nullptr);
    dir = model;
  }
  void TearDown() override {
    std::string command = "rm -rf '" + dir + "'";
    ASSERT_EQ(std::system(command.c_str()), 0);
  }
  std::string file(const std::string &name) const { return dir + "/" + name; }
  std::set<std::string> entries() const {
    std::set<std::string> out;
    DIR *d = ::opendir(dir.c_str());
    while (dirent *e = d ? ::readdir(d) : nullptr)
      if (std::string(e->d_name) != "." && std::string(e->d_name) != "..")
        out.insert(e->d_name);
    if (d)
      ::closedir(d);
    return out;
  }
  static std::string read(const std::string &path) {
    std::ifstream in(path);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
  }
  static void write(const std::string &path, const std::string &text) {
    std::ofstream(path) << text;
  }
  /// A character device like /dev/`name` (major 1, `minor`) in the test
  /// directory, where this process may create one (root).
  bool makeDevice(const std::string &path, unsigned minor) {
    return ::mknod(path.c_str(), S_IFCHR | 0666, makedev(1, minor)) == 0;
  }
  std::string dir;
};

TEST_F(OutputFileTest, ReplacesARegularFileWholeAndLeavesNothingElse) {
  write(file("out.txt"), "old contents");
  ASSERT_FALSE(bool(writeOutputFile(file("out.txt"), "new")));
  EXPECT_EQ(read(file("out.txt")), "new");
  EXPECT_EQ(entries(), std::set<std::string>{"out.txt"});
  // A new path.
  ASSERT_FALSE(bool(writeOutputFile(file("fresh.txt"), "x")));
  EXPECT_EQ(read(file("fresh.txt")), "x");
}

TEST_F(OutputFileTest, AnUncommittedFileChangesNothing) {
  write(file("out.txt"), "old");
  {
    auto f = OutputFile::open(file("out.txt"));
    ASSERT_TRUE(bool(f)) << llvm::toString(f.takeError());
    ASSERT_FALSE(bool((*f)->append("partial", 7)));
  }
  EXPECT_EQ(read(file("out.txt")), "old");
  EXPECT_EQ(entries(), std::set<std::string>{"out.txt"});
}

TEST_F(OutputFileTest, AKilledWriterLeavesNothingBehind) {
  int probe = ::open(dir.c_str(), O_TMPFILE | O_RDWR, 0600);
  if (probe < 0)
    GTEST_SKIP() << "no O_TMPFILE on this filesystem: a named temporary "
                    "file is used, removed on signals but not on SIGKILL";
  ::close(probe);
  pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    auto f = OutputFile::open(file("big.plan"));
    std::string block(1 << 20, 'x');
    for (int i = 0; f && i < 8; ++i)
      if ((*f)->append(block.data(), block.size()))
        ::_exit(2);
    ::kill(::getpid(), SIGKILL);
    ::_exit(3);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFSIGNALED(status));
  EXPECT_TRUE(entries().empty());
}

TEST_F(OutputFileTest, KeepsASymbolicLinkAndReplacesItsTarget) {
  write(file("real.txt"), "old");
  ASSERT_EQ(::symlink("real.txt", file("link.txt").c_str()), 0);
  ASSERT_FALSE(bool(writeOutputFile(file("link.txt"), "new")));
  struct stat st;
  ASSERT_EQ(::lstat(file("link.txt").c_str(), &st), 0);
  EXPECT_TRUE(S_ISLNK(st.st_mode));
  EXPECT_EQ(read(file("real.txt")), "new");
  EXPECT_EQ(entries(), (std::set<std::string>{"link.txt", "real.txt"}));
}

TEST_F(OutputFileTest, RefusesDanglingLinksDirectoriesAndMissingDirectories) {
  ASSERT_EQ(::symlink("nowhere", file("dangling").c_str()), 0);
  llvm::Error e = writeOutputFile(file("dangling"), "x");
  EXPECT_EQ(llvm::toString(std::move(e)),
            file("dangling") +
                ": is a symbolic link to a file that does not exist");
  e = writeOutputFile(dir, "x");
  EXPECT_EQ(llvm::toString(std::move(e)), dir + ": is a directory");
  e = writeOutputFile(file("no/such/dir/out"), "x");
  EXPECT_NE(llvm::toString(std::move(e)).find("cannot create a file in"),
            std::string::npos);
}

TEST_F(OutputFileTest, WritesAFifoAndKeepsIt) {
  ASSERT_EQ(::mkfifo(file("fifo").c_str(), 0600), 0);
  std::string got;
  std::thread reader([&] {
    std::ifstream in(file("fifo"));
    std::stringstream s;
    s << in.rdbuf();
    got = s.str();
  });
  // The reader must have opened its end first.
  llvm::Error e = llvm::Error::success();
  for (int attempt = 0; attempt < 2000; ++attempt) {
    llvm::consumeError(std::move(e));
    e = writeOutputFile(file("fifo"), "through the fifo");
    if (!e)
      break;
    ::usleep(1000);
  }
  EXPECT_FALSE(bool(e)) << llvm::toString(std::move(e));
  reader.join();
  EXPECT_EQ(got, "through the fifo");
  struct stat st;
  ASSERT_EQ(::lstat(file("fifo").c_str(), &st), 0);
  EXPECT_TRUE(S_ISFIFO(st.st_mode));
}

TEST_F(OutputFileTest, AFifoNobodyReadsIsAnErrorNotAHang) {
  ASSERT_EQ(::mkfifo(file("fifo").c_str(), 0600), 0);
  llvm::Error e = writeOutputFile(file("fifo"), "x");
  EXPECT_EQ(llvm::toString(std::move(e)),
            file("fifo") + ": a FIFO that nobody reads");
  struct stat st;
  ASSERT_EQ(::lstat(file("fifo").c_str(), &st), 0);
  EXPECT_TRUE(S_ISFIFO(st.st_mode));
}

TEST_F(OutputFileTest, WritesADeviceAndNeverReplacesIt) {
  if (!makeDevice(file("null"), 3))
    GTEST_SKIP() << "cannot create a device node here (not root)";
  ASSERT_FALSE(bool(writeOutputFile(file("null"), "discarded")));
  struct stat st;
  ASSERT_EQ(::lstat(file("null").c_str(), &st), 0);
  EXPECT_TRUE(S_ISCHR(st.st_mode));
  EXPECT_EQ(entries(), std::set<std::string>{"null"});
}

TEST_F(OutputFileTest, AFullDeviceIsAnErrorWithItsReason) {
  // /dev/full itself only where this process cannot replace it.
  std::string full = "/dev/full";
  if (::geteuid() == 0) {
    if (!makeDevice(file("full"), 7))
      GTEST_SKIP() << "root, but cannot create a device node here";
    full = file("full");
  }
  llvm::Error e = writeOutputFile(full, "does not fit");
  EXPECT_EQ(llvm::toString(std::move(e)),
            full + ": write failed: No space left on device");
  struct stat st;
  ASSERT_EQ(::stat(full.c_str(), &st), 0);
  EXPECT_TRUE(S_ISCHR(st.st_mode));
}

} // namespace
