# lit configuration for llmc: IR round-trips, verifier diagnostics, passes,
# the HF frontend and the command-line tools.
import os
import sys

import lit.formats

config.name = "llmc"
# External bash so tests can check exact exit codes and files left behind.
config.test_format = lit.formats.ShTest(execute_external=True)
config.suffixes = [".mlir", ".test"]
config.excludes = ["unit", "models", "gpu", "emulation", "Inputs", "CMakeLists.txt", "lit.cfg.py"]
config.test_source_root = os.path.dirname(__file__)
config.test_exec_root = config.llmc_obj_root

config.environment["PATH"] = os.pathsep.join(
    [config.llmc_bin_dir, config.llvm_tools_dir, config.environment.get("PATH", "")]
)
config.substitutions.append(("%examples", os.path.join(config.llmc_src_root, "examples")))
config.substitutions.append(("%tools", os.path.join(config.llmc_src_root, "tools")))
config.substitutions.append(("%python", sys.executable))
