//===- cuda_emu.h - run llmc's generated CUDA kernels on the CPU -*- C++ -*-===//
//
// Test-only. Force-included (-include cuda_emu.h -DLLMC_EMULATION) in front
// of a generated kernel's source, which is then compiled by the host C++
// compiler. It provides the subset of CUDA that the kernel templates use:
// bf16/f16 with the device's round-to-nearest-even conversions, the thread
// and block indices, __syncthreads, warp shuffles, and mma.sync / ldmatrix
// with the PTX ISA's fragment layouts (the templates call llmc_emu_mma and
// llmc_emu_ldmatrix_x4 in place of their inline PTX under LLMC_EMULATION).
//
// Every CUDA thread of a block is a fiber (Boost.Context: a user-mode
// context switch, no system call, unlike ucontext's swapcontext, which
// saved the signal mask on every switch and took 90% of the emulated
// goldens' time) on the calling OS thread; blocks run one after the other, so `__shared__` is `static`.
// Barriers are cooperative: a fiber waits by yielding to the scheduler,
// which resumes the block's fibers round-robin and aborts with a message on
// a deadlock (a barrier some threads never reach).
//
//===----------------------------------------------------------------------===//

#ifndef LLMC_TEST_EMULATION_CUDA_EMU_H
#define LLMC_TEST_EMULATION_CUDA_EMU_H

#include <boost/context/fiber.hpp>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <type_traits>
#include <vector>

using std::max;
using std::min;

#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __launch_bounds__(...)
#define __shared__ static
#define __align__(n) __attribute__((aligned(n)))

//===----------------------------------------------------------------------===//
// Types
//===----------------------------------------------------------------------===//

struct dim3 {
  unsigned x = 1, y = 1, z = 1;
};
struct alignas(16) uint4 {
  unsigned x, y, z, w;
};
// 8-byte vector loads (ld.global.v2.u32): a copy of two words.
struct alignas(8) uint2 {
  unsigned x, y;
};
inline uint4 make_uint4(unsigned x, unsigned y, unsigned z, unsigned w) {
  return uint4{x, y, z, w};
}

struct __nv_bfloat16 {
  unsigned short x;
};
struct __half {
  unsigned short x;
};

inline float __uint_as_float(unsigned u) {
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}
inline float __int_as_float(int i) {
  float f;
  std::memcpy(&f, &i, 4);
  return f;
}
inline unsigned __float_as_uint(float f) {
  unsigned u;
  std::memcpy(&u, &f, 4);
  return u;
}
inline unsigned llmc_emu_float_bits(float f) {
  unsigned u;
  std::memcpy(&u, &f, 4);
  return u;
}

inline float __bfloat162float(__nv_bfloat16 h) {
  return __uint_as_float(unsigned(h.x) << 16);
}
inline __nv_bfloat16 __float2bfloat16_rn(float f) {
  unsigned u = llmc_emu_float_bits(f);
  if (std::isnan(f))
    return __nv_bfloat16{0x7fc0};
  u += 0x7fffu + ((u >> 16) & 1u); // round to nearest, ties to even
  return __nv_bfloat16{(unsigned short)(u >> 16)};
}
inline float __half2float(__half h) {
  _Float16 v;
  std::memcpy(&v, &h.x, 2);
  return float(v);
}
inline __half __float2half_rn(float f) {
  _Float16 v = _Float16(f); // IEEE round to nearest even
  __half h;
  std::memcpy(&h.x, &v, 2);
  return h;
}
inline __nv_bfloat16 __ushort_as_bfloat16(unsigned short b) {
  return __nv_bfloat16{b};
}
inline __half __ushort_as_half(unsigned short b) { return __half{b}; }
inline unsigned short __bfloat16_as_ushort(__nv_bfloat16 h) { return h.x; }
inline unsigned short __half_as_ushort(__half h) { return h.x; }

//===----------------------------------------------------------------------===//
// Fibers
//===----------------------------------------------------------------------===//

