//===- Progress.cpp - what a long command is doing, on stderr -------------===//

#include "compiler/support/Progress.h"

#include "llvm/Support/Format.h"

#include <unistd.h>

namespace llmc::support {

Progress::Mode Progress::modeFor(bool quiet, bool forced) {
  if (quiet)
    return Mode::Off;
  if (::isatty(STDERR_FILENO))
    return Mode::Live;
  return forced ? Mode::Lines : Mode::Off;
}

Progress::Progress(Mode mode, llvm::raw_ostream &os) : mode_(mode), os_(os) {}

Progress::~Progress() { clear(); }

std::string Progress::formatBytes(uint64_t bytes) {
  std::string out;
  llvm::raw_string_ostream os(out);
  if (bytes >= 1000000000000)
    os << llvm::format("%.2f TB", double(bytes) / 1e12);
  else if (bytes >= 1000000000)
    os << llvm::format("%.2f GB", double(bytes) / 1e9);
  else if (bytes >= 1000000)
    os << llvm::format("%.1f MB", double(bytes) / 1e6);
  else if (bytes >= 1000)
    os << llvm::format("%.1f kB", double(bytes) / 1e3);
  else
    os << bytes << " bytes";
  return out;
}

void Progress::drawLocked() {
  if (mode_ != Mode::Live || live_.empty())
    return;
  // Carriage return, the line, erase to its end.
  os_ << "\r" << live_ << "\x1b[K";
  os_.flush();
}

void Progress::done(llvm::StringRef phase, llvm::StringRef detail,
                    double seconds) {
  if (mode_ == Mode::Off)
    return;
  std::lock_guard<std::mutex> lock(mutex_);
  if (mode_ == Mode::Live && !live_.empty())
    os_ << "\r\x1b[K";
  os_ << "llmc: " << phase << ": " << detail
      << llvm::format(" (%.2f s)", seconds) << "\n";
  drawLocked();
  os_.flush();
}

void Progress::bytes(llvm::StringRef phase, uint64_t done, uint64_t total,
                     double seconds) {
  if (mode_ == Mode::Off)
    return;
  std::lock_guard<std::mutex> lock(mutex_);
  auto now = std::chrono::steady_clock::now();
  int decile = total ? int(done * 10 / total) : 10;
  if (mode_ == Mode::Live) {
    if (done < total && now - lastDraw_ < std::chrono::milliseconds(200))
      return;
  } else if (decile == lastDecile_ || decile == 10) {
    return; // Lines: every 10 percent, the last one is the done() line
  }
  lastDraw_ = now;
  lastDecile_ = decile;
  std::string line;
  llvm::raw_string_ostream os(line);
  os << "llmc: " << phase << ": " << formatBytes(done) << " / "
     << formatBytes(total);
  if (total)
    os << llvm::format(" (%d%%)", int(done * 100 / total));
  if (seconds > 0)
    os << llvm::format(", %.0f MB/s", double(done) / 1e6 / seconds);
  if (mode_ == Mode::Live) {
    live_ = line;
    drawLocked();
  } else {
    os_ << line << "\n";
    os_.flush();
  }
}

void Progress::clear() {
  std::lock_guard<std::mutex> lock(mutex_);
  if (mode_ == Mode::Live && !live_.empty()) {
    os_ << "\r\x1b[K";
    os_.flush();
  }
  live_.clear();
}

} // namespace llmc::support
