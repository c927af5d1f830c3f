/* The fallback's remembered cuBLASLt algorithms (see lt_algo_cache.h). */
#include "gpu/lt_algo_cache.h"

/* Field by field: the struct's padding is not set by the caller. */
static int same_key(const w4a16_lt_algo_key *a, const w4a16_lt_algo_key *b) {
    return a->dtype == b->dtype && a->rows == b->rows && a->k == b->k && a->ldw == b->ldw &&
           a->M == b->M && a->lda == b->lda && a->ldc == b->ldc && a->w_align == b->w_align &&
           a->a_align == b->a_align && a->c_align == b->c_align &&
           a->bias_align == b->bias_align && a->workspace_bytes == b->workspace_bytes;
}

int w4a16_lt_algo_lookup(const w4a16_lt_algo_cache *cache, const w4a16_lt_algo_key *key,
                         w4a16_lt_algo *algo) {
    for (int i = 0; i < cache->n_entries; i++)
        if (same_key(&cache->entries[i].key, key)) {
            *algo = cache->entries[i].algo;
            return 1;
        }
    return 0;
}

void w4a16_lt_algo_remember(w4a16_lt_algo_cache *cache, const w4a16_lt_algo_key *key,
                            const w4a16_lt_algo *algo) {
    w4a16_lt_algo_entry *entry = &cache->entries[cache->next_entry];
    entry->key = *key;
    entry->algo = *algo;
    cache->next_entry = (cache->next_entry + 1) % W4A16_LT_ALGOS;
    if (cache->n_entries < W4A16_LT_ALGOS) cache->n_entries++;
}
