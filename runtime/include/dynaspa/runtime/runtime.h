/*===- runtime.h - dynaspa runtime C API -------------------------*- C -*-===*\
|*                                                                            *|
|* Part of the dynaspa project.                                               *|
|*                                                                            *|
\*===----------------------------------------------------------------------===*/
/*
 * The flat C API of the dynaspa runtime: load a bundle written by the
 * compiler, run its spatially-sparse operators on a CUDA (driver API, loaded
 * with dlopen) or OpenCL device -- on host tensors (dynaspa_operator_run), or
 * asynchronously on the caller's device memory and stream
 * (dynaspa_operator_launch, which a caller may capture into a CUDA graph).
 *
 * Every function returns a dynaspa_status_t and never prints or aborts; the
 * message of the last failure is kept per context (dynaspa_context_last_error)
 * and, for calls that have no context yet, per thread (pass NULL). Handles are
 * not thread-safe: use one context per thread or serialize calls.
 */

#ifndef DYNASPA_RUNTIME_RUNTIME_H
#define DYNASPA_RUNTIME_RUNTIME_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The bundle version this runtime reads; see runtime/schema/bundle.fbs. */
#define DYNASPA_BUNDLE_VERSION 4u

typedef enum dynaspa_status {
  DYNASPA_OK = 0,
  DYNASPA_INVALID_ARGUMENT = 1,
  DYNASPA_BAD_BUNDLE = 2,
  DYNASPA_VERSION_MISMATCH = 3,
  DYNASPA_SHAPE_MISMATCH = 4,
  DYNASPA_DTYPE_MISMATCH = 5,
  DYNASPA_NO_DEVICE = 6,
  DYNASPA_DEVICE_ERROR = 7,
  DYNASPA_OUT_OF_MEMORY = 8,
  DYNASPA_UNSUPPORTED = 9,
  DYNASPA_IO_ERROR = 10,
} dynaspa_status_t;

typedef enum dynaspa_device_kind {
  /* CUDA if a CUDA device is present, else OpenCL. */
  DYNASPA_DEVICE_AUTO = 0,
  DYNASPA_DEVICE_CUDA = 1,
  DYNASPA_DEVICE_OPENCL = 2,
} dynaspa_device_kind_t;

/* Element types; the values equal dynaspa.bundle.DType. I1 is one byte. */
typedef enum dynaspa_dtype {
  DYNASPA_F32 = 0,
  DYNASPA_F16 = 1,
  DYNASPA_F64 = 2,
  DYNASPA_I32 = 3,
  DYNASPA_U8 = 4,
  DYNASPA_I1 = 5,
} dynaspa_dtype_t;

/* The values equal dynaspa.bundle.OpKind. */
typedef enum dynaspa_op_kind {
  DYNASPA_OP_CONV2D = 0,
  DYNASPA_OP_BATCH_MATMUL = 1,
} dynaspa_op_kind_t;

typedef struct dynaspa_context dynaspa_context_t;
typedef struct dynaspa_bundle dynaspa_bundle_t;

/* A tensor in host memory, C order. As an input the runtime only reads
 * `data`. `dtype` is DYNASPA_F32 (converted to the device buffer's type) or
 * exactly the device buffer's type (copied as is). */
typedef struct dynaspa_host_tensor {
  void *data;
  dynaspa_dtype_t dtype;
  int32_t rank;
  const int64_t *shape;
} dynaspa_host_tensor_t;

/* A tensor as the bundle declares it. `name` and `shape` live as long as the
 * bundle. */
typedef struct dynaspa_tensor_info {
  const char *name;
  dynaspa_dtype_t dtype;
  int32_t rank;
  const int64_t *shape;
} dynaspa_tensor_info_t;

typedef struct dynaspa_operator_info {
  const char *name;
  dynaspa_op_kind_t kind;
  size_t num_inputs;
  size_t num_outputs;
  size_t num_variants;
  /* Variants that multiply on tensor cores with TF32 operands: results are
   * then about 1e-3 relative accurate, not fp32's. */
  size_t num_tf32_variants;
} dynaspa_operator_info_t;

