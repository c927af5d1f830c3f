/* Carrying a model folder's other files into OUT_DIR (see model_files.h). */
#include "model_files.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "failure.h"
#include "out_dir.h"

static const char *const LEFT_BEHIND[] = {
    "config.json", "quantize_config.json", "quant_config.json", "*.safetensors",
    "*.safetensors.index.json", "*.bin", "*.bin.index.json", "*.pt", "*.pth", "*.ckpt",
    "*.h5", "*.msgpack", "*.gguf", "*.tmp", ".*",
};

int model_file_is_carried(const char *name) {
    for (size_t i = 0; i < sizeof LEFT_BEHIND / sizeof *LEFT_BEHIND; i++)
        if (fnmatch(LEFT_BEHIND[i], name, FNM_PERIOD) == 0) return 0;
    return 1;
}

/* All of in to out: in the kernel where it can, else through a buffer. */
static int copy_contents(int in, int out) {
    for (;;) {
        ssize_t done = copy_file_range(in, NULL, out, NULL, (size_t)1 << 30, 0);
        if (done == 0) return 0;
        if (done > 0) continue;
        if (errno == EINTR) continue;
        if (errno != EXDEV && errno != ENOSYS && errno != EINVAL && errno != EOPNOTSUPP) return -1;
        break;
    }
    char buffer[1 << 16];
    for (;;) {
        ssize_t got = read(in, buffer, sizeof buffer);
        if (got < 0 && errno == EINTR) continue;
        if (got <= 0) return (int)got;
        for (ssize_t at = 0; at < got;) {
            ssize_t put = write(out, buffer + at, (size_t)(got - at));
            if (put < 0 && errno == EINTR) continue;
            if (put <= 0) return -1;
            at += put;
        }
    }
}

static int copy_file(const char *command, const char *from, const char *to) {
    size_t tmp_bytes = strlen(to) + sizeof ".tmp";
    char *tmp = malloc(tmp_bytes);
    if (tmp == NULL) return tool_fail(command, "out of memory");
    snprintf(tmp, tmp_bytes, "%s.tmp", to);
    int in = open(from, O_RDONLY | O_CLOEXEC);
    int out = in < 0 ? -1 : open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    int failed = in < 0 || out < 0 || copy_contents(in, out) != 0;
    int error = errno;
    if (out >= 0 && close(out) != 0 && !failed) failed = 1, error = errno;
    if (in >= 0) close(in);
    if (!failed && rename(tmp, to) != 0) failed = 1, error = errno;
    if (failed) unlink(tmp);
    free(tmp);
    return failed ? tool_fail(command, "cannot copy %s to %s: %s", from, to, strerror(error)) : 0;
}

int model_files_copy(const char *command, const char *from, const char *to, int64_t *copied) {
    *copied = 0;
    DIR *d = opendir(from);
    if (d == NULL) return tool_fail(command, "cannot list '%s': %s", from, strerror(errno));
    int rc = 0;
    for (struct dirent *e; rc == 0 && (e = readdir(d)) != NULL;) {
        if (!model_file_is_carried(e->d_name)) continue;
        char *source = path_join(from, e->d_name), *target = path_join(to, e->d_name);
        struct stat st;
        if (source == NULL || target == NULL) rc = tool_fail(command, "out of memory");
        else if (stat(source, &st) == 0 && S_ISREG(st.st_mode) &&
                 (rc = copy_file(command, source, target)) == 0)
            ++*copied;
        free(source);
        free(target);
    }
    closedir(d);
    return rc;
}
