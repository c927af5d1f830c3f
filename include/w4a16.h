/* w4a16 — 16-bit activations times 4-bit quantized weights on NVIDIA GPUs.
 *
 * The only public header. Every function returns a w4a16_status (or a value
 * that cannot fail); on error, w4a16_last_error() names the argument and its
 * value, and nothing the caller owns has been modified (the one exception, a
 * w4a16_gemm run in chunks, is stated there). The library never exits,
 * aborts or prints unless asked (w4a16_set_log, or W4A16_LOG=1).
 *
 * The math (docs/DESIGN.md §1):
 *   C[m, n] = sum_k A[m, k] * W[n, k] (+ bias[n])
 *   W[n, k] = (q[n, k] - z[n, g]) * s[n, g],  g = k / G  (or g_idx[k], act-order)
 */
#ifndef W4A16_H
#define W4A16_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(_WIN32)
#define W4A16_API
#else
#define W4A16_API __attribute__((visibility("default")))
#endif

/* Host and device: the layout accessor below is shared with the GPU pack kernel. */
#if defined(__CUDACC__)
#define W4A16_HD __host__ __device__
#else
#define W4A16_HD
#endif

/* ------------------------------------------------------------------ errors */

/* Fixed values: they are part of the ABI. */
typedef enum {
    W4A16_OK = 0,
    W4A16_ERR_ARG = 1,         /* a bad argument: NULL, misaligned, out of range */
    W4A16_ERR_SHAPE = 2,       /* shapes that do not agree or do not divide */
    W4A16_ERR_UNSUPPORTED = 3, /* valid, but no kernel or format path takes it */
    W4A16_ERR_FORMAT = 4,      /* a malformed or inconsistent file */
    W4A16_ERR_IO = 5,          /* open, read, write, mmap failed */
    W4A16_ERR_NOMEM = 6,       /* host or device allocation failed */
    W4A16_ERR_CUDA = 7,        /* a CUDA or cuBLAS call failed, or no device */
} w4a16_status;

W4A16_API const char *w4a16_status_str(w4a16_status status);
/* Thread-local message of the last failing call on this thread ("" if none). */
W4A16_API const char *w4a16_last_error(void);
W4A16_API const char *w4a16_version(void);
/* Log sink for diagnostics (kernel choices, progress). NULL: silent, unless the
 * environment has W4A16_LOG=1, which sends the log to stderr. */
typedef void (*w4a16_log_fn)(const char *message, void *user);
W4A16_API void w4a16_set_log(w4a16_log_fn fn, void *user);

/* ------------------------------------------------------------------ dtypes */

/* Every dtype the safetensors format defines. Activations are F16 or BF16;
 * scales F16, BF16 or F32. */
typedef enum {
    W4A16_DTYPE_INVALID = 0,
    W4A16_BOOL, W4A16_U8, W4A16_I8, W4A16_I16, W4A16_U16, W4A16_F16, W4A16_BF16,
    W4A16_I32, W4A16_U32, W4A16_F32, W4A16_F64, W4A16_I64, W4A16_U64, W4A16_C64,
    W4A16_F8_E4M3, W4A16_F8_E5M2, W4A16_F8_E4M3FNUZ, W4A16_F8_E5M2FNUZ, W4A16_F8_E8M0,
    W4A16_F4, W4A16_F6_E2M3, W4A16_F6_E3M2,
    W4A16_DTYPE_COUNT
} w4a16_dtype;

/* "F16", "BF16", ... as safetensors spells them; "INVALID" otherwise. */
W4A16_API const char *w4a16_dtype_name(w4a16_dtype dtype);
/* Size of one element in bits (4 for F4, 6 for F6_*); 0 for INVALID. */
W4A16_API int w4a16_dtype_bits(w4a16_dtype dtype);

/* ----------------------------------------------------------------- formats */