namespace llmc_emu {

struct Fiber {
  /// The suspended thread; empty while it runs and once it has exited.
  boost::context::fiber context;
  /// While it runs: the scheduler, to switch back to.
  boost::context::fiber scheduler;
  dim3 tid;
  unsigned linear = 0;
  bool done = false;
  bool waiting = false;
};

struct Barrier {
  unsigned arrived = 0;
  unsigned generation = 0;
};

struct Warp {
  Barrier barrier;
  unsigned live = 0;
  uint64_t slots[32]; // a shuffled value each, 32 or 64 bits
  const void *pointers[32];
  unsigned fragA[32][4], fragB[32][2];
  float fragC[32][4];
};

struct BlockState {
  std::vector<Fiber> fibers;
  Fiber *current = nullptr;
  Barrier barrier;
  unsigned live = 0;
  std::vector<Warp> warps;
  std::function<void()> body;
  unsigned long events = 0; // barrier releases and exits
};

inline BlockState &block() {
  static BlockState state;
  return state;
}
inline dim3 &blockIdxRef() {
  static dim3 v;
  return v;
}
inline dim3 &blockDimRef() {
  static dim3 v;
  return v;
}
inline dim3 &gridDimRef() {
  static dim3 v;
  return v;
}

/// The launch's dynamic shared memory (LLMC_DYNAMIC_SHARED in prelude.cuh):
/// one buffer of the launch's size for the block that runs, refilled with
/// 0xA5 bytes before each block, as CUDA gives no initial contents.
inline std::vector<unsigned char> &dynamicSharedBuffer() {
  static std::vector<unsigned char> v;
  return v;
}
inline unsigned char *dynamicShared() {
  std::vector<unsigned char> &v = dynamicSharedBuffer();
  // 16-byte aligned: vector storage from operator new is.
  return v.empty() ? nullptr : v.data();
}

inline void yield() {
  Fiber *self = block().current;
  self->scheduler = std::move(self->scheduler).resume();
}

/// Waits until `live` participants have arrived at `barrier`.
inline void wait(Barrier &barrier, const unsigned &live) {
  BlockState &b = block();
  unsigned generation = barrier.generation;
  if (++barrier.arrived == live) {
    barrier.arrived = 0;
    ++barrier.generation;
    ++b.events;
    return;
  }
  b.current->waiting = true;
  while (barrier.generation == generation)
    yield();
  b.current->waiting = false;
}

inline Warp &warp() {
  return block().warps[block().current->linear / 32];
}
inline unsigned lane() { return block().current->linear % 32; }
inline void warpSync() {
  Warp &w = warp();
  wait(w.barrier, w.live);
}

/// An exited thread no longer holds up barriers.
inline void exitFiber() {
  BlockState &b = block();
  Fiber *self = b.current;
  Warp &w = warp();
  self->done = true;
  ++b.events;
  --b.live;
  --w.live;
  if (b.live > 0 && b.barrier.arrived == b.live) {
    b.barrier.arrived = 0;
    ++b.barrier.generation;
  }
  if (w.live > 0 && w.barrier.arrived == w.live) {
    w.barrier.arrived = 0;
    ++w.barrier.generation;
  }
}

/// Hands Boost.Context one of launch()'s stacks, which outlive every fiber
/// on them: no allocation per thread and block.
struct PoolStack {
  char *base;
  size_t size;
  boost::context::stack_context allocate() {
    boost::context::stack_context sc;
    sc.size = size;
    sc.sp = base + size;
    return sc;
  }
  void deallocate(boost::context::stack_context &) {}
};

/// Runs `body` as every thread of every block of the grid, each block with
/// `sharedBytes` of dynamic shared memory.
inline void launch(dim3 grid, dim3 blockDim, unsigned sharedBytes,
                   std::function<void()> body) {
  constexpr size_t kStack = 256 * 1024;
  static std::vector<std::vector<char>> stacks;
  unsigned threads = blockDim.x * blockDim.y * blockDim.z;
  if (stacks.size() < threads)
    stacks.resize(threads);
  BlockState &b = block();
  b.body = std::move(body);
  gridDimRef() = grid;
  blockDimRef() = blockDim;
  for (unsigned bz = 0; bz < grid.z; ++bz)
    for (unsigned by = 0; by < grid.y; ++by)
      for (unsigned bx = 0; bx < grid.x; ++bx) {
        blockIdxRef() = dim3{bx, by, bz};
        dynamicSharedBuffer().assign(sharedBytes, 0xA5);
        b.fibers.clear();
        b.fibers.resize(threads);
        b.warps.assign((threads + 31) / 32, Warp{});
        b.barrier = Barrier{};
        b.live = threads;
        for (unsigned t = 0; t < threads; ++t) {
          Fiber &f = b.fibers[t];
          f.linear = t;
          f.tid = dim3{t % blockDim.x, (t / blockDim.x) % blockDim.y,
                       t / (blockDim.x * blockDim.y)};
          b.warps[t / 32].live++;
          if (stacks[t].empty())
            stacks[t].resize(kStack);
          f.context = boost::context::fiber(
              std::allocator_arg, PoolStack{stacks[t].data(), kStack},
              [&f](boost::context::fiber &&scheduler) {
                f.scheduler = std::move(scheduler);
                block().body();
                exitFiber();
                return std::move(f.scheduler);
              });
        }
        // Round-robin until every thread is done.
        while (b.live > 0) {
          unsigned long before = b.events;
          bool allWaiting = true;
          for (Fiber &f : b.fibers) {
            if (f.done)
              continue;
            b.current = &f;
            f.context = std::move(f.context).resume();
            if (!f.done && !f.waiting)
              allWaiting = false;
          }
          if (b.live > 0 && allWaiting && b.events == before) {
            std::fprintf(stderr,
                         "cuda_emu: deadlock in block (%u,%u,%u): %u threads "
                         "wait at barriers the others never reach\n",
                         bx, by, bz, b.live);
            std::abort();
          }
        }
        b.current = nullptr;
      }
}

} // namespace llmc_emu

