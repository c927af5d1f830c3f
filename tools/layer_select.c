/* The tensors `w4a16 quantize` picks (see layer_select.h). */
#include "layer_select.h"

#include <fnmatch.h>
#include <string.h>

/* Candidates that are not linear layers, or that models keep in 16 bits. */
static const char *const EMBEDDING_GLOBS[] = {"*embed*", "*wte.weight", "*wpe.weight"};
static const char *const KEPT_DENSE_GLOBS[] = {"*lm_head*", "*norm*"};
/* llm-compressor's default ignore rule re:.*mlp.gate$ (MoE routers), and
 * Qwen-MoE's shared-expert gate [1, hidden]. */
static const char *const ROUTER_GLOBS[] = {"*.mlp.gate.weight", "mlp.gate.weight",
                                           "*shared_expert_gate.weight"};
#define COUNT_OF(a) ((int)(sizeof(a) / sizeof(a)[0]))

static int ends_with(const char *text, const char *suffix) {
    size_t n = strlen(text), m = strlen(suffix);
    return n >= m && strcmp(text + n - m, suffix) == 0;
}

static int matches_any(const char *const *globs, int count, const char *name) {
    for (int i = 0; i < count; i++)
        if (fnmatch(globs[i], name, 0) == 0) return 1;
    return 0;
}

/* A glob matches the tensor's name or its prefix (the name less ".weight"). */
static int list_matches(const arg_list *globs, const char *name) {
    char prefix[4096];
    size_t length = strlen(name) - strlen(".weight");
    if (length >= sizeof prefix) length = sizeof prefix - 1;
    memcpy(prefix, name, length);
    prefix[length] = '\0';
    for (int i = 0; globs && i < globs->count; i++)
        if (fnmatch(globs->items[i], name, 0) == 0 || fnmatch(globs->items[i], prefix, 0) == 0)
            return 1;
    return 0;
}

int layer_select_is_candidate(const w4a16_tensor_info *tensor) {
    return tensor->ndim == 2 && ends_with(tensor->name, ".weight") &&
           (tensor->dtype == W4A16_F32 || tensor->dtype == W4A16_F16 ||
            tensor->dtype == W4A16_BF16);
}

select_result layer_select_decide(const layer_select *select, const w4a16_tensor_info *tensor) {
    if (!layer_select_is_candidate(tensor)) return SELECT_NOT_LINEAR;
    int embedding = matches_any(EMBEDDING_GLOBS, COUNT_OF(EMBEDDING_GLOBS), tensor->name);
    int included = list_matches(select->include, tensor->name);
    if (list_matches(select->exclude, tensor->name))
        return embedding ? SELECT_NOT_LINEAR : SELECT_DENSE;
    if (select->include && select->include->count > 0)
        return included ? SELECT_INCLUDED : embedding ? SELECT_NOT_LINEAR : SELECT_DENSE;
    if (embedding) return SELECT_NOT_LINEAR;
    if (matches_any(KEPT_DENSE_GLOBS, COUNT_OF(KEPT_DENSE_GLOBS), tensor->name)) return SELECT_DENSE;
    if (matches_any(ROUTER_GLOBS, COUNT_OF(ROUTER_GLOBS), tensor->name)) return SELECT_ROUTER;
    return SELECT_DEFAULT;
}
