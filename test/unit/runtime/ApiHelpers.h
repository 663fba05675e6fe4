//===- ApiHelpers.h - RAII handles for the C API in tests -------*- C++ -*-===//

#ifndef LLMC_TEST_UNIT_RUNTIME_APIHELPERS_H
#define LLMC_TEST_UNIT_RUNTIME_APIHELPERS_H

#include "llmc/llmc.h"

#include <memory>
#include <string>

namespace llmc::runtime::test {

struct PlanCloser {
  void operator()(llmc_plan *p) const { llmc_plan_close(p); }
};
struct SessionDestroyer {
  void operator()(llmc_session *s) const { llmc_session_destroy(s); }
};
using PlanPtr = std::unique_ptr<llmc_plan, PlanCloser>;
using SessionPtr = std::unique_ptr<llmc_session, SessionDestroyer>;

/// Opens `path`; on failure returns null and sets `status`.
inline PlanPtr openPlan(const std::string &path, llmc_status *status) {
  llmc_plan *plan = nullptr;
  *status = llmc_plan_open(path.c_str(), &plan);
  return PlanPtr(plan);
}

inline SessionPtr createSession(const llmc_plan *plan, int32_t maxBatch,
                                int32_t numThreads, llmc_status *status,
                                int32_t maxSeqLen = 0) {
  llmc_session_options options = llmc_session_options_default();
  options.max_batch = maxBatch;
  options.num_threads = numThreads;
  options.max_seq_len = maxSeqLen;
  llmc_session *session = nullptr;
  *status = llmc_session_create(plan, &options, &session);
  return SessionPtr(session);
}

} // namespace llmc::runtime::test

#endif // LLMC_TEST_UNIT_RUNTIME_APIHELPERS_H
