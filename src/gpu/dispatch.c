/* The kernel table and the auto choice (see dispatch.h). */
#include "gpu/dispatch.h"

#include <string.h>

#include "common/error.h"
#include "common/log.h"
#include "gpu/ctx.h"
#include "gpu/decode.h"
#include "gpu/fallback.h"
#include "gpu/sm90.h"

typedef struct {
    const char *name;
    /* NULL when the kernel can take the call; otherwise why not. The
     * workspace is not its concern: a call that needs more than there is runs
     * in chunks or fails with W4A16_ERR_NOMEM. */
    const char *(*cannot_run)(const w4a16_gemm_call *call);
    /* Bytes of ctx workspace to run the call in one piece (host only). */
    size_t (*workspace_bytes)(const w4a16_gemm_call *call);
    w4a16_status (*run)(const w4a16_gemm_call *call);
} kernel_entry;

static size_t no_workspace(const w4a16_gemm_call *call) {
    (void)call;
    return 0;
}

static const kernel_entry KERNELS[W4A16_KERNEL_COUNT] = {
    [W4A16_KERNEL_AUTO] = {"auto", NULL, NULL, NULL},
    [W4A16_KERNEL_FALLBACK] = {"fallback", w4a16_fallback_cannot_run,
                               w4a16_fallback_workspace_bytes, w4a16_fallback_run},
    [W4A16_KERNEL_SM90_PREFILL] = {"sm90_prefill", w4a16_sm90_cannot_run,
                                   w4a16_sm90_workspace_bytes, w4a16_sm90_run},
    [W4A16_KERNEL_DECODE] = {"decode", w4a16_decode_cannot_run, no_workspace, w4a16_decode_run},
    [W4A16_KERNEL_DECODE_V2] = {"decode_v2", w4a16_decode_v2_cannot_run, no_workspace,
                                w4a16_decode_v2_run},
};

/* Crossovers between the kernels, each with the `w4a16 bench` measurement
 * behind it (bench/RESULTS.md, H100, 2026-12-07, f16 g128 unless said):
 * - DECODE_MAX_M = 16, the decode kernels' own limit (two n8 token blocks).
 *   decode v3 (Hopper) at M <= 16 is 1.23-2.26x cuBLAS on the Qwen3-4B shapes
 *   and 1.5-3.5x on llama3-70b's, ahead of sm90_prefill at every M <= 8 and
 *   within 10% of it at M = 16 (o_proj 9.3 against 8.5 us, down 14.6 against
 *   13.8). decode_v2 stays for GPUs before Hopper (at M <= 8 0.90-1.22x
 *   cuBLAS, 2-3x the fallback).
 * - 17 <= M <= PREFILL_MAX_M = 1024: sm90_prefill. At M = 17..512 it beats the
 *   fallback on every measured shape but o_proj at 512; at M = 1024 it wins on
 *   four of the eight Qwen3-4B and llama3-70b shapes (gate_up, up, down and
 *   o_proj of 70B) by 5-15% and loses on the other four by 5-13%.
 * - M > 1024: the fallback (dequantize + cuBLAS), which measured 3-40% faster
 *   than sm90_prefill v1/v2 at M >= 2048 on every shape but Qwen's gate_up at
 *   2048 (2% slower). Where the fallback cannot run (workspace), sm90_prefill. */
static const int64_t DECODE_MAX_M = W4A16_DECODE_MAX_M; /* decode streams W once: small M only */
static const int64_t PREFILL_MIN_M = 17;   /* above decode: the Hopper kernel */
static const int64_t PREFILL_MAX_M = 1024; /* above: cuBLAS on the dequantized W, for now */

static int can_run(w4a16_kernel kernel, const w4a16_gemm_call *call) {
    return KERNELS[kernel].cannot_run(call) == NULL;
}

static w4a16_kernel auto_choice(const w4a16_gemm_call *call) {
    if (call->M <= DECODE_MAX_M && can_run(W4A16_KERNEL_DECODE, call)) return W4A16_KERNEL_DECODE;
    if (call->M <= DECODE_MAX_M && can_run(W4A16_KERNEL_DECODE_V2, call))
        return W4A16_KERNEL_DECODE_V2;
    if (call->M >= PREFILL_MIN_M && call->M <= PREFILL_MAX_M &&
        can_run(W4A16_KERNEL_SM90_PREFILL, call))
        return W4A16_KERNEL_SM90_PREFILL;
    if (can_run(W4A16_KERNEL_FALLBACK, call) || !can_run(W4A16_KERNEL_SM90_PREFILL, call))
        return W4A16_KERNEL_FALLBACK;
    return W4A16_KERNEL_SM90_PREFILL;
}

const char *w4a16_kernel_name(w4a16_kernel kernel) {
    if ((int)kernel < 0 || kernel >= W4A16_KERNEL_COUNT) return "unknown";
    return KERNELS[kernel].name;
}