/* What one run did. Device times come from backend events around the device
 * work (zero fill + prologue, then the chosen variant); they exclude host
 * transfers and are filled only when `stats` is passed to the run. */
typedef struct dynaspa_run_stats {
  int32_t variant;
  /* -1 when the operator builds no tile list (its only variant's kernel
   * finds its DISTiles itself). */
  int64_t tile_count;
  float prologue_ms;
  float variant_ms;
} dynaspa_run_stats_t;

/* Timing options of dynaspa_operator_benchmark. */
typedef struct dynaspa_benchmark_options {
  /* Untimed replays of each graph first (>= 0). */
  int32_t warmup;
  /* R: replays of the operator per round, back to back (>= 1). Its
   * overhead and zero fill, timed on their own, are replayed as many times
   * as fill the operator's window (R to 4096), so that short parts are not
   * read off the timer's floor. */
  int32_t reps;
  /* Rounds (>= 1); the result is the median (and min) over rounds. */
  int32_t rounds;
} dynaspa_benchmark_options_t;

/* What dynaspa_operator_benchmark measured. Times are of one execution of
 * the operator: a round's time / reps. */
typedef struct dynaspa_benchmark_result {
  /* Zero fill + prologue + variants. */
  double median_us;
  double min_us;
  /* The same for the prologue without the outputs' zero fill (bitmask and
   * DISTile lists; the variant kernels select themselves): the runtime's
   * overhead; 0 for an operator without prologue kernels. It is timed as
   * in the op, inside a graph: a graph of 8 prologues back to back, / 8, so
   * that it holds the kernels and the gaps between them but not a graph
   * launch per prologue. */
  double overhead_us;
  double overhead_min_us;
  /* The variant (and its tile count, -1 where no tile list is built) that
   * applied to the inputs timed. */
  int32_t variant;
  int64_t tile_count;
  /* 1 for an operator that is not self-dispatching: its variant was chosen
   * on the host once, before timing, and the timed work holds only that
   * variant (the count read-back a real run needs is not timed). */
  int32_t host_selected;
  /* How it was timed, a static string: "cuda-graph" or "opencl-host-clock". */
  const char *method;
  /* Median time of zeroing the outputs alone (part of median_us, not of the
   * overhead: it is as large as the output whatever the mask); 0 where the
   * kernels write the zeros themselves. */
  double zero_fill_us;
} dynaspa_benchmark_result_t;

/* A static string naming `status`, e.g. "DYNASPA_BAD_BUNDLE". */
const char *dynaspa_status_string(dynaspa_status_t status);

/* The message of the last failing call on `context`, or of the calling
 * thread's last failing call that had no context (context == NULL). Never
 * NULL; valid until the next call on the same context/thread. */
const char *dynaspa_context_last_error(const dynaspa_context_t *context);

/* Opens the first device of `kind`. Fails with DYNASPA_NO_DEVICE when the
 * driver or a device is missing. */
dynaspa_status_t dynaspa_context_create(dynaspa_device_kind_t kind,
                                        dynaspa_context_t **out_context);

/* Fails with DYNASPA_INVALID_ARGUMENT (and keeps the context) while bundles
 * loaded in it are alive. NULL is accepted. */
dynaspa_status_t dynaspa_context_destroy(dynaspa_context_t *context);

dynaspa_status_t dynaspa_context_device_kind(const dynaspa_context_t *context,
                                             dynaspa_device_kind_t *out_kind);

/* A human-readable device name, valid as long as the context. */
dynaspa_status_t dynaspa_context_device_name(const dynaspa_context_t *context,
                                             const char **out_name);

/* The native objects of the context, for callers that allocate the memory
 * they pass to dynaspa_operator_launch. CUDA: device 0's primary CUcontext
 * (the one the CUDA runtime, PyTorch and CuPy use, so their memory and
 * streams work as they are) and the runtime's own non-blocking CUstream.
 * OpenCL: the cl_context (caller buffers and queues must belong to it) and
 * its cl_command_queue. Either out pointer may be NULL. */
