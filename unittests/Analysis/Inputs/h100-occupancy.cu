// Ground truth for the cost model's occupancy (h100-occupancy.csv): the
// CUDA runtime's cudaOccupancyMaxActiveBlocksPerMultiprocessor over block
// sizes, dynamic shared memory and kernels of different register counts.
// Not built by CMake: run it on a GPU and redirect stdout to the .csv.
#include <cstdio>
#include <cuda_runtime.h>
template <int N>
__global__ void k(float *out, int n) {
  extern __shared__ float smem[];
  float a[N];
#pragma unroll
  for (int i = 0; i < N; ++i)
    a[i] = out[threadIdx.x + i * 7];
  for (int it = 0; it < n; ++it)
#pragma unroll
    for (int i = 0; i < N; ++i)
      a[i] = a[i] * a[(i + 1) % N] + smem[(threadIdx.x + i) % 32];
  float s = 0;
#pragma unroll
  for (int i = 0; i < N; ++i)
    s += a[i];
  out[threadIdx.x] = s;
}
template <int N>
void sweep() {
  cudaFuncAttributes attr;
  cudaFuncGetAttributes(&attr, k<N>);
  cudaFuncSetAttribute(k<N>, cudaFuncAttributeMaxDynamicSharedMemorySize,
                       227 * 1024 - (int)attr.sharedSizeBytes);
  for (int threads : {32, 64, 96, 128, 192, 256, 384, 512, 768, 1024})
    for (int smem : {0, 1024, 4096, 12000, 32256, 32329, 48 * 1024, 50000,
                     100 * 1024, 150 * 1024, 227 * 1024}) {
      int blocks = -1;
      cudaError_t e = cudaOccupancyMaxActiveBlocksPerMultiprocessor(
          &blocks, k<N>, threads, smem);
      if (e != cudaSuccess) {
        cudaGetLastError();
        blocks = -1;
      }
      printf("%d,%d,%d,%d\n", attr.numRegs, threads, smem, blocks);
    }
}
int main() {
  printf("regs,threads,smem,blocks\n");
  sweep<2>();
  sweep<16>();
  sweep<40>();
  sweep<64>();
  sweep<100>();
  sweep<160>();
  return 0;
}
