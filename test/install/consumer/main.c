/* A product embedding llmc, as test/install builds it against an installed
 * prefix: opens the plan named on the command line, prefills the prompt
 * 1,2,3,4,5 and decodes greedily, printing the 8 generated ids as `llmc run`
 * does (comma-separated). Plain C99: only <llmc/llmc.h>. */
#include <llmc/llmc.h>

#include <stdio.h>
#include <string.h>

static int fail(const char *what) {
  fprintf(stderr, "consumer: %s: %s\n", what, llmc_last_error());
  return 1;
}

int main(int argc, char **argv) {
  llmc_plan *plan = NULL;
  llmc_session *session = NULL;
  llmc_session_options options = llmc_session_options_default();
  const int32_t prompt[] = {1, 2, 3, 4, 5};
  int32_t token = 0, seq = 0, i;
  if (argc != 2) {
    fprintf(stderr, "usage: consumer <plan>\n");
    return 2;
  }
  /* The header and the library it runs against agree. */
  if (strcmp(llmc_version(), LLMC_VERSION_STRING) != 0) {
    fprintf(stderr, "consumer: header %s, library %s\n", LLMC_VERSION_STRING,
            llmc_version());
    return 1;
  }
  if (llmc_plan_open(argv[1], &plan) != LLMC_OK)
    return fail("llmc_plan_open");
  options.num_threads = 1;
  if (llmc_session_create(plan, &options, &session) != LLMC_OK)
    return fail("llmc_session_create");
  if (llmc_prefill_greedy(session, 0, prompt, 5, &token) != LLMC_OK)
    return fail("llmc_prefill_greedy");
  printf("%d", (int)token);
  for (i = 1; i < 8; ++i) {
    if (llmc_decode_greedy(session, 1, &seq, &token, &token) != LLMC_OK)
      return fail("llmc_decode_greedy");
    printf(",%d", (int)token);
  }
  printf("\n");
  llmc_session_destroy(session);
  llmc_plan_close(plan);
  return 0;
}
