/* Preparing the output folder (see out_dir.h). */
#include "out_dir.h"

#include <dirent.h>
#include <errno.h>
#include <fnmatch.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

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

char *absolute_path(const char *path) {
    char *resolved = realpath(path, NULL);
    if (resolved != NULL || errno != ENOENT) return resolved;
    /* Absent: its parent's absolute path and the last name. */
    size_t length = strlen(path);
    while (length > 1 && path[length - 1] == '/') length--;
    const char *slash = memrchr(path, '/', length);
    char *parent = slash == NULL ? strdup(".") : slash == path ? strdup("/")
                                                               : strndup(path, (size_t)(slash - path));
    char *parent_path = parent ? absolute_path(parent) : NULL;
    free(parent);
    if (parent_path == NULL) return NULL;
    const char *name = slash == NULL ? path : slash + 1;
    size_t name_length = length - (size_t)(name - path);
    char *leaf = strndup(name, name_length);
    char *joined = NULL;
    if (leaf != NULL && strcmp(leaf, ".") == 0) {
        joined = strdup(parent_path);
    } else if (leaf != NULL && strcmp(leaf, "..") == 0) {
        char *up = strrchr(parent_path, '/');
        joined = up == parent_path ? strdup("/") : strndup(parent_path, (size_t)(up - parent_path));
    } else if (leaf != NULL) {
        joined = path_join(parent_path, leaf);
    }
    free(leaf);
    free(parent_path);
    return joined;
}

/* 1 when `path` is `folder` or lies below it (both absolute, canonical). */
static int is_within(const char *path, const char *folder) {
    size_t length = strlen(folder);
    if (strncmp(path, folder, length) != 0) return 0;
    return path[length] == '\0' || path[length] == '/' || strcmp(folder, "/") == 0;
}

/* The folder of an absolute file path, in a fresh string. */
static char *parent_of(const char *path) {
    const char *slash = strrchr(path, '/');
    return slash == NULL || slash == path ? strdup("/") : strndup(path, (size_t)(slash - path));
}

/* Refuses an output that would replace the input: the input folder itself
 * or a folder inside it; for a bare .safetensors file, its own folder. */
static int check_not_input(const char *command, const char *dir, const char *input_path) {
    struct stat st;
    if (input_path == NULL || stat(input_path, &st) != 0) return 0; /* the reader says why */
    int is_folder = S_ISDIR(st.st_mode);
    size_t length = strlen(input_path);
    int is_index = length >= 5 && strcmp(input_path + length - 5, ".json") == 0;
    char *input = absolute_path(input_path), *out = absolute_path(dir);
    char *folder = input == NULL ? NULL : is_folder ? strdup(input) : parent_of(input);
    int rc = 0;
    if (folder == NULL || out == NULL)
        rc = tool_fail(command, "cannot resolve '%s' or '%s': %s", input_path, dir, strerror(errno));
    else if (strcmp(out, folder) == 0)
        rc = tool_fail(command, "output folder '%s' is the input's folder: write the new "
                       "checkpoint somewhere else", dir);
    else if ((is_folder || is_index) && is_within(out, folder))
        rc = tool_fail(command, "output folder '%s' is inside the input's folder '%s': write the "
                       "new checkpoint somewhere else", dir, folder);
    free(input);
    free(folder);
    free(out);
    return rc;
}

int out_dir_check(const char *command, const char *dir, int force, const char *input_path) {
    int rc = check_not_input(command, dir, input_path);
    if (rc != 0) return rc;
    struct stat st;
    if (stat(dir, &st) != 0) return 0;
    if (!S_ISDIR(st.st_mode)) return tool_fail(command, "output '%s' exists and is not a folder", dir);
    if (!is_empty_dir(dir) && !force)
        return tool_fail(command, "output folder '%s' is not empty (use --force to overwrite)", dir);
    return 0;
}

int out_dir_create(const char *command, const char *dir, int *created) {
    struct stat st;
    if (created != NULL) *created = stat(dir, &st) != 0;
    if (make_dirs(dir) != 0)
        return tool_fail(command, "cannot create output folder '%s': %s", dir, strerror(errno));
    return 0;
}

/* A weight file of a checkpoint this program writes or replaces. */
static int is_weight_file(const char *name) {
    return fnmatch("model*.safetensors", name, 0) == 0 ||
           strcmp(name, "model.safetensors.index.json") == 0;
}

int out_dir_remove_stale(const char *command, const char *dir, const char *const *keep,
                         int64_t keep_count) {
    DIR *d = opendir(dir);
    if (d == NULL) return tool_fail(command, "cannot list '%s': %s", dir, strerror(errno));
    int rc = 0;
    for (struct dirent *e; rc == 0 && (e = readdir(d)) != NULL;) {
        if (!is_weight_file(e->d_name)) continue;
        int kept = 0;
        for (int64_t i = 0; i < keep_count && !kept; i++) kept = strcmp(keep[i], e->d_name) == 0;
        if (kept) continue;
        char *path = path_join(dir, e->d_name);
        if (path == NULL || unlink(path) != 0)
            rc = tool_fail(command, "cannot remove the previous checkpoint's '%s': %s", e->d_name,
                           path ? strerror(errno) : "out of memory");
        free(path);
    }
    closedir(d);
    return rc;
}
