/* Progress of a long command (quantize, convert) on stderr, shown only when
 * stderr is a terminal so that logs and pipes stay clean. */
#ifndef W4A16_TOOLS_PROGRESS_H
#define W4A16_TOOLS_PROGRESS_H

#include <stdint.h>

typedef struct {
    const char *label;
    int64_t total;
    int enabled;      /* stderr is a terminal */
    int last_percent; /* redraw only when the figure changes */
} progress;

/* Starts a bar of `total` steps ("quantize: 12/252 layers (4%) name"). */
void progress_begin(progress *p, const char *label, int64_t total);
/* Reports that `done` steps are finished; `item` (may be NULL) names the current one. */
void progress_update(progress *p, int64_t done, const char *item);
/* Clears the line. */
void progress_end(progress *p);

#endif