typedef enum {
    W4A16_FORMAT_AUTO = 0, /* decide from config.json / quant_config.json */
    W4A16_FORMAT_DENSE,    /* unquantized 16/32-bit weights */
    W4A16_FORMAT_AWQ,      /* AWQ gemm */
    W4A16_FORMAT_GPTQ,     /* GPTQ v1: zeros stored minus one */
    W4A16_FORMAT_GPTQ_V2,  /* GPTQ v2: zeros stored as they are */
    W4A16_FORMAT_CT,       /* compressed-tensors pack-quantized */
} w4a16_format;

/* "awq", "gptq", "gptq_v2", "ct", "dense"; "auto". */
W4A16_API const char *w4a16_format_name(w4a16_format format);
/* Parses the names above; W4A16_ERR_ARG for any other. */
W4A16_API w4a16_status w4a16_format_parse(const char *name, w4a16_format *out);

/* -------------------------------------------------- quantized weight layout */

/* Where q[n, k] (or z[n, g], with g in place of k) lives in a tensor of int32
 * words holding eight 4-bit values each. One descriptor serves every format
 * (docs/DESIGN.md §2): the packed axis is divided by 8, the other is not.
 *   word  = words[(n or n/8) * stride_n + (k or k/8) * stride_k]
 *   value = ((word >> (4 * nibble_of[lane])) & 15) + offset,
 *   lane  = (packed index) % 8                                              */
typedef enum { W4A16_PACKED_ALONG_N = 0, W4A16_PACKED_ALONG_K = 1 } w4a16_packed_axis;

typedef struct {
    int32_t packed_axis;  /* w4a16_packed_axis */
    int64_t stride_n;     /* words between consecutive (packed) n indices */
    int64_t stride_k;     /* words between consecutive (packed) k indices */
    uint8_t nibble_of[8]; /* element j of a word's eight lives in nibble nibble_of[j] */
    int32_t offset;       /* added to the stored value: +1 for GPTQ v1 zeros */
} w4a16_qlayout;

/* q[n, k] (0..15) or z[n, g] (0..16) through a layout. */
static inline W4A16_HD int32_t w4a16_qlayout_get(const w4a16_qlayout *layout,
                                                 const int32_t *words, int64_t n, int64_t k) {
    int64_t word_n = layout->packed_axis == W4A16_PACKED_ALONG_N ? n >> 3 : n;
    int64_t word_k = layout->packed_axis == W4A16_PACKED_ALONG_K ? k >> 3 : k;
    int lane = (int)((layout->packed_axis == W4A16_PACKED_ALONG_N ? n : k) & 7);
    uint32_t word = (uint32_t)words[word_n * layout->stride_n + word_k * layout->stride_k];
    return (int32_t)((word >> (4 * layout->nibble_of[lane])) & 15u) + layout->offset;
}

/* One quantized linear layer as a checkpoint stores it: W is [n, k]. The
 * pointers are host memory, or device memory when on_device is set; they are
 * borrowed, never freed by the library. */
typedef struct {
    int64_t n, k;
    int64_t group_size;          /* 32, 64, 128, ... ; -1 = per-channel (one group of K) */
    const int32_t *qweight;
    w4a16_qlayout qweight_layout;
    const int32_t *qzeros;       /* NULL: symmetric, z = 8 everywhere */
    w4a16_qlayout qzeros_layout; /* indexed (n, g) */
    const void *scales;          /* s[n, g] = scales[n * scales_stride_n + g * scales_stride_g] */
    w4a16_dtype scales_dtype;    /* F16, BF16 or F32 */
    int64_t scales_stride_n, scales_stride_g;
    const int32_t *g_idx;        /* [k] group of each column (act-order); NULL: g = k / G */
    int32_t on_device;           /* 1: the pointers above are device memory */
} w4a16_source;

/* Number of groups along K: K / G, or 1 per-channel. */
static inline W4A16_HD int64_t w4a16_source_groups(const w4a16_source *src) {
    return src->group_size < 0 ? 1 : src->k / src->group_size;
}

/* W[n, k] in double, exactly, from a host source (the reference's view). */
W4A16_API double w4a16_source_weight(const w4a16_source *src, int64_t n, int64_t k);
/* Checks a source's shape, group size, layouts and pointers; names the first problem. */
W4A16_API w4a16_status w4a16_source_validate(const w4a16_source *src);