dynaspa_status_t
dynaspa_context_native_handles(const dynaspa_context_t *context,
                               void **out_device_context, void **out_queue);

/* Reads, verifies and keeps a bundle. Device code is built lazily, on the
 * first run (or prepare) of an operator that uses it. */
dynaspa_status_t dynaspa_bundle_load_file(dynaspa_context_t *context,
                                          const char *path,
                                          dynaspa_bundle_t **out_bundle);

/* As dynaspa_bundle_load_file; the bytes are copied. */
dynaspa_status_t dynaspa_bundle_load_bytes(dynaspa_context_t *context,
                                           const void *data, size_t size,
                                           dynaspa_bundle_t **out_bundle);

/* Frees device memory and modules of the bundle. Fails with
 * DYNASPA_INVALID_ARGUMENT (and keeps the bundle) while networks of it are
 * alive. NULL is accepted. */
dynaspa_status_t dynaspa_bundle_destroy(dynaspa_bundle_t *bundle);

dynaspa_status_t dynaspa_bundle_operator_count(const dynaspa_bundle_t *bundle,
                                               size_t *out_count);

dynaspa_status_t dynaspa_bundle_find_operator(const dynaspa_bundle_t *bundle,
                                              const char *name,
                                              size_t *out_index);

dynaspa_status_t dynaspa_operator_get_info(const dynaspa_bundle_t *bundle,
                                           size_t op,
                                           dynaspa_operator_info_t *out_info);

/* The i-th user input (call order) / output of operator `op`. */
dynaspa_status_t dynaspa_operator_get_input(const dynaspa_bundle_t *bundle,
                                            size_t op, size_t i,
                                            dynaspa_tensor_info_t *out_info);
dynaspa_status_t dynaspa_operator_get_output(const dynaspa_bundle_t *bundle,
                                             size_t op, size_t i,
                                             dynaspa_tensor_info_t *out_info);

/* Allocates the operator's scratch buffers (bitmask, tile lists, counts)
 * and builds its kernels now rather than on the first run or launch (so that
 * the first one's time is representative, and so that launches can be
 * captured: see dynaspa_operator_launch). Device copies of the user tensors,
 * which only dynaspa_operator_run and dynaspa_operator_benchmark use, are
 * allocated by the first of those. */
dynaspa_status_t dynaspa_operator_prepare(dynaspa_bundle_t *bundle, size_t op);

/* Whether a self-dispatching operator's variants run side by side (`enable`
 * non-zero) instead of one after another on the op's queue (the default).
 * All variants are launched and all but one exit at once; side by side,
 * variant 0 stays on the op's queue and each later one gets its own queue
 * (CUDA stream / OpenCL queue), forked after the prologue and joined before
 * the op ends, so the variants that exit no longer sit on the critical path.
 * Measured on an H100 (docs/benchmarks/NOTES.md, entry 29): 3.4% faster on
 * the geometric mean of 126 suite rows, 7% at density 0.1, but up to 37%
 * slower on a few dense rows where a later variant runs and an earlier one
 * that exits was launched beside it. No effect on operators of one variant
 * or on host-selected ones. Takes effect from the next run or launch; do not
 * call it while a launch of the operator is being captured. */
dynaspa_status_t dynaspa_operator_set_variant_lanes(dynaspa_bundle_t *bundle,
                                                    size_t op, int enable);

/* Runs operator `op`: uploads the inputs, zero-fills, runs the prologue,
 * reads the tile counts, launches the first variant whose range holds its
 * count, and downloads the outputs. A self-dispatching operator launches
 * every variant instead (the kernels choose on the device) and reads the
 * counts only to fill `stats`. Shapes must equal the bundle's exactly.
 * `stats` may be NULL. Blocks until the outputs are on the host. */
