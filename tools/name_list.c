/* Owned string lists (see name_list.h). */
#include "name_list.h"

#include <stdlib.h>
#include <string.h>

int name_list_push(name_list *list, const char *name, size_t length) {
    char **grown = realloc(list->items, (size_t)(list->count + 1) * sizeof *grown);
    if (grown == NULL) return -1;
    list->items = grown;
    char *copy = strndup(name, length);
    if (copy == NULL) return -1;
    list->items[list->count++] = copy;
    return 0;
}

void name_list_free(name_list *list) {
    for (int64_t i = 0; i < list->count; i++) free(list->items[i]);
    free(list->items);
    list->items = NULL;
    list->count = 0;
}
