/* Format names as the command line and inspect's JSON spell them. */
#include <string.h>

#include "error.h"

static const char *const format_names[] = {
    [W4A16_FORMAT_AUTO] = "auto", [W4A16_FORMAT_DENSE] = "dense", [W4A16_FORMAT_AWQ] = "awq",
    [W4A16_FORMAT_GPTQ] = "gptq", [W4A16_FORMAT_GPTQ_V2] = "gptq_v2", [W4A16_FORMAT_CT] = "ct",
};
enum { FORMAT_COUNT = sizeof format_names / sizeof format_names[0] };

const char *w4a16_format_name(w4a16_format format) {
    if ((int)format < 0 || (int)format >= FORMAT_COUNT) return "unknown";
    return format_names[format];
}

w4a16_status w4a16_format_parse(const char *name, w4a16_format *out) {
    W4A16_FAIL_IF(name == NULL, W4A16_ERR_ARG, "format name is NULL");
    W4A16_FAIL_IF(out == NULL, W4A16_ERR_ARG, "out is NULL");
    for (int f = 0; f < FORMAT_COUNT; f++)
        if (strcmp(name, format_names[f]) == 0) {
            *out = (w4a16_format)f;
            return W4A16_OK;
        }
    return w4a16_fail(W4A16_ERR_ARG,
                      "unknown format '%s' (expected awq, gptq, gptq_v2, ct or dense)", name);
}
