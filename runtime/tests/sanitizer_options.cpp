//===- sanitizer_options.cpp - defaults for the sanitized test build ------===//
//
// Part of the dynaspa project.
//
//===----------------------------------------------------------------------===//
//
// Linked only with -DDYNASPA_RUNTIME_SANITIZE=ON. The OpenCL ICD loader and
// PoCL (with the LLVM it embeds) keep allocations alive until exit by
// design; LeakSanitizer would fail every OpenCL test on memory that is not
// ours. Leaks in the runtime itself are still reported.
//
//===----------------------------------------------------------------------===//

extern "C" const char *__lsan_default_suppressions() {
  return "leak:libOpenCL.so\n"
         "leak:libpocl.so\n"
         "leak:libLLVM\n"
         "leak:libclang\n"
         "leak:pocl\n";
}
