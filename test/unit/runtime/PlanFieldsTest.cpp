//===- PlanFieldsTest.cpp - plans missing an optional flatbuffer field ----===//
//
// Every table, vector and string of plan.fbs is optional in the flatbuffer
// encoding. A plan with every section (tinyLlama with a CUDA code section)
// is written without each of them in turn: either the plan is refused with
// a message that names the file, or everything that reads plans copes: the
// C API (llmc_plan_get_info, a CPU session's prefill and decode) and
// `llmc inspect --weights`. A crash in either is a failure, never the end of
// this test: the runtime runs in a death-test child, inspect in its own
// process.
//
//===----------------------------------------------------------------------===//

#include "ApiHelpers.h"
#include "TestPlan.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <string>
#include <sys/wait.h>

namespace llmc::runtime::test {
namespace {

/// Opens `path` and, when it opens, reads it every way the runtime does.
/// Exits 0 when everything returned a status (and a refusal named the
/// file), 3 otherwise; a crash is a signal.
[[noreturn]] void exerciseRuntime(const std::string &path) {
  llmc_status status;
  PlanPtr plan = openPlan(path, &status);
  if (!plan)
    std::_Exit(std::string(llmc_last_error()).rfind(path + ": ", 0) == 0 ? 0
                                                                         : 3);
  llmc_plan_info info;
  if (llmc_plan_get_info(plan.get(), &info) != LLMC_OK)
    std::_Exit(3);
  SessionPtr session = createSession(plan.get(), 1, 2, &status, 16);
  if (session) {
    int32_t tokens[2] = {1, 2}, seq = 0, next = 0;
    std::vector<float> logits(size_t(info.vocab_size) * 2);
    (void)llmc_prefill(session.get(), 0, tokens, 2, logits.data(), nullptr);
    (void)llmc_decode(session.get(), 1, &seq, tokens, logits.data());
    (void)llmc_decode_greedy(session.get(), 1, &seq, tokens, &next);
  }
  std::_Exit(0);
}

TEST(PlanFieldsDeathTest, EveryMissingFieldIsRefusedOrHandled) {
  GTEST_FLAG_SET(death_test_style, "fast");
  TempDir dir;
  for (const std::string &field : TestPlan::omittableFields()) {
    SCOPED_TRACE(field);
    TestPlan t = tinyLlama(4);
    addFakeCudaCode(t, {"sm_90a"});
    t.omit = {field};
    std::string path = t.write(dir.file(field + ".plan"));
    EXPECT_EXIT(exerciseRuntime(path), ::testing::ExitedWithCode(0), "");
#ifdef LLMC_TOOL // not in a runtime-only build
    std::string command = std::string(LLMC_TOOL) + " inspect --weights '" +
                          path + "' > '" + path + ".out' 2>&1";
    int status = std::system(command.c_str());
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) <= 1)
        << "llmc inspect: status " << status;
#endif
  }
}

} // namespace
} // namespace llmc::runtime::test
