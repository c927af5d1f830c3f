/* Reading the input's config.json for the output checkpoint (see model_config.h). */
#include "model_config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "checkpoint/config.h"
#include "commands.h"
#include "failure.h"
#include "out_dir.h"

char *checkpoint_folder(const char *path) {
    struct stat st;
    if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) return strdup(path);
    const char *slash = strrchr(path, '/');
    if (slash == NULL) return strdup(".");
    if (slash == path) return strdup("/");
    return strndup(path, (size_t)(slash - path));
}

int model_config_load(const char *command, const char *folder, json_t **out) {
    char *path = path_join(folder, "config.json");
    if (path == NULL) return tool_fail(command, "out of memory");
    struct stat st;
    if (stat(path, &st) != 0) {
        free(path);
        *out = json_object();
        return *out ? 0 : tool_fail(command, "out of memory");
    }
    json_error_t error;
    json_t *config = json_load_file(path, JSON_REJECT_DUPLICATES, &error);
    int rc = 0;
    if (config == NULL)
        rc = tool_fail(command, "%s: line %d: %s", path, error.line, error.text);
    else if (!json_is_object(config))
        rc = tool_fail(command, "%s: not a JSON object", path);
    free(path);
    if (rc != 0) {
        json_decref(config);
        return rc;
    }
    *out = config;
    return 0;
}

void model_config_set_dtype(json_t *config, w4a16_dtype dtype) {
    const char *name = dtype == W4A16_F16    ? "float16"
                       : dtype == W4A16_BF16 ? "bfloat16"
                       : dtype == W4A16_F32  ? "float32"
                                             : NULL;
    if (name == NULL) return;
    json_object_set_new(config, "torch_dtype", json_string(name));
    if (json_object_get(config, "dtype") != NULL) json_object_set_new(config, "dtype", json_string(name));
}

int checkpoint_has_config(const char *folder) {
    w4a16_quant_config config;
    int found = 0;
    if (w4a16_quant_config_load(folder, &config, &found) != W4A16_OK) return 1;
    w4a16_quant_config_free(&config);
    return found;
}
