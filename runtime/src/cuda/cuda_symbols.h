//===- cuda_symbols.h - CUDA driver API symbols loaded with dlopen -*- C++ -*-//
//
// Part of the dynaspa project.
//
//===----------------------------------------------------------------------===//
//
// The runtime never links libcuda: it must load on machines without an
// NVIDIA driver (and report NO_DEVICE there). Every driver entry point used
// anywhere in src/cuda/ is listed once below (cf. IREE's
// cuda_dynamic_symbol_table.h) and resolved into a CudaSymbols table.
//
// cuda.h renames many entry points with macros (cuMemAlloc -> cuMemAlloc_v2);
// the table stringifies the name after macro expansion so that dlsym finds the
// same versioned symbol a linked program would use. Never look up the bare
// name of a renamed function: e.g. the bare cuMemAlloc is the 32-bit legacy
// one. DSP_CU_SYM_OLD marks the few whose bare name is an acceptable fallback
// on older drivers (same signature and meaning). The graph entry points need
// a CUDA 11.4 driver (cuGraphInstantiateWithFlags); older ones report
// NO_DEVICE with the missing name.
//
//===----------------------------------------------------------------------===//

#ifndef DYNASPA_RUNTIME_SRC_CUDA_CUDA_SYMBOLS_H
#define DYNASPA_RUNTIME_SRC_CUDA_CUDA_SYMBOLS_H

#include <cuda.h>

#define DSP_CU_SYMBOLS(SYM, SYM_OLD)                                           \
  SYM(cuInit)                                                                  \
  SYM(cuDriverGetVersion)                                                      \
  SYM(cuGetErrorName)                                                          \
  SYM(cuGetErrorString)                                                        \
  SYM(cuDeviceGetCount)                                                        \
  SYM(cuDeviceGet)                                                             \
  SYM(cuDeviceGetName)                                                         \
  SYM(cuDeviceGetAttribute)                                                    \
  SYM(cuDevicePrimaryCtxRetain)                                                \
  SYM(cuDevicePrimaryCtxRelease)                                               \
  SYM(cuCtxGetCurrent)                                                         \
  SYM(cuCtxSetCurrent)                                                         \
  SYM(cuStreamCreate)                                                          \
  SYM(cuStreamDestroy)                                                         \
  SYM(cuStreamSynchronize)                                                     \
  SYM(cuStreamWaitEvent)                                                       \
  SYM(cuStreamIsCapturing)                                                     \
  SYM(cuStreamBeginCapture)                                                    \
  SYM(cuStreamEndCapture)                                                      \
  SYM(cuGraphInstantiateWithFlags)                                             \
  SYM(cuGraphLaunch)                                                           \
  SYM(cuGraphExecDestroy)                                                      \
  SYM(cuGraphDestroy)                                                          \
  SYM(cuMemAlloc)                                                              \
  SYM(cuMemFree)                                                               \
  SYM(cuMemcpyHtoDAsync)                                                       \
  SYM(cuMemcpyDtoHAsync)                                                       \
  SYM(cuMemsetD8Async)                                                         \
  SYM(cuModuleLoadDataEx)                                                      \
  SYM(cuModuleUnload)                                                          \
  SYM(cuModuleGetFunction)                                                     \
  SYM(cuFuncSetAttribute)                                                      \
  SYM(cuLaunchKernel)                                                          \
  SYM(cuEventCreate)                                                           \
  SYM(cuEventDestroy)                                                          \
  SYM(cuEventRecord)                                                           \
  SYM(cuEventSynchronize)                                                      \
  SYM_OLD(cuEventElapsedTime)

namespace dynaspa::runtime {

/// Function pointers into libcuda.so.1, one per DSP_CU_SYMBOLS entry, named
/// as in cuda.h (`syms.cuMemAlloc(...)`).
struct CudaSymbols {
#define DSP_CU_FIELD(name) decltype(&::name) name = nullptr;
  DSP_CU_SYMBOLS(DSP_CU_FIELD, DSP_CU_FIELD)
#undef DSP_CU_FIELD
};

} // namespace dynaspa::runtime

#endif // DYNASPA_RUNTIME_SRC_CUDA_CUDA_SYMBOLS_H
