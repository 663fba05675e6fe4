/* llmc.h is a C header: this file compiles it as strict C99 with every
 * warning an error (test/unit/runtime/CMakeLists.txt), using each kind of
 * declaration once, so that a C++-only construct or a pedantic warning in
 * the public header breaks the build. */
#include "llmc/llmc.h"

#if !defined(LLMC_VERSION_MAJOR) || !defined(LLMC_VERSION_MINOR) || \
    !defined(LLMC_VERSION_PATCH) || !defined(LLMC_VERSION_STRING)
#error "llmc.h must define its version"
#endif

const char *llmc_header_c99_check(llmc_plan *plan);

const char *llmc_header_c99_check(llmc_plan *plan) {
  llmc_session_options options = llmc_session_options_default();
  llmc_session *session = NULL;
  if (llmc_session_create(plan, &options, &session) != LLMC_OK)
    return llmc_last_error();
  llmc_session_destroy(session);
  return LLMC_VERSION_STRING;
}
