/* Which tensors `w4a16 quantize` quantizes: the 2-D float "*.weight"
 * tensors of linear layers. Embeddings, norms and lm_head stay dense unless
 * an --include glob names them; --exclude globs remove tensors from the set.
 * Globs (fnmatch) match the tensor's name ("model.layers.0.mlp.up_proj.weight")
 * or its layer prefix ("model.layers.0.mlp.up_proj"). */
#ifndef W4A16_TOOLS_LAYER_SELECT_H
#define W4A16_TOOLS_LAYER_SELECT_H

#include "args.h"
#include "w4a16.h"

typedef struct {
    const arg_list *include; /* empty: the default set of linear layers */
    const arg_list *exclude;
} layer_select;

/* 1 when the tensor is a 2-D "*.weight" of dtype F32, F16 or BF16. */
int layer_select_is_candidate(const w4a16_tensor_info *tensor);
/* 1 when the candidate looks like an embedding table (never a linear layer). */
int layer_select_is_embedding(const char *name);
/* 1 when quantize should quantize this tensor. */
int layer_select_wants(const layer_select *select, const w4a16_tensor_info *tensor);

#endif