dynaspa_status_t dynaspa_operator_run(dynaspa_bundle_t *bundle, size_t op,
                                      const dynaspa_host_tensor_t *inputs,
                                      size_t num_inputs,
                                      const dynaspa_host_tensor_t *outputs,
                                      size_t num_outputs,
                                      dynaspa_run_stats_t *stats);

/* Launches operator `op` asynchronously on caller-owned device memory.
 * CUDA: `inputs`/`outputs` are CUdeviceptr values cast to void*, `stream` a
 * CUstream (NULL = legacy default stream), all of device 0's primary context.
 * OpenCL: cl_mem handles, `stream` a cl_command_queue (NULL = the context's
 * queue), all of the context's cl_context (dynaspa_context_native_handles).
 * Inputs then outputs in the bundle's order (Operator.inputs / .outputs);
 * their dtypes must be the buffers' device dtypes (dynaspa_operator_get_input;
 * I1 = 1 byte per element), C order, exactly the bundle's shapes: the runtime
 * cannot check raw device memory. Kernels of a schedule with vector_width
 * > 1 load aligned vectors (16 bytes for 4 floats): a CUDA pointer into the
 * middle of an allocation must keep that alignment (allocations themselves
 * are at least 256-byte aligned); the runtime does not check it.
 * Scratch buffers (bitmask, tile lists, counts) belong to the runtime and are
 * shared by all launches of the operator: order launches of one operator on
 * one stream (or with events). Output buffers are zero-filled on the stream
 * first (async memset), then the prologue and every variant are enqueued.
 * Requires a self-dispatching operator (else DYNASPA_UNSUPPORTED: a
 * host-selected one must read its tile counts back). Never synchronizes with
 * the host, so on CUDA the call can be captured into a CUDA graph (stream
 * capture) by the caller, e.g. PyTorch's torch.cuda.graph -- but the first
 * launch prepares the operator (dynaspa_operator_prepare: allocation and
 * module loading, which capture forbids), so capture needs a prepared
 * operator; an unprepared one fails with DYNASPA_INVALID_ARGUMENT while its
 * stream is capturing. A captured launch replays on the same pointers. */
dynaspa_status_t dynaspa_operator_launch(dynaspa_bundle_t *bundle, size_t op,
                                         void *const *inputs, size_t num_inputs,
                                         void *const *outputs,
                                         size_t num_outputs, void *stream);

/* Times operator `op` on the runtime's own device buffers as the last
 * dynaspa_operator_run left them (call it first with the inputs to time; a
 * never-run operator times all-zero inputs). CUDA: zero fill + prologue +
 * variants are captured into a graph on a non-default stream; each round
 * replays it `reps` times back to back between two events and takes
 * time / reps; the result is the median (and min) over `rounds`, after
 * `warmup` untimed replays. The overhead is timed the same way from a graph
 * of zero fill + prologue alone. OpenCL: the same replays are enqueues, timed
 * with the host's wall clock from the first enqueue to clFinish. `options`
 * may be NULL (warmup 10, reps 100, rounds 10). Blocks; leaves the device
 * copies of the outputs unspecified. */
dynaspa_status_t
dynaspa_operator_benchmark(dynaspa_bundle_t *bundle, size_t op,
                           const dynaspa_benchmark_options_t *options,
                           dynaspa_benchmark_result_t *result);

/* ---- Networks: chains of operators with triple-buffered activations ----
 *
 * A network runs operators of one bundle in sequence, the output of each
 * feeding input 0 of the next (conv2d: the input; batch_matmul: lhs), on a
 * static memory plan (paper, section 3.4): at most three activation buffers,
 * each as large as the chain's largest tensor, used in rotation -- one the
 * current operator reads, one it writes, and a third that is zero-filled on
 * a second queue (CUDA stream / OpenCL command queue) while it runs, so that
 * the next operator's sparse output starts from zeros without a fill on the
 * critical path. Operators skip their own zero fill of an output the plan
 * cleared. Every other input (filter, mask, bias, rhs, column mask) is bound
 * per operator.
 *
 * Inputs are passed as one flat array: every operator's inputs in chain
 * order, each operator's in its call order (dynaspa_operator_get_input).
 * Input 0 of every operator after the first is the previous output: its
 * entry must be empty (a host tensor with data NULL, or a NULL device
 * pointer). dynaspa_network_info_t.num_inputs is the array's length. */

