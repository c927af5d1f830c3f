/* Failure injection for the tests (see fault.h). */
#include "fault.h"

#include <string.h>

static _Thread_local const char *armed_site;
static _Thread_local int armed_skip;

void w4a16_fault_arm(const char *site, int skip) {
    armed_site = site;
    armed_skip = skip;
}

void w4a16_fault_disarm(void) { armed_site = NULL; }

int w4a16_fault_hit(const char *site) {
    if (armed_site == NULL || strcmp(armed_site, site) != 0) return 0;
    if (armed_skip-- > 0) return 0;
    armed_site = NULL;
    return 1;
}