/* --------------------------------------------------------- tensor parallel */

/* How a layer is split over the ranks of a tensor-parallel group (the
 * caller's engine runs the ranks and their all-reduce; docs/DESIGN.md §9):
 * - W4A16_COLUMN_PARALLEL (q|k|v, gate|up): rank r takes rows
 *   [r·n/world, (r+1)·n/world) of W, so its C holds those columns of the
 *   whole C. A merged layer takes that range of EACH source: rank r's
 *   q|k|v is q_r|k_r|v_r, not one range of the concatenation. Its bias is
 *   the same rows of each source's bias.
 * - W4A16_ROW_PARALLEL (o_proj, down): rank r takes columns
 *   [r·k/world, (r+1)·k/world) of W and multiplies the same columns of A;
 *   the ranks' C are partial sums to add (all-reduce), so the bias goes to
 *   one rank only: rank 0 passes it to w4a16_gemm, the others NULL.
 * Values are fixed (ABI); 0 means none, so a zeroed struct is refused. */
typedef enum { W4A16_COLUMN_PARALLEL = 1, W4A16_ROW_PARALLEL = 2 } w4a16_parallel;

typedef struct {
    int32_t rank;     /* 0 .. world - 1 */
    int32_t world;    /* ranks in the group, >= 1 */
    int32_t parallel; /* w4a16_parallel */
} w4a16_shard;

/* Rank shard->rank's part of a source, as a view of the same host or device
 * memory (pointers moved, nothing copied or allocated; it lives as long as
 * src's memory; out may be src), so packing it stages only that part on
 * the device. Done on the host before packing, never as a second full copy
 * on the GPU.
 * Refused with W4A16_ERR_SHAPE naming the rule (out unchanged) where the
 * format cannot split the layer:
 * - column: n not a multiple of world; n / world not a multiple of 8 where
 *   a tensor holds 8 rows in a word (AWQ's qweight, every format's zeros);
 * - row: k not a multiple of world; k / world not a multiple of the group
 *   size, or of 8 where qweight holds 8 columns in a word (GPTQ and
 *   compressed-tensors, which matters for per-channel layers).
 * Every rank of a group gets the same answer. world = 1 gives src itself.
 * A row shard of an act-order layer (a g_idx other than k / G) is
 * W4A16_ERR_UNSUPPORTED: packed layout v1 keys a group to G consecutive
 * sorted columns, and act-order scatters a group's columns over all of K;
 * the message names a group two ranks would share. A row shard reads g_idx
 * on the host (a device g_idx is W4A16_ERR_UNSUPPORTED) and leaves out one
 * equal to k / G, as GPTQ stores without act-order. A NULL argument, world
 * < 1, rank outside 0..world-1 or an unknown parallel is W4A16_ERR_ARG. */
W4A16_API w4a16_status w4a16_source_shard(const w4a16_source *src, const w4a16_shard *shard,
                                          w4a16_source *out);

/* ------------------------------------------------------------- checkpoints */

typedef struct w4a16_checkpoint w4a16_checkpoint;

typedef enum {
    W4A16_LAYER_QUANTIZED = 0,   /* readable 4-bit layer */
    W4A16_LAYER_UNQUANTIZED = 1, /* left dense by the checkpoint (ignore / modules_to_not_convert) */
    W4A16_LAYER_UNSUPPORTED = 2, /* valid, but quantized in a way we do not read (8-bit
                                    groups, ignored modules); reason says why */
    W4A16_LAYER_MALFORMED = 3,   /* its tensors break the format's rules (one missing, a
                                    wrong dtype or shape); reason names the tensor and rule */
} w4a16_layer_status;

typedef struct {
    const char *name;        /* prefix, e.g. "model.layers.0.mlp.gate_proj"; owned by the checkpoint */
    w4a16_layer_status status;
    const char *reason;      /* "" when quantized */
    int64_t n, k;            /* out_features, in_features (0 if unknown) */
    int64_t group_size;      /* -1 per-channel */
    int32_t symmetric;
    int32_t act_order;       /* 1 when g_idx is not the trivial k / G */
} w4a16_layer_info;

