/* examples/embed: generate tokens from the plan linked into this program.
 *
 *   embed [PROMPT [N]]   PROMPT: comma-separated token ids (default 1,2,3,4,5)
 *                        N: tokens to generate greedily (default 8)
 *
 * prints the generated ids comma-separated, as `llmc run` does. */
#include <llmc/llmc.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

extern const unsigned char llmc_embedded_plan[];
extern const unsigned char llmc_embedded_plan_end[];

static int fail(const char *what) {
  fprintf(stderr, "embed: %s: %s\n", what, llmc_last_error());
  return 1;
}

int main(int argc, char **argv) {
  int32_t prompt[256];
  int32_t count = 0, generate = 8, token = 0, seq = 0, i;
  const char *text = argc > 1 ? argv[1] : "1,2,3,4,5";
  char *end = NULL;
  llmc_plan *plan = NULL;
  llmc_session *session = NULL;
  llmc_session_options options = llmc_session_options_default();

  while (*text) {
    long id = strtol(text, &end, 10);
    if (end == text || id < 0 || id > 0x7fffffffL || count == 256 ||
        (*end != ',' && *end != '\0')) {
      fprintf(stderr, "embed: the prompt must be up to 256 comma-separated "
                      "token ids\n");
      return 2;
    }
    prompt[count++] = (int32_t)id;
    text = *end ? end + 1 : end;
  }
  if (argc > 2 && ((generate = atoi(argv[2])) < 1)) {
    fprintf(stderr, "embed: N must be at least 1\n");
    return 2;
  }
  if (count == 0) {
    fprintf(stderr, "embed: empty prompt\n");
    return 2;
  }
  /* In place: the plan's bytes are this program's read-only data. */
  if (llmc_plan_open_memory(llmc_embedded_plan,
                            (size_t)(llmc_embedded_plan_end -
                                     llmc_embedded_plan),
                            NULL, &plan) != LLMC_OK)
    return fail("llmc_plan_open_memory");
  options.num_threads = 1;
  if (llmc_session_create(plan, &options, &session) != LLMC_OK)
    return fail("llmc_session_create");
  if (llmc_prefill_greedy(session, 0, prompt, count, &token) != LLMC_OK)
    return fail("llmc_prefill_greedy");
  printf("%d", (int)token);
  for (i = 1; i < generate; ++i) {
    if (llmc_decode_greedy(session, 1, &seq, &token, &token) != LLMC_OK)
      return fail("llmc_decode_greedy");
    printf(",%d", (int)token);
  }
  printf("\n");
  llmc_session_destroy(session);
  llmc_plan_close(plan);
  return 0;
}
