/* Preparing the output folder (see out_dir.h). */
#include "out_dir.h"

#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "commands.h"
#include "failure.h"

char *path_join(const char *dir, const char *name) {
    size_t dir_len = strlen(dir), name_len = strlen(name);
    char *path = malloc(dir_len + name_len + 2);
    if (path == NULL) return NULL;
    memcpy(path, dir, dir_len);
    size_t at = dir_len;
    if (at == 0 || path[at - 1] != '/') path[at++] = '/';
    memcpy(path + at, name, name_len + 1);
    return path;
}

static int is_empty_dir(const char *dir) {
    DIR *d = opendir(dir);
    if (d == NULL) return 0;
    int empty = 1;
    for (struct dirent *e; empty && (e = readdir(d)) != NULL;)
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) empty = 0;
    closedir(d);
    return empty;
}

/* mkdir -p: each missing parent in turn. */
static int make_dirs(const char *dir) {
    char *path = strdup(dir);
    if (path == NULL) return -1;
    for (char *slash = path + 1; *slash; slash++) {
        if (*slash != '/') continue;
        *slash = '\0';
        if (mkdir(path, 0777) != 0 && errno != EEXIST) {
            free(path);
            return -1;
        }
        *slash = '/';
    }
    int rc = mkdir(path, 0777) != 0 && errno != EEXIST ? -1 : 0;
    free(path);
    return rc;
}

int out_dir_check(const char *command, const char *dir, int force) {
    struct stat st;
    if (stat(dir, &st) != 0) return 0;
    if (!S_ISDIR(st.st_mode)) return tool_fail(command, "output '%s' exists and is not a folder", dir);
    if (!is_empty_dir(dir) && !force)
        return tool_fail(command, "output folder '%s' is not empty (use --force to overwrite)", dir);
    return 0;
}

int out_dir_create(const char *command, const char *dir) {
    if (make_dirs(dir) != 0)
        return tool_fail(command, "cannot create output folder '%s': %s", dir, strerror(errno));
    return 0;
}
