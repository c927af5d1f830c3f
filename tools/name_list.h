/* A growable list of owned strings (layer names for a config's ignore list). */
#ifndef W4A16_TOOLS_NAME_LIST_H
#define W4A16_TOOLS_NAME_LIST_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    char **items;
    int64_t count;
} name_list;

/* Appends a copy of the first `length` bytes of name. Returns 0, or -1 when out of memory. */
int name_list_push(name_list *list, const char *name, size_t length);
void name_list_free(name_list *list); /* accepts a zeroed list; zeroes it */

#endif
