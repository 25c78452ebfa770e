// The CUDA twin of masked_bmm.cl (same kernels, names and arguments) for the
// CUDA end-to-end test; compiled to PTX and a cubin at test-build time when
// nvcc exists. extern "C" keeps the names unmangled, as the bundle names
// them. The *_sd kernels are the self-dispatching forms: they return at once
// unless the tile count lies in their variant's [lo, hi] (hi < 0: unbounded).

extern "C" __global__ void count_rows(const unsigned char *mask, int *count,
                                      int m) {
  int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i < m && mask[i])
    atomicAdd(count, 1);
}

__device__ bool chosen(const int *count, long long lo, long long hi) {
  long long n = *count;
  return n >= lo && (hi < 0 || n <= hi);
}

__device__ void bmmElement(const float *a, const float *b,
                           const unsigned char *mask, float *c, int batch,
                           int m, int k, int n) {
  int j = blockIdx.x * blockDim.x + threadIdx.x;
  int i = blockIdx.y * blockDim.y + threadIdx.y;
  int bb = blockIdx.z * blockDim.z + threadIdx.z;
  if (j >= n || i >= m || bb >= batch || !mask[i])
    return;
  float acc = 0.0f;
  for (int kk = 0; kk < k; ++kk)
    acc += a[(bb * m + i) * k + kk] * b[(bb * k + kk) * n + j];
  c[(bb * m + i) * n + j] = acc;
}

__device__ void bmmRow(const float *a, const float *b,
                       const unsigned char *mask, float *c, long long batch,
                       long long m, long long k, long long n) {
  long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x;
  long long bb = blockIdx.y * (long long)blockDim.y + threadIdx.y;
  if (i >= m || bb >= batch || !mask[i])
    return;
  for (long long j = 0; j < n; ++j) {
    float acc = 0.0f;
    for (long long kk = 0; kk < k; ++kk)
      acc += a[(bb * m + i) * k + kk] * b[(bb * k + kk) * n + j];
    c[(bb * m + i) * n + j] = acc;
  }
}

extern "C" __global__ void masked_bmm(const float *a, const float *b,
                                      const unsigned char *mask, float *c,
                                      int batch, int m, int k, int n) {
  bmmElement(a, b, mask, c, batch, m, k, n);
}

extern "C" __global__ void masked_bmm_rows(const float *a, const float *b,
                                           const unsigned char *mask, float *c,
                                           long long batch, long long m,
                                           long long k, long long n) {
  bmmRow(a, b, mask, c, batch, m, k, n);
}

extern "C" __global__ void masked_bmm_sd(const float *a, const float *b,
                                         const unsigned char *mask, float *c,
                                         int batch, int m, int k, int n,
                                         const int *count, long long lo,
                                         long long hi) {
  if (chosen(count, lo, hi))
    bmmElement(a, b, mask, c, batch, m, k, n);
}

extern "C" __global__ void
masked_bmm_rows_sd(const float *a, const float *b, const unsigned char *mask,
                   float *c, long long batch, long long m, long long k,
                   long long n, const int *count, long long lo, long long hi) {
  if (chosen(count, lo, hi))
    bmmRow(a, b, mask, c, batch, m, k, n);
}

// Fill kernels (Operator.fills_before / fills_alongside): zero the elements
// of C whose row is active (active = 1) or masked off (active = 0).
extern "C" __global__ void zero_rows(const unsigned char *mask, float *c,
                                     int batch, int m, int n, int active) {
  int id = blockIdx.x * blockDim.x + threadIdx.x;
  if (id < batch * m * n && (mask[(id / n) % m] != 0) == active)
    c[id] = 0.0f;
}