typedef struct dynaspa_network dynaspa_network_t;

typedef struct dynaspa_network_info {
  size_t num_ops;
  /* Length of the flat input array of run and launch. */
  size_t num_inputs;
  /* Activation buffers of the plan: min(3, num_ops + 1). */
  size_t num_buffers;
  /* Bytes of each: the largest tensor of the chain. */
  size_t buffer_bytes;
  /* What one buffer per chain tensor (the network input and every output)
   * would take, for comparison. */
  size_t unplanned_bytes;
} dynaspa_network_info_t;

/* What dynaspa_network_benchmark measured: one execution of the whole chain
 * (a round's time / reps), median and min over rounds. */
typedef struct dynaspa_network_benchmark_result {
  /* The plan as run: zero fills on the side queue, overlapping the
   * previous operator. */
  double median_us;
  double min_us;
  /* The same chain with each zero fill on the main queue right before its
   * operator: what the side queue saves (or costs). */
  double serial_median_us;
  double serial_min_us;
  /* 1 if some operator is host-selected: its variant was chosen once before
   * timing, as in dynaspa_operator_benchmark. */
  int32_t host_selected;
  /* "cuda-graph" or "opencl-host-clock", a static string. */
  const char *method;
} dynaspa_network_benchmark_result_t;

/* Builds a network of operators `ops[0..num_ops)` of `bundle` (an operator
 * may appear more than once). Checks that each output has the shape and
 * dtype of the next operator's input 0 (DYNASPA_SHAPE_MISMATCH /
 * DYNASPA_DTYPE_MISMATCH, naming both). Allocates nothing on the device. The
 * network must be destroyed before its bundle (dynaspa_bundle_destroy fails
 * with DYNASPA_INVALID_ARGUMENT while networks of it are alive). Operators
 * keep their scratch buffers in the bundle: order a network's executions
 * and its operators' own runs or launches on one stream. */
dynaspa_status_t dynaspa_network_create(dynaspa_bundle_t *bundle,
                                        const size_t *ops, size_t num_ops,
                                        dynaspa_network_t **out_network);

/* Frees the network's device buffers, side queue and events; work still in
 * flight on a caller's stream must be finished first. NULL is accepted. */
dynaspa_status_t dynaspa_network_destroy(dynaspa_network_t *network);

dynaspa_status_t dynaspa_network_get_info(const dynaspa_network_t *network,
                                          dynaspa_network_info_t *out_info);

/* Prepares every operator (dynaspa_operator_prepare), allocates the
 * activation buffers and creates the side queue and its events. Capturing
 * a launch needs a prepared network. */
dynaspa_status_t dynaspa_network_prepare(dynaspa_network_t *network);

/* Runs the chain on host tensors: `inputs` as described above (shapes and
 * dtypes as in dynaspa_operator_run), `output` the last operator's output.
 * Host-selected operators read their tile counts back as in
 * dynaspa_operator_run. `stats` is NULL or an array of num_ops entries, one
 * per operator; filling it adds a host round trip per operator (to read
 * which variant ran). Blocks until the output is on the host. */
dynaspa_status_t dynaspa_network_run(dynaspa_network_t *network,
                                     const dynaspa_host_tensor_t *inputs,
                                     size_t num_inputs,
                                     const dynaspa_host_tensor_t *output,
                                     dynaspa_run_stats_t *stats);

