/* The kernel table and the auto choice (see dispatch.h). */
#include "gpu/dispatch.h"

#include <string.h>

#include "common/error.h"
#include "common/log.h"
#include "gpu/ctx.h"
#include "gpu/decode.h"
#include "gpu/dispatch_rules.h"
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
    /* Whether the ctx's workspace lets it run, in pieces if need be (NULL:
     * always): auto prefers, within a band, a kernel that does. */
    int (*fits_workspace)(const w4a16_gemm_call *call);
} kernel_entry;

static size_t no_workspace(const w4a16_gemm_call *call) {
    (void)call;
    return 0;
}

static const kernel_entry KERNELS[W4A16_KERNEL_COUNT] = {
    [W4A16_KERNEL_AUTO] = {"auto", NULL, NULL, NULL, NULL},
    [W4A16_KERNEL_FALLBACK] = {"fallback", w4a16_fallback_cannot_run,
                               w4a16_fallback_workspace_bytes, w4a16_fallback_run, NULL},
    [W4A16_KERNEL_SM90_PREFILL] = {"sm90_prefill", w4a16_sm90_cannot_run,
                                   w4a16_sm90_workspace_bytes, w4a16_sm90_run,
                                   w4a16_sm90_fits_workspace},
    [W4A16_KERNEL_DECODE] = {"decode", w4a16_decode_cannot_run, no_workspace, w4a16_decode_run,
                             NULL},
    [W4A16_KERNEL_DECODE_V2] = {"decode_v2", w4a16_decode_v2_cannot_run, no_workspace,
                                w4a16_decode_v2_run, NULL},
};

static int can_run(w4a16_kernel kernel, const w4a16_gemm_call *call) {
    return KERNELS[kernel].cannot_run(call) == NULL;
}

static int fits_workspace(w4a16_kernel kernel, const w4a16_gemm_call *call) {
    return KERNELS[kernel].fits_workspace == NULL || KERNELS[kernel].fits_workspace(call);
}

/* The device's rule (gpu/dispatch_rules.c, with the measurements): the first
 * kernel of M's band that can take the call and run in the ctx's workspace
 * (sm90_prefill with act-order needs room for a row of permuted A; decode
 * none), else the first that can take it (it fails with W4A16_ERR_NOMEM,
 * naming the bytes it needs). Where none can, the fallback, or sm90_prefill
 * where the fallback cannot run either. */
static w4a16_kernel auto_choice(const w4a16_gemm_call *call) {
    const w4a16_dispatch_rule *rule = w4a16_dispatch_rule_for(
        call->ctx->sm_major, w4a16_weight_class_of(call->w->perm != NULL, call->w->group_size));
    const w4a16_dispatch_band *band = w4a16_dispatch_rule_band(rule, call->M);
    for (int need_fit = 1; need_fit >= 0; need_fit--)
        for (int i = 0; i < W4A16_RULE_KERNELS && band->kernels[i] != W4A16_KERNEL_AUTO; i++)
            if (can_run(band->kernels[i], call) &&
                (!need_fit || fits_workspace(band->kernels[i], call)))
                return band->kernels[i];
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