#define threadIdx (::llmc_emu::block().current->tid)
#define blockIdx (::llmc_emu::blockIdxRef())
#define blockDim (::llmc_emu::blockDimRef())
#define gridDim (::llmc_emu::gridDimRef())

inline void __syncthreads() {
  llmc_emu::BlockState &b = llmc_emu::block();
  llmc_emu::wait(b.barrier, b.live);
}

template <typename T> inline T __shfl_xor_sync(unsigned, T v, int offset) {
  static_assert(sizeof(T) == 4 || sizeof(T) == 8, "32- or 64-bit shuffles");
  llmc_emu::Warp &w = llmc_emu::warp();
  unsigned lane = llmc_emu::lane();
  std::memcpy(&w.slots[lane], &v, sizeof(T));
  llmc_emu::warpSync();
  T out;
  std::memcpy(&out, &w.slots[(lane ^ unsigned(offset)) % 32], sizeof(T));
  llmc_emu::warpSync();
  return out;
}

//===----------------------------------------------------------------------===//
// Tensor cores (PTX ISA, "Matrix fragments for mma.m16n8k16")
//===----------------------------------------------------------------------===//

template <typename T> inline float llmc_emu_b16(unsigned reg, int half) {
  unsigned short bits = (unsigned short)(half ? reg >> 16 : reg & 0xffffu);
  T v;
  std::memcpy(&v, &bits, 2);
  if constexpr (sizeof(T) == 2 && std::is_same_v<T, __half>)
    return __half2float(v);
  else
    return __bfloat162float(v);
}

/// One mma.sync m16n8kK for the warp, d = A (16 x K, row) * B (K x 8, col)
/// + c, with E elements per 32-bit register (K = 8 E) as the PTX ISA lays
/// the fragments out: a0 row g, k E t .. E t + E - 1; a1 row g + 8; a2 and a3
/// the same rows at k + 4 E; b0 column g, k E t ..; b1 k + 4 E (g = lane / 4,
/// t = lane % 4); c0, c1 row g, columns 2 t, 2 t + 1; c2, c3 row g + 8.
/// `value(reg, i)` decodes element i of a register. Products and sums in
/// fp32 in k order (the hardware's internal order and precision may differ;
/// the CPU backend and this agree to fp32 rounding). Each lane passes its
/// a[4], b[2] and c[4] registers.
template <int E, typename Value>
inline void llmc_emu_mma_fragments(float *c, const unsigned *a,
                                   const unsigned *b, Value value) {
  llmc_emu::Warp &w = llmc_emu::warp();
  unsigned lane = llmc_emu::lane();
  for (int i = 0; i < 4; ++i) {
    w.fragA[lane][i] = a[i];
    w.fragC[lane][i] = c[i];
  }
  w.fragB[lane][0] = b[0];
  w.fragB[lane][1] = b[1];
  llmc_emu::warpSync();
  constexpr unsigned K = 8 * E, HALF = 4 * E;
  float out[4];
  for (int e = 0; e < 4; ++e) {
    unsigned row = lane / 4 + (e / 2) * 8, col = 2 * (lane % 4) + e % 2;
    float sum = 0.0f;
    for (unsigned k = 0; k < K; ++k) {
      unsigned aLane = (row % 8) * 4 + (k % HALF) / E;
      unsigned aReg = row / 8 + 2 * (k / HALF);
      unsigned bLane = col * 4 + (k % HALF) / E;
      unsigned bReg = k / HALF;
      sum += value(w.fragA[aLane][aReg], k % E) *
             value(w.fragB[bLane][bReg], k % E);
    }
    out[e] = sum + w.fragC[lane][e];
  }
  llmc_emu::warpSync();
  for (int e = 0; e < 4; ++e)
    c[e] = out[e];
}

