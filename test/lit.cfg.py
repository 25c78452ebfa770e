# -*- Python -*-
# lit configuration of the dynaspa regression tests (test/).

import os

import lit.formats
from lit.llvm import llvm_config
from lit.llvm.subst import ToolSubst

config.name = "DYNASPA"
config.test_format = lit.formats.ShTest(not llvm_config.use_lit_shell)
config.suffixes = [".mlir", ".py", ".test"]
config.excludes = ["CMakeLists.txt", "lit.cfg.py", "lit.site.cfg.py", "Unit",
                   "Runtime", "Inputs"]

config.test_source_root = os.path.dirname(__file__)
config.test_exec_root = os.path.join(config.dynaspa_obj_root, "test")

config.substitutions.append(("%PATH%", config.environment["PATH"]))
config.substitutions.append(("%shlibext", config.llvm_shlib_ext))
config.substitutions.append(("%dynaspa_libs", config.dynaspa_lib_dir))
config.substitutions.append(("%mlir_lib_dir", config.mlir_lib_dir))
config.substitutions.append(("%python", config.python_executable))
config.substitutions.append(("%dynaspa_src", config.dynaspa_src_root))
config.substitutions.append(("%dynaspa_build", config.dynaspa_obj_root))

llvm_config.with_system_environment(["HOME", "INCLUDE", "LIB", "TMP", "TEMP"])
llvm_config.use_default_substitutions()

# FileCheck, not, count, split-file come from the LLVM tools directory; the
# upstream MLIR drivers are Debian's versioned ones.
llvm_config.with_environment("PATH", config.llvm_tools_dir, append_path=True)
llvm_config.with_environment("PATH", config.dynaspa_tools_dir, append_path=True)

tools = [
    "dynaspa-opt",
    "dynaspa-compile",
    "dynaspa-cost",
    ToolSubst("mlir-opt", command="mlir-opt-22", unresolved="fatal"),
    ToolSubst("mlir-runner", command="mlir-runner-22", unresolved="fatal"),
    ToolSubst("mlir-translate", command="mlir-translate-22", unresolved="fatal"),
]
llvm_config.add_tool_substitutions(tools, [config.dynaspa_tools_dir,
                                           config.llvm_tools_dir])

# Upstream CPU pipeline for the reference lowering's output (plain
# linalg/tensor IR), and the runner's support libraries.
config.substitutions.append((
    "%cpu_pipeline",
    "--one-shot-bufferize=bufferize-function-boundaries "
    "--convert-linalg-to-loops --convert-scf-to-cf --expand-strided-metadata "
    "--lower-affine --convert-to-llvm --reconcile-unrealized-casts"))
config.substitutions.append((
    "%mlir_runner_utils",
    ",".join(os.path.join(config.mlir_lib_dir, "lib" + name + config.llvm_shlib_ext)
             for name in ("mlir_runner_utils", "mlir_c_runner_utils"))))

# Mask data lives beside the checkout (../shared/masks), never copied in.
shared_masks = os.path.join(os.path.dirname(config.dynaspa_src_root), "shared", "masks")
if os.path.isfile(os.path.join(shared_masks, "index.json")):
    config.available_features.add("shared-masks")
config.substitutions.append(("%shared_masks", shared_masks))
import subprocess
if subprocess.call([config.python_executable, "-c", "import numpy"],
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) == 0:
    config.available_features.add("numpy")

# The runtime's command-line runner (built by the runtime's own project).
config.substitutions.append((
    "%dynaspa_run",
    os.path.join(config.dynaspa_obj_root, "runtime", "bin", "dynaspa-run")))

config.substitutions.append((
    "%dynaspa_calibrate",
    os.path.join(config.dynaspa_obj_root, "runtime", "bin",
                 "dynaspa-calibrate")))

# Device-code validators: ptxas (CUDA toolkit) and spirv-val (spirv-tools).
import shutil
if shutil.which("ptxas") or os.path.exists("/usr/local/cuda/bin/ptxas"):
    config.available_features.add("ptxas")
    llvm_config.with_environment("PATH", "/usr/local/cuda/bin", append_path=True)
if shutil.which("spirv-val"):
    config.available_features.add("spirv-val")
if shutil.which("llvm-spirv-15"):
    config.available_features.add("llvm-spirv")
