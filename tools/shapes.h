/* The layer shapes and M lists that `w4a16 bench`, `check` and `tune` sweep
 * (docs/DESIGN.md §6): built-in model shape sets, "N,K" pairs, "M1,M2" lists. */
#ifndef W4A16_TOOLS_SHAPES_H
#define W4A16_TOOLS_SHAPES_H

#include <stddef.h>
#include <stdint.h>

#define SHAPES_MAX 64
#define M_LIST_MAX 64

typedef struct {
    char name[32]; /* "gate_up", or "NxK" for a pair given on the command line */
    int64_t n, k;  /* W is [n, k]: out_features, in_features */
} tool_shape;

typedef struct {
    tool_shape items[SHAPES_MAX];
    int count;
} shape_list;

typedef struct {
    int64_t values[M_LIST_MAX];
    int count;
} m_list;

/* Items separated by ';', each a set name ("qwen3-4b", "qwen3-4b-unmerged",
 * "llama3-70b") or an "N,K" pair. Returns 0, or -1 with a message naming the
 * bad item in err. */
int shapes_parse(const char *spec, shape_list *out, char *err, size_t err_size);
/* "1,16,128": positive integers. Returns 0, or -1 with a message in err. */
int m_list_parse(const char *spec, m_list *out, char *err, size_t err_size);
/* The default M sweep of `w4a16 bench`: 1, 2, 4, ... 2048, 3968, 8192. */
void m_list_default_sweep(m_list *out);
/* `w4a16 tune`'s: that sweep, plus every M from 1 to 16 and steps around
 * the prefill and fallback crossovers (17, 24, 48, ..., 6144). */
void m_list_crossover_sweep(m_list *out);
/* Sorts the list ascending and drops repeated values. */
void m_list_sort_unique(m_list *ms);
int64_t m_list_max(const m_list *ms);
/* The built-in set names, for help texts: "qwen3-4b|qwen3-4b-unmerged|llama3-70b". */
const char *shape_set_names(void);

#endif
