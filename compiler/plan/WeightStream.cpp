//===- WeightStream.cpp - the weight section, streamed to the plan file ---===//

#include "compiler/plan/WeightStream.h"

#include "compiler/support/OutputFile.h"
#include "runtime/schema/PlanFormat.h"

#include <xxhash.h>

#include <condition_variable>
#include <cstring>
#include <deque>
#include <memory>
#include <mutex>
#include <new>
#include <thread>

namespace llmc::plan_writer {
namespace {

constexpr uint64_t kWeightAlignment = 256;
/// Chunks whose write-back may be in flight before the writer waits for the
/// oldest (64 MiB behind).
constexpr size_t kWritebackLag = 8;

llvm::Error err(const llvm::Twine &message) {
  return llvm::createStringError(llvm::inconvertibleErrorCode(), message);
}

} // namespace

WeightLayout layoutWeights(llvm::ArrayRef<WeightSpec> specs) {
  WeightLayout layout;
  uint64_t offset = 0;
  for (const WeightSpec &spec : specs) {
    offset = runtime::alignTo(offset, kWeightAlignment);
    layout.offsets.push_back(offset);
    offset += spec.bytes();
  }
  layout.size = runtime::alignTo(offset, kWeightAlignment);
  return layout;
}

llvm::Expected<std::vector<uint64_t>>
streamWeights(WeightSource &source, llvm::ArrayRef<WeightSpec> specs,
              const WeightLayout &layout, support::OutputFile &file,
              uint64_t base, const StreamHooks &hooks) {
  const uint64_t total = layout.size;
  std::vector<uint64_t> sums(specs.size(), XXH3_64bits(nullptr, 0));
  if (total == 0)
    return sums;
  const uint64_t chunk = std::min(kStreamChunkBytes, total);
  const unsigned count = unsigned(
      std::min<uint64_t>(kStreamBuffers, (total + chunk - 1) / chunk));
  std::vector<std::unique_ptr<uint8_t[]>> buffers;
  try {
    for (unsigned i = 0; i < count; ++i)
      buffers.emplace_back(new uint8_t[chunk]); // filled before use
  } catch (const std::bad_alloc &) {
    return err(file.path() + ": cannot allocate " +
               std::to_string(count * chunk) +
               " bytes of buffers for the weights");
  }

  struct Filled {
    unsigned buffer;
    uint64_t begin, size;
  };
  std::mutex mutex;
  std::condition_variable changed;
  std::deque<unsigned> free;
  for (unsigned i = 0; i < count; ++i)
    free.push_back(i);
  std::deque<Filled> ready;
  bool finished = false, stop = false;
  llvm::Error fillError = llvm::Error::success();

  std::thread producer([&] {
    XXH3_state_t *state = XXH3_createState();
    size_t next = 0; // the first weight not finished
    for (uint64_t begin = 0; begin < total; begin += chunk) {
      unsigned b;
      {
        std::unique_lock<std::mutex> lock(mutex);
        changed.wait(lock, [&] { return stop || !free.empty(); });
        if (stop)
          break;
        b = free.front();
        free.pop_front();
      }
      llvm::Error e = llvm::Error::success();
      if (hooks.cancel && hooks.cancel->load())
        e = err("stopped");
      const uint64_t end = std::min(total, begin + chunk);
      uint8_t *buffer = buffers[b].get();
      uint64_t at = begin; // filled up to here
      while (!e && next < specs.size() && layout.offsets[next] < end) {
        const uint64_t offset = layout.offsets[next],
                       bytes = specs[next].bytes();
        const uint64_t from = std::max(offset, begin),
                       to = std::min(offset + bytes, end);
        std::memset(buffer + (at - begin), 0, from - at);
        if (from == offset)
          XXH3_64bits_reset(state);
        if (to > from) {
          e = source.fill(specs[next], from - offset,
                          {buffer + (from - begin), size_t(to - from)});
          if (e)
            break;
          XXH3_64bits_update(state, buffer + (from - begin), to - from);
        }
        at = to;
        if (to < offset + bytes)
          break; // continues in the next chunk
        sums[next++] = XXH3_64bits_digest(state);
      }
      std::lock_guard<std::mutex> lock(mutex);
      if (e) {
        fillError = std::move(e);
        stop = true;
        changed.notify_all();
        break;
      }
      std::memset(buffer + (at - begin), 0, end - at);
      ready.push_back({b, begin, end - begin});
      changed.notify_all();
    }
    XXH3_freeState(state);
    std::lock_guard<std::mutex> lock(mutex);
    finished = true;
    changed.notify_all();
  });

  llvm::Error writeError = llvm::Error::success();
  std::deque<Filled> inFlight; // written, write-back started
  uint64_t written = 0;
  for (;;) {
    Filled item;
    {
      std::unique_lock<std::mutex> lock(mutex);
      changed.wait(lock, [&] { return finished || !ready.empty(); });
      if (ready.empty())
        break;
      item = ready.front();
      ready.pop_front();
    }
    if (!writeError) {
      writeError = file.write(buffers[item.buffer].get(), item.size,
                              base + item.begin);
      if (!writeError) {
        file.startWriteback(base + item.begin, item.size);
        inFlight.push_back(item);
        if (inFlight.size() > kWritebackLag) {
          file.finishWriteback(base + inFlight.front().begin,
                               inFlight.front().size);
          inFlight.pop_front();
        }
        written += item.size;
        if (hooks.progress)
          hooks.progress(written);
      }
    }
    std::lock_guard<std::mutex> lock(mutex);
    if (writeError)
      stop = true;
    free.push_back(item.buffer);
    changed.notify_all();
  }
  producer.join();
  if (fillError) {
    if (writeError)
      llvm::consumeError(std::move(writeError));
    return std::move(fillError);
  }
  if (writeError)
    return std::move(writeError);
  return sums;
}

} // namespace llmc::plan_writer
