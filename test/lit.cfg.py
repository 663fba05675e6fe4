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

# nvdisasm for the tests that read the SASS NVRTC produced (REQUIRES:
# nvdisasm): $LLMC_NVDISASM, else on PATH, in the CUDA toolkit, or in a Python
# wheel (nvidia-cuda-nvdisasm, or the copy Triton, a dependency of torch,
# ships).
def find_nvdisasm():
    import glob
    import shutil
    import subprocess
    candidates = [os.environ.get("LLMC_NVDISASM", ""), shutil.which("nvdisasm") or "",
                  "/usr/local/cuda/bin/nvdisasm"]
    sites = list(sys.path)
    # The python3 on PATH (where setup installs torch) may not be lit's.
    try:
        out = subprocess.run(["python3", "-c", "import site, sys; print('\\n'.join(site.getsitepackages() + sys.path))"],
                             capture_output=True, text=True, timeout=30)
        sites += out.stdout.split("\n")
    except (OSError, subprocess.SubprocessError):
        pass
    for site in sites:
        candidates += glob.glob(os.path.join(site, "nvidia", "cuda_nvdisasm", "bin", "nvdisasm"))
        candidates += glob.glob(os.path.join(site, "triton", "backends", "nvidia", "bin", "nvdisasm"))
    for c in candidates:
        if c and os.path.isfile(c) and os.access(c, os.X_OK):
            return c
    return None


nvdisasm = find_nvdisasm()
if nvdisasm:
    config.available_features.add("nvdisasm")
    config.substitutions.append(("%nvdisasm", nvdisasm))
