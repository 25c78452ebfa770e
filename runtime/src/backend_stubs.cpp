//===- backend_stubs.cpp - factories of backends left out of the build ----===//
//
// Part of the dynaspa project.
//
//===----------------------------------------------------------------------===//
//
// A runtime configured without CUDA or OpenCL still links and answers
// UNSUPPORTED for that device kind, so callers need no #ifdefs.
//
//===----------------------------------------------------------------------===//

#include "backend.h"

namespace dynaspa::runtime {

#ifndef DYNASPA_HAVE_CUDA
Status createCudaBackend(std::unique_ptr<Backend> *) {
  return Status(DYNASPA_UNSUPPORTED,
                "this runtime was built without the CUDA backend");
}
#endif

#ifndef DYNASPA_HAVE_OPENCL
Status createOpenCLBackend(std::unique_ptr<Backend> *) {
  return Status(DYNASPA_UNSUPPORTED,
                "this runtime was built without the OpenCL backend");
}
#endif

} // namespace dynaspa::runtime
