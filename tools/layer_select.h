/* Which tensors `w4a16 quantize` quantizes: the 2-D float "*.weight"
 * tensors of linear layers. Embeddings, norms and lm_head stay dense unless
 * an --include glob names them, and so do MoE routers (llm-compressor's
 * default ignore rule re:.*mlp.gate$, and shared_expert_gate), which
 * quantizers leave dense and engines expect dense; --exclude globs remove
 * tensors from the set. Globs (fnmatch) match the tensor's name
 * ("model.layers.0.mlp.up_proj.weight") or its layer prefix
 * ("model.layers.0.mlp.up_proj"). Whether the format can hold a selected
 * layer's shape is the command's to decide (cmd_quantize.c). */
#ifndef W4A16_TOOLS_LAYER_SELECT_H
#define W4A16_TOOLS_LAYER_SELECT_H

#include "args.h"
#include "w4a16.h"

typedef struct {
    const arg_list *include; /* empty: the default set of linear layers */
    const arg_list *exclude;
} layer_select;

typedef enum {
    SELECT_NOT_LINEAR, /* not a 2-D F32/F16/BF16 "*.weight", or an embedding table */
    SELECT_DENSE,      /* a linear layer left dense: lm_head, --exclude, not --include'd */
    SELECT_ROUTER,     /* an MoE router, left dense by default */
    SELECT_DEFAULT,    /* quantized by the default selection */
    SELECT_INCLUDED,   /* quantized because an --include glob names it */
} select_result;

/* 1 when the tensor is a 2-D "*.weight" of dtype F32, F16 or BF16. */
int layer_select_is_candidate(const w4a16_tensor_info *tensor);
/* What quantize does with this tensor. */
select_result layer_select_decide(const layer_select *select, const w4a16_tensor_info *tensor);

#endif
