// llmc.h compiled as C++20 with every warning an error and -pedantic
// (test/unit/runtime/CMakeLists.txt), the same uses as HeaderC99.c.
#include "llmc/llmc.h"

static_assert(LLMC_VERSION_MAJOR >= 0 && LLMC_VERSION_MINOR >= 0 &&
              LLMC_VERSION_PATCH >= 0);

const char *llmcHeaderCxxCheck(llmc_plan *plan);

const char *llmcHeaderCxxCheck(llmc_plan *plan) {
  llmc_session_options options = llmc_session_options_default();
  llmc_session *session = nullptr;
  if (llmc_session_create(plan, &options, &session) != LLMC_OK)
    return llmc_last_error();
  llmc_session_destroy(session);
  return LLMC_VERSION_STRING;
}