typedef struct {
    const char *name;        /* owned by the checkpoint */
    w4a16_dtype dtype;
    int32_t ndim;
    int64_t shape[8];
    const void *data;        /* host memory (mmap), valid until close */
    uint64_t nbytes;
    int32_t layer;           /* index of the quantized layer it belongs to, or -1 */
} w4a16_tensor_info;

/* Opens a .safetensors file, a model.safetensors.index.json, or a folder
 * holding one (model.safetensors first; docs/checkpoint-import.md gives the
 * order) and config.json. format: W4A16_FORMAT_AUTO decides from the
 * config; a bare file without a config needs its format named. */
W4A16_API w4a16_status w4a16_checkpoint_open(const char *path, w4a16_format format,
                                             w4a16_checkpoint **out);
W4A16_API void w4a16_checkpoint_close(w4a16_checkpoint *ckpt); /* accepts NULL */
W4A16_API w4a16_format w4a16_checkpoint_format(const w4a16_checkpoint *ckpt);
W4A16_API int64_t w4a16_checkpoint_layer_count(const w4a16_checkpoint *ckpt);
W4A16_API w4a16_status w4a16_checkpoint_layer(const w4a16_checkpoint *ckpt, int64_t index,
                                              w4a16_layer_info *out);
/* Index of the layer with this prefix; W4A16_ERR_ARG naming it if absent. */
W4A16_API w4a16_status w4a16_checkpoint_find_layer(const w4a16_checkpoint *ckpt,
                                                   const char *name, int64_t *index);
/* The layer's tensors as a host source (pointers into the mapped file). */
W4A16_API w4a16_status w4a16_checkpoint_source(const w4a16_checkpoint *ckpt, int64_t index,
                                               w4a16_source *out);
/* Every tensor of the checkpoint, in name order. */
W4A16_API int64_t w4a16_checkpoint_tensor_count(const w4a16_checkpoint *ckpt);
W4A16_API w4a16_status w4a16_checkpoint_tensor(const w4a16_checkpoint *ckpt, int64_t index,
                                               w4a16_tensor_info *out);

/* ---------------------------------------------------------------- quantize */

/* A quantized weight held unpacked on the host: one byte per value. The
 * canonical form the quantizer produces and the format writers consume. */
typedef struct {
    int64_t n, k;
    int64_t group_size;     /* -1 per-channel */
    int32_t symmetric;      /* 1: z = 8 everywhere, zeros unused */
    uint8_t *q;             /* [n * k], 0..15 */
    uint8_t *zeros;         /* [n * groups], 0..16 (NULL when symmetric) */
    float *scales;          /* [n * groups], each exactly representable in scales_dtype */
    w4a16_dtype scales_dtype;
    int32_t *g_idx;         /* [k] or NULL */
} w4a16_unpacked;

/* Round-to-nearest quantization of a dense [n, k] weight (F32, F16 or BF16,
 * row-major) to 4 bits. scales_dtype is the dtype the scales will be stored
 * in; q is computed against the rounded scale, so |W - Ŵ| <= s / 2. The
 * result's arrays are allocated by the library: free with w4a16_unpacked_free. */
W4A16_API w4a16_status w4a16_quantize(const void *weight, w4a16_dtype weight_dtype, int64_t n,
                                      int64_t k, int64_t group_size, int symmetric,
                                      w4a16_dtype scales_dtype, w4a16_unpacked *out);
W4A16_API void w4a16_unpacked_free(w4a16_unpacked *w); /* accepts NULL, zeroes *w */

/* --------------------------------------------------------------- reference */

/* fp64 CPU reference: C[r, :] = A[rows[r], :] · Ŵᵀ (+ bias) for the listed
 * rows (rows == NULL: rows 0..n_rows-1), Ŵ computed exactly from the source
 * (host memory). A and bias are F16 or BF16 (a_dtype); C is double, [n_rows, n]. */
W4A16_API w4a16_status w4a16_ref_gemm(const w4a16_source *w, const void *A, w4a16_dtype a_dtype,
                                      int64_t lda, const int64_t *rows, int64_t n_rows,
                                      const void *bias, double *C);

