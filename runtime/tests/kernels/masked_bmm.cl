// Hand-written stand-ins for compiler output, used by the OpenCL end-to-end
// tests: a prologue that counts active rows (the tile count for a row
// granularity of 1) and two PolyKernel variants of a masked batch matmul
// C[b,i,j] = R[i] * sum_k A[b,i,k] B[b,k,j] that differ only in how work is
// split, so the tests can tell which one the dispatcher picked. Inactive
// rows are never written: the runtime zero-fills C first.
//
// The *_sd kernels are the self-dispatching forms (Operator.self_dispatch):
// each gets its variant's tile-count range and returns at once unless the
// count lies in it. The test bundles' ranges are disjoint, so "in my range"
// is the same as "the first variant whose range holds the count".

__kernel void count_rows(__global const uchar *mask, __global int *count,
                         int m) {
  int i = get_global_id(0);
  if (i < m && mask[i])
    atomic_inc(count);
}

// Whether the count lies in [lo, hi] (hi < 0: unbounded).
int chosen(__global const int *count, long lo, long hi) {
  long n = *count;
  return n >= lo && (hi < 0 || n <= hi);
}

void bmm_element(__global const float *a, __global const float *b,
                 __global const uchar *mask, __global float *c, int batch,
                 int m, int k, int n, int j, int i, int bb) {
  if (j >= n || i >= m || bb >= batch || !mask[i])
    return;
  float acc = 0.0f;
  for (int kk = 0; kk < k; ++kk)
    acc += a[(bb * m + i) * k + kk] * b[(bb * k + kk) * n + j];
  c[(bb * m + i) * n + j] = acc;
}

void bmm_row(__global const float *a, __global const float *b,
             __global const uchar *mask, __global float *c, long batch, long m,
             long k, long n, long i, long bb) {
  if (i >= m || bb >= batch || !mask[i])
    return;
  for (long j = 0; j < n; ++j) {
    float acc = 0.0f;
    for (long kk = 0; kk < k; ++kk)
      acc += a[(bb * m + i) * k + kk] * b[(bb * k + kk) * n + j];
    c[(bb * m + i) * n + j] = acc;
  }
}

// One work item per (j, i, b).
__kernel void masked_bmm(__global const float *a, __global const float *b,
                         __global const uchar *mask, __global float *c,
                         int batch, int m, int k, int n) {
  bmm_element(a, b, mask, c, batch, m, k, n, get_global_id(0),
              get_global_id(1), get_global_id(2));
}

// One work item per (i, b), looping over j; takes i64 sizes to exercise
// 64-bit scalar arguments.
__kernel void masked_bmm_rows(__global const float *a, __global const float *b,
                              __global const uchar *mask, __global float *c,
                              long batch, long m, long k, long n) {
  bmm_row(a, b, mask, c, batch, m, k, n, get_global_id(0), get_global_id(1));
}

__kernel void masked_bmm_sd(__global const float *a, __global const float *b,
                            __global const uchar *mask, __global float *c,
                            int batch, int m, int k, int n,
                            __global const int *count, long lo, long hi) {
  if (!chosen(count, lo, hi))
    return;
  bmm_element(a, b, mask, c, batch, m, k, n, get_global_id(0),
              get_global_id(1), get_global_id(2));
}

__kernel void masked_bmm_rows_sd(__global const float *a,
                                 __global const float *b,
                                 __global const uchar *mask, __global float *c,
                                 long batch, long m, long k, long n,
                                 __global const int *count, long lo, long hi) {
  if (!chosen(count, lo, hi))
    return;
  bmm_row(a, b, mask, c, batch, m, k, n, get_global_id(0), get_global_id(1));
}

// Fill kernels (Operator.fills_before / fills_alongside): zero the elements
// of C whose row is active (active = 1) or masked off (active = 0).
__kernel void zero_rows(__global const uchar *mask, __global float *c,
                        int batch, int m, int n, int active) {
  int id = get_global_id(0);
  if (id < batch * m * n && (mask[(id / n) % m] != 0) == active)
    c[id] = 0.0f;
}