/// mma.sync m16n8k16 over bf16 or f16 (two per register).
template <typename T>
inline void llmc_emu_mma(float *c, const unsigned *a, const unsigned *b) {
  llmc_emu_mma_fragments<2>(c, a, b, [](unsigned reg, unsigned i) {
    return llmc_emu_b16<T>(reg, int(i));
  });
}

/// The value of an FP8 E4M3 code (OCP "fn": 0x7F / 0xFF NaN), exact.
inline float llmc_emu_e4m3(unsigned b) {
  const unsigned e = (b >> 3) & 15u, m = b & 7u;
  float v = e == 0 ? std::ldexp(float(m), -9)
            : (e == 15 && m == 7) ? NAN
                                  : std::ldexp(float(8 + m), int(e) - 10);
  return (b & 0x80u) ? -v : v;
}

/// mma.sync.aligned.m16n8k32.row.col.f32.e4m3.e4m3.f32: four E4M3 codes
/// per register, byte i of a register at k + i.
inline void llmc_emu_mma_e4m3(float *c, const unsigned *a,
                              const unsigned *b) {
  llmc_emu_mma_fragments<4>(c, a, b, [](unsigned reg, unsigned i) {
    return llmc_emu_e4m3((reg >> (8 * i)) & 0xffu);
  });
}

inline void llmc_emu_ldmatrix_x4(unsigned *r, const void *p) {
  llmc_emu::Warp &w = llmc_emu::warp();
  unsigned lane = llmc_emu::lane();
  w.pointers[lane] = p;
  llmc_emu::warpSync();
  for (unsigned j = 0; j < 4; ++j) {
    const unsigned short *row = static_cast<const unsigned short *>(
        w.pointers[8 * j + lane / 4]);
    unsigned lo = row[2 * (lane % 4)], hi = row[2 * (lane % 4) + 1];
    r[j] = lo | (hi << 16);
  }
  llmc_emu::warpSync();
}

/// ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16: as llmc_emu_ldmatrix_x4
/// with each 8 x 8 matrix transposed: lane gets rows 2 (lane % 4) and
/// 2 (lane % 4) + 1 of column lane / 4 (the matrix's rows addressed by
/// lanes 8 j .. 8 j + 7).
inline void llmc_emu_ldmatrix_x4_trans(unsigned *r, const void *p) {
  llmc_emu::Warp &w = llmc_emu::warp();
  unsigned lane = llmc_emu::lane();
  w.pointers[lane] = p;
  llmc_emu::warpSync();
  for (unsigned j = 0; j < 4; ++j) {
    const unsigned short *row0 = static_cast<const unsigned short *>(
        w.pointers[8 * j + 2 * (lane % 4)]);
    const unsigned short *row1 = static_cast<const unsigned short *>(
        w.pointers[8 * j + 2 * (lane % 4) + 1]);
    unsigned lo = row0[lane / 4], hi = row1[lane / 4];
    r[j] = lo | (hi << 16);
  }
  llmc_emu::warpSync();
}

/// What the fake driver calls: the entry's grid and block, and
/// cuLaunchKernel's parameter array.
struct LLMCEmuLaunch {
  unsigned grid[3];
  unsigned block[3];
  unsigned sharedBytes; // dynamic shared memory per block
};

#endif // LLMC_TEST_EMULATION_CUDA_EMU_H
