/* Threads sharing the rows of one tensor (quantize, convert): blocks of rows
 * handed out in order to whichever thread is free, so that a core another
 * process holds does not keep the others waiting. The work of a block must
 * not depend on which thread runs it, so the output is the same bytes for
 * any thread count. */
#ifndef W4A16_TOOLS_PARALLEL_H
#define W4A16_TOOLS_PARALLEL_H

#include <stdint.h>

#include "w4a16.h"

#define PARALLEL_MAX_THREADS 256

/* The number of online CPUs (at least 1, at most PARALLEL_MAX_THREADS). */
int parallel_default_threads(void);

typedef w4a16_status (*parallel_block_fn)(void *context, int64_t begin, int64_t end);

/* Runs fn over [0, count) in blocks [i * block, min((i + 1) * block, count))
 * on up to `threads` threads (the calling thread is one of them). After a
 * failure no new block starts; the failure of the lowest block is returned
 * with its message (w4a16_last_error) on the calling thread, so the error
 * does not depend on timing either. */
w4a16_status parallel_for(int threads, int64_t count, int64_t block, parallel_block_fn fn,
                          void *context);

#endif