/* --------------------------------------------------------------- GPU side */

typedef struct w4a16_ctx w4a16_ctx;
typedef struct CUstream_st *w4a16_stream; /* a cudaStream_t; NULL is the legacy default stream */

/* A context: a cuBLASLt handle with 32 MiB of cuBLAS workspace of its own, the
 * library's workspace (w4a16_workspace_size says what a call needs; calls
 * that need more run in chunks), a second stream, and the device's
 * properties. Fails with W4A16_ERR_CUDA when there is no usable GPU (compute
 * capability 8.0 or newer). Reads W4A16_KERNEL and W4A16_LOG once, here.
 * One host thread at a time; calls on one ctx share its workspace, so calls
 * on different streams must be ordered by the caller (or use a ctx per
 * stream). Pack and gemm need the ctx's device to be the current device.
 *
 * w4a16_ctx_create allocates the workspace (workspace_bytes = 0: a default of
 * 64 MiB) and frees it in w4a16_ctx_destroy. */
W4A16_API w4a16_status w4a16_ctx_create(int device, size_t workspace_bytes, w4a16_ctx **out);
/* The same with the caller's workspace: device memory on `device`, 256-byte
 * aligned, `bytes` long, never freed by the library (it must outlive the
 * ctx, or be swapped out first). bytes = 0 (workspace may then be NULL) is
 * allowed: calls that need workspace then fail with W4A16_ERR_NOMEM naming
 * the bytes they need. */
W4A16_API w4a16_status w4a16_ctx_create_with_workspace(int device, void *workspace, size_t bytes,
                                                       w4a16_ctx **out);
/* Replaces the ctx's workspace with the caller's (same rules as above; the
 * ctx's own, if it had one, is freed, waiting for the device). Work already
 * queued keeps using the old buffer: free a buffer of yours only once that
 * work is done. Not during graph capture. */
W4A16_API w4a16_status w4a16_ctx_set_workspace(w4a16_ctx *ctx, void *workspace, size_t bytes);
/* Forces the kernel every later call on this ctx runs: "fallback",
 * "sm90_prefill", "decode" or "decode_v2" (the previous decode kernel, for
 * A/B runs and GPUs before Hopper); "auto" returns to the dispatcher's
 * choice. It
 * overrides W4A16_KERNEL (read at creation). A forced kernel that cannot
 * take a call fails it with W4A16_ERR_UNSUPPORTED and the reason, never a
 * silent substitute. An unknown name is W4A16_ERR_ARG naming it. */
W4A16_API w4a16_status w4a16_ctx_set_kernel(w4a16_ctx *ctx, const char *name);
/* Batch-invariant mode (on = 1; 0 turns it off): a row of A gives the same
 * bits of C whatever M is and whichever rows share the call, for a serving
 * engine that batches requests. Every call then runs sm90_prefill with one
 * token tile (64) and no K split, so each row is summed in the same order;
 * small M pays the 64-wide tile and ragged rounds go unbalanced. Hopper only:
 * a call it cannot take (another GPU, A not 16-byte aligned or lda not a
 * multiple of 8, another forced kernel) fails with W4A16_ERR_UNSUPPORTED
 * and the reason. Off by default. */
W4A16_API w4a16_status w4a16_ctx_set_batch_invariant(w4a16_ctx *ctx, int on);
W4A16_API void w4a16_ctx_destroy(w4a16_ctx *ctx); /* accepts NULL */

/* Number of CUDA devices; 0 (and W4A16_OK) when there are none or no driver. */
W4A16_API w4a16_status w4a16_device_count(int *count);

#define W4A16_PACKED_VERSION 1

