# -*- Python -*-
# The runtime's GoogleTest suite, built twice by the top level: plainly and
# under ASan/UBSan (the corrupted-bundle tests must not crash either way).
# CUDA tests skip where no GPU driver is present.

import os

import lit.formats

config.name = "DYNASPA-Runtime"
config.suffixes = []
config.test_exec_root = config.dynaspa_obj_root
config.test_source_root = config.test_exec_root
# The suite's root is the whole build directory; lit would otherwise walk into
# build/test, find the DYNASPA suite's site config there and run every lit
# test a second time, concurrently with the first (sharing %t directories).
config.excludes = [entry for entry in os.listdir(config.dynaspa_obj_root)
                   if entry not in ("runtime", "runtime-asan")]
config.test_format = lit.formats.GoogleTest("runtime/tests;runtime-asan/tests",
                                            "_tests")