/* Enqueues the chain on caller memory and `stream`, as
 * dynaspa_operator_launch does for one operator (same handle kinds and
 * rules; every operator must be self-dispatching, else
 * DYNASPA_UNSUPPORTED). `inputs[0]` is the network input, `output` the last
 * operator's output; the intermediate tensors live in the network's
 * buffers. The side-queue work is ordered with events, forked from `stream`
 * and joined back into it before return, so the call never blocks and can be
 * captured into a CUDA graph (a prepared network only, as for operators).
 * The output is zero-filled on the side queue, possibly before the first
 * operator runs: it must not alias an input. */
dynaspa_status_t dynaspa_network_launch(dynaspa_network_t *network,
                                        void *const *inputs, size_t num_inputs,
                                        void *output, void *stream);

/* Times the chain on the network's own buffers as the last
 * dynaspa_network_run left them, like dynaspa_operator_benchmark (CUDA: a
 * captured graph, side stream included; OpenCL: host clock), once as
 * planned and once with the zero fills serialized on the main queue.
 * `options` may be NULL (warmup 10, reps 100, rounds 10). Blocks. */
dynaspa_status_t
dynaspa_network_benchmark(dynaspa_network_t *network,
                          const dynaspa_benchmark_options_t *options,
                          dynaspa_network_benchmark_result_t *result);

/* --- Calibration probes ------------------------------------------------
 * A bundle from `dynaspa-compile --probes` holds microbenchmark kernels for
 * the cost model instead of (or besides) operators; dynaspa-calibrate times
 * them through these calls and writes the device file the compiler reads. */

/* What the device reports; 0 where its API does not say. */
typedef struct dynaspa_device_info {
  /* SMs (CUDA) or compute units (OpenCL). */
  uint32_t compute_units;
  /* Resident threads per SM (CUDA only). */
  uint32_t max_threads_per_compute_unit;
  uint32_t max_threads_per_block;
} dynaspa_device_info_t;

dynaspa_status_t dynaspa_context_device_info(const dynaspa_context_t *context,
                                             dynaspa_device_info_t *out_info);

/* Matches bundle.fbs ProbeKind. */
typedef enum dynaspa_probe_kind {
  /* FMAs on independent accumulators: `work` MACs per thread per iteration. */
  DYNASPA_PROBE_FMA = 0,
  /* The paper's Fig. 7 dependent FMA chain, `work` MACs per iteration. */
  DYNASPA_PROBE_FMA_CHAIN = 1,
  /* `work` conflict-free 4-byte shared-memory loads per thread per
   * iteration. */
  DYNASPA_PROBE_SHARED = 2,
  /* A grid-stride copy of `count` f32 elements, `work` per access. */
  DYNASPA_PROBE_COPY = 3
} dynaspa_probe_kind_t;

typedef struct dynaspa_probe_info {
  dynaspa_probe_kind_t kind;
  /* Owned by the bundle. */
  const char *kernel;
  /* Threads per block (fixed by the kernel). */
  uint32_t block;
  /* f32 elements of each of the probe's two buffers. */
  int64_t elements;
  uint32_t work;
} dynaspa_probe_info_t;

dynaspa_status_t dynaspa_bundle_probe_count(const dynaspa_bundle_t *bundle,
                                            size_t *out_count);
dynaspa_status_t dynaspa_probe_get_info(const dynaspa_bundle_t *bundle,
                                        size_t probe,
                                        dynaspa_probe_info_t *out_info);

/* Times probe `probe` with `grid` blocks and argument `count` (iterations;
 * for DYNASPA_PROBE_COPY, elements to copy): `launches` launches back to
 * back are recorded once (CUDA graph; OpenCL: host clock) and replayed
 * options->reps times per round; `out_us` is the median over rounds of one
 * launch's time, in microseconds, so in-graph launch gaps are included.
 * The compute and shared probes need grid * block <= elements. `options`
 * may be NULL (warmup 10, reps 100, rounds 10). Blocks. */
dynaspa_status_t dynaspa_probe_benchmark(
    dynaspa_bundle_t *bundle, size_t probe, uint32_t grid, int64_t count,
    uint32_t launches, const dynaspa_benchmark_options_t *options,
    double *out_us);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* DYNASPA_RUNTIME_RUNTIME_H */