/* A weight packed on the device for every kernel: a plain view of device
 * buffers that never owns them, so copies of it are harmless. The buffers
 * are the caller's (w4a16_pack_size says how large), or the library's, owned
 * by the w4a16_buffers handle w4a16_pack returned, freed once with
 * w4a16_buffers_free.
 *
 * ABI rules (the struct is shared with bindings such as ctypes):
 * - Fill it with w4a16_weight_init before use: it zeroes the struct and sets
 *   struct_size to sizeof(w4a16_weight) as the caller compiled it.
 * - Fields are only ever appended (or take reserved space); none moves or
 *   changes type. A library refuses a struct_size it does not know
 *   (W4A16_ERR_UNSUPPORTED naming both sizes).
 * - reserved must be zero (W4A16_ERR_ARG otherwise): a later version gives
 *   those bytes a meaning whose zero is today's behaviour.
 * - Enum values (w4a16_status, w4a16_dtype, ...) never change.
 * Every entry point that takes a weight checks each buffer: non-NULL where
 * required, aligned as the kernels load it (qweight, scales, zeros: 16 bytes;
 * perm: 4) and at least as many bytes as n, k, group size, scales dtype and
 * layout version need, refusing with W4A16_ERR_ARG naming the buffer. */
typedef struct {
    uint32_t struct_size;     /* sizeof(w4a16_weight): set by w4a16_weight_init */
    int32_t version;          /* W4A16_PACKED_VERSION */
    int64_t n, k;             /* logical shape of W */
    int64_t n_padded, k_padded;
    int64_t group_size;       /* -1 per-channel */
    int64_t groups;           /* K / G, or 1 */
    int64_t groups_padded;    /* rows of scales and zeros: ceil(k_padded / G); the rows
                                 past `groups` are padding (scale 0) */
    w4a16_dtype act_dtype;    /* F16 or BF16: A, C and bias */
    w4a16_dtype scales_dtype; /* F16, BF16 or F32, as the checkpoint stored them */
    void *qweight;            /* device, n_padded * k_padded / 2 bytes */
    void *scales;             /* device, [groups_padded][n_padded] of scales_dtype */
    uint8_t *zeros;           /* device, [groups_padded][n_padded], 0..16; NULL if symmetric */
    int32_t *perm;            /* device, [k]: column k of the packed W is column perm[k]
                                 of A; NULL if none */
    size_t qweight_bytes;     /* size of each buffer above (0 for a NULL one) */
    size_t scales_bytes;
    size_t zeros_bytes;
    size_t perm_bytes;
    uint64_t reserved[8];     /* zero */
} w4a16_weight;

/* Zeroes *w and sets struct_size and version (accepts NULL). */
W4A16_API void w4a16_weight_init(w4a16_weight *w);

/* Device buffers the library allocated for a packed weight (w4a16_pack with
 * an owner). One handle per pack; the weight views it backs stay valid until
 * it is freed. */
typedef struct w4a16_buffers w4a16_buffers;
/* Frees the buffers (accepts NULL). cudaFree waits for work still using them. */
W4A16_API void w4a16_buffers_free(w4a16_buffers *owner);

/* A range of the (concatenated) weight to pack: rows [n_begin, n_end) and
 * columns [k_begin, k_end); k_begin and k_end multiples of the group size. */
typedef struct {
    int64_t n_begin, n_end, k_begin, k_end;
} w4a16_slice;

/* Bytes of each device buffer for packing these sources (concatenated along
 * N, then sliced; slice NULL = all). zeros_bytes is 0 when every source is
 * symmetric; perm_bytes is k * 4 when any source carries a g_idx (if it turns
 * out trivial, the packed weight's perm stays NULL). Host only: it never
 * reads device memory. */
typedef struct {
    size_t qweight_bytes, scales_bytes, zeros_bytes, perm_bytes;
} w4a16_pack_sizes;
W4A16_API w4a16_status w4a16_pack_size(const w4a16_source *sources, int n_sources,
                                       const w4a16_slice *slice, w4a16_pack_sizes *out);

