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
config.test_format = lit.formats.GoogleTest("runtime/tests;runtime-asan/tests",
                                            "_tests")
