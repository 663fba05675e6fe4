//===- Commands.h - the llmc subcommands besides compile --------*- C++ -*-===//

#ifndef LLMC_COMPILER_TOOLS_COMMANDS_H
#define LLMC_COMPILER_TOOLS_COMMANDS_H

namespace llmc::tools {

/// `llmc inspect <plan>`: format, model, memory plan, KV cache, weights,
/// kernels. argv[0] is the subcommand's display name.
int inspectMain(int argc, char **argv);

/// `llmc run <plan> --tokens ...`: prefill, greedy or sampled decoding.
int runMain(int argc, char **argv);

/// `llmc bench <plan>`: prefill and decode throughput, session memory.
int benchMain(int argc, char **argv);

/// `llmc keygen <name>`: an Ed25519 key pair, <name>.key and <name>.pub.
int keygenMain(int argc, char **argv);

/// `llmc sign <plan> --key <name>.key`: append a signature block.
int signMain(int argc, char **argv);

} // namespace llmc::tools

#endif // LLMC_COMPILER_TOOLS_COMMANDS_H