/* Packs on the GPU (layout: docs/packed-layout.md). Sources (at most
 * W4A16_PACK_MAX_SOURCES) share k, group size and scales dtype; act-order
 * sources need identical g_idx, and the sorted slice must hold exactly G
 * columns of each group.
 * out: a view from w4a16_weight_init. Where the buffers come from:
 * - owner != NULL: the library allocates them; on success *owner holds them
 *   (free with w4a16_buffers_free) and out views them. out's buffer fields
 *   are ignored.
 * - owner == NULL: the caller's buffers, given in out (qweight, scales, and
 *   zeros / perm where w4a16_pack_size's sizes are non-zero, with their byte
 *   sizes), checked as w4a16_weight says. A buffer the result does not need
 *   comes back NULL with 0 bytes.
 * On error, *out, *owner and the caller's buffers are unchanged.
 * Host sources are staged on the device (about the packed size of the
 * slice, plus an act-order K-slice's scales and zeros of every group: never
 * more than the whole layer's packed size), freed on `stream`; device
 * sources are read in place. Act-order reads g_idx on the host, so it may
 * synchronize `stream`. The weight is ready for work queued on `stream`. */
#define W4A16_PACK_MAX_SOURCES 8
W4A16_API w4a16_status w4a16_pack(w4a16_ctx *ctx, const w4a16_source *sources, int n_sources,
                                  const w4a16_slice *slice, w4a16_dtype act_dtype,
                                  w4a16_weight *out, w4a16_buffers **owner, w4a16_stream stream);
/* w4a16_pack of checkpoint layers by name (w4a16_checkpoint_find_layer),
 * concatenated along N in the order given: {"...q_proj", "...k_proj",
 * "...v_proj"} packs one qkv weight. Each must be a readable quantized layer
 * (W4A16_ERR_ARG / W4A16_ERR_UNSUPPORTED naming it otherwise).
 * shard: NULL packs the whole layers; else each layer's part for that rank
 * (w4a16_source_shard), concatenated: a column shard of q|k|v packs
 * q_r|k_r|v_r. Only that part is copied to the device. slice (NULL: all)
 * applies to the result. out and owner as for w4a16_pack. */
W4A16_API w4a16_status w4a16_pack_checkpoint(w4a16_ctx *ctx, const w4a16_checkpoint *ckpt,
                                             const char *const *layer_names, int n_layers,
                                             const w4a16_shard *shard,
                                             const w4a16_slice *slice, w4a16_dtype act_dtype,
                                             w4a16_weight *out, w4a16_buffers **owner,
                                             w4a16_stream stream);

/* C[M, n] = A[M, k] · Wᵀ (+ bias[n]); A, C, bias device memory of w->act_dtype,
 * row-major with lda >= k, ldc >= n, 2-byte aligned. Allocates nothing, never
 * synchronizes, capturable in a CUDA graph, bitwise deterministic for a given
 * M, kernel, device and workspace size (docs/DESIGN.md, "Numerics").
 * Arguments are checked before any CUDA call; then a CUDA error left pending
 * by the caller's earlier work fails the call with W4A16_ERR_CUDA, saying so,
 * before anything is queued. On any error C is unchanged, except where a
 * call runs in several chunks (W larger than the workspace) and a later
 * chunk fails: the columns of the chunks before it may have been written. */
W4A16_API w4a16_status w4a16_gemm(w4a16_ctx *ctx, const w4a16_weight *w, const void *A,
                                  int64_t lda, void *C, int64_t ldc, int64_t M,
                                  const void *bias, w4a16_stream stream);
/* Bytes of workspace w4a16_gemm(ctx, w, ..., M, ...) needs to run in one
 * piece with the kernel the ctx would choose: 0 for decode and decode_v2;
 * the fallback's dequantized W (and with act-order M rows of permuted A);
 * sm90_prefill's permuted A and split-K partials. Host only. */
W4A16_API w4a16_status w4a16_workspace_size(w4a16_ctx *ctx, const w4a16_weight *w, int64_t M,
                                            size_t *bytes);
/* Which kernel w4a16_gemm would run ("fallback", "sm90_prefill", "decode", ...),
 * honouring a forced kernel, for 16-byte aligned A and C; "none" when the
 * call would fail (a bad weight, or a forced kernel that cannot take it). */
W4A16_API const char *w4a16_gemm_kernel_name(w4a16_ctx *ctx, const w4a16_weight *w, int64_t M);

#ifdef __cplusplus
}
#endif
#endif /* W4A16_H */