w4a16_status w4a16_kernel_parse(const char *name, w4a16_kernel *out) {
    for (int k = 0; k < W4A16_KERNEL_COUNT; k++)
        if (strcmp(name, KERNELS[k].name) == 0) {
            *out = (w4a16_kernel)k;
            return W4A16_OK;
        }
    return w4a16_fail(W4A16_ERR_ARG,
                      "kernel \"%s\" is not auto, fallback, sm90_prefill, decode or decode_v2",
                      name);
}

static const char *forced_by(const w4a16_ctx *ctx) {
    return ctx->forced_by == W4A16_FORCED_BY_API ? "forced by w4a16_ctx_set_kernel"
                                                 : "forced by W4A16_KERNEL";
}

/* Batch-invariant mode runs sm90_prefill or nothing: any other kernel would
 * sum a row differently at another M. */
static w4a16_status choose_batch_invariant(const w4a16_gemm_call *call, w4a16_kernel *out) {
    const w4a16_kernel forced = call->ctx->forced;
    W4A16_FAIL_IF(forced != W4A16_KERNEL_AUTO && forced != W4A16_KERNEL_SM90_PREFILL,
                  W4A16_ERR_UNSUPPORTED,
                  "batch-invariant mode runs sm90_prefill, but %s is %s", KERNELS[forced].name,
                  forced_by(call->ctx));
    const char *why = KERNELS[W4A16_KERNEL_SM90_PREFILL].cannot_run(call);
    W4A16_FAIL_IF(why != NULL, W4A16_ERR_UNSUPPORTED,
                  "batch-invariant mode needs sm90_prefill, which cannot run n=%lld, k=%lld, "
                  "M=%lld: %s",
                  (long long)call->w->n, (long long)call->w->k, (long long)call->M, why);
    *out = W4A16_KERNEL_SM90_PREFILL;
    return W4A16_OK;
}

w4a16_status w4a16_dispatch_choose(const w4a16_gemm_call *call, w4a16_kernel *out) {
    w4a16_kernel forced = call->ctx->forced;
    if (call->ctx->batch_invariant) return choose_batch_invariant(call, out);
    if (forced == W4A16_KERNEL_AUTO) {
        *out = auto_choice(call);
        return W4A16_OK;
    }
    const char *why = KERNELS[forced].cannot_run(call);
    W4A16_FAIL_IF(why != NULL, W4A16_ERR_UNSUPPORTED,
                  "kernel %s (%s) cannot run n=%lld, k=%lld, M=%lld: %s", KERNELS[forced].name,
                  forced_by(call->ctx), (long long)call->w->n, (long long)call->w->k,
                  (long long)call->M, why);
    *out = forced;
    return W4A16_OK;
}

/* W4A16_LOG: each new (shape, M, kernel) once; the table is small and only
 * searched when logging. */
static void log_choice(w4a16_ctx *ctx, const w4a16_gemm_call *call, w4a16_kernel kernel) {
    const w4a16_weight *w = call->w;
    w4a16_choice_key key;
    memset(&key, 0, sizeof key);
    key.n = w->n;
    key.k = w->k;
    key.group_size = w->group_size;
    key.m = call->M;
    key.act_dtype = w->act_dtype;
    key.asymmetric = w->zeros != NULL;
    key.act_order = w->perm != NULL;
    key.kernel = kernel;
    for (int i = 0; i < ctx->n_logged; i++)
        if (memcmp(&ctx->logged[i], &key, sizeof key) == 0) return;
    if (ctx->n_logged == W4A16_LOGGED_CHOICES) {
        /* Say once that the log stops here rather than go silent. */
        if (!ctx->logged_full)
            w4a16_log("gemm: more than %d distinct (shape, M, kernel) choices on this ctx; "
                      "further ones are not logged", W4A16_LOGGED_CHOICES);
        ctx->logged_full = 1;
        return;
    }
    ctx->logged[ctx->n_logged++] = key;
    w4a16_log("gemm n=%lld k=%lld group=%lld %s %s%s M=%lld -> %s (%s)", (long long)w->n,
              (long long)w->k, (long long)w->group_size, w4a16_dtype_name(w->act_dtype),
              key.asymmetric ? "asym" : "sym", key.act_order ? " act-order" : "",
              (long long)call->M, KERNELS[kernel].name,
              ctx->forced == W4A16_KERNEL_AUTO ? "auto" : forced_by(ctx));
}

w4a16_status w4a16_dispatch_run(const w4a16_gemm_call *call) {
    w4a16_kernel kernel;
    W4A16_TRY(w4a16_dispatch_choose(call, &kernel));
    if (call->ctx->log_choices) log_choice(call->ctx, call, kernel);
    return KERNELS[kernel].run(call);
}

w4a16_status w4a16_dispatch_workspace_bytes(const w4a16_gemm_call *call, size_t *bytes) {
    w4a16_kernel kernel;
    W4A16_TRY(w4a16_dispatch_choose(call, &kernel));
    *bytes = KERNELS[kernel].workspace_bytes(call);
    return W4A16_OK;
}
