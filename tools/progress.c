/* Progress on stderr when it is a terminal (see progress.h). */
#include "progress.h"

#include <stdio.h>
#include <unistd.h>

void progress_begin(progress *p, const char *label, int64_t total) {
    p->label = label;
    p->total = total > 0 ? total : 1;
    p->enabled = isatty(STDERR_FILENO);
    p->last_percent = -1;
}

void progress_update(progress *p, int64_t done, const char *item) {
    if (!p->enabled) return;
    int percent = (int)(100 * done / p->total);
    if (percent == p->last_percent && item == NULL) return;
    p->last_percent = percent;
    /* \r and "erase to end of line" keep the bar on one line. */
    fprintf(stderr, "\r\033[K%s: %lld/%lld (%d%%)%s%.60s", p->label, (long long)done,
            (long long)p->total, percent, item ? " " : "", item ? item : "");
    fflush(stderr);
}

void progress_end(progress *p) {
    if (!p->enabled) return;
    fprintf(stderr, "\r\033[K");
    fflush(stderr);
}
