/* Which scheme a layer falls under: module-name patterns as the checkpoint
 * tools match them (AutoAWQ by substring, compressed-tensors by exact name,
 * "re:" regular expression, or class name). */
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "config.h"

w4a16_status w4a16_name_patterns_add(w4a16_name_patterns *patterns, const char *text,
                                     w4a16_match_kind kind, const char *origin) {
    w4a16_name_pattern pattern;
    memset(&pattern, 0, sizeof pattern);
    pattern.kind = kind;
    if (strncmp(text, "re:", 3) == 0) {
        pattern.kind = W4A16_MATCH_REGEX;
        text += 3;
    }
    pattern.text = strdup(text);
    W4A16_FAIL_IF(pattern.text == NULL, W4A16_ERR_NOMEM, "out of memory copying pattern");
    if (pattern.kind == W4A16_MATCH_REGEX && regcomp(&pattern.regex, text, REG_EXTENDED) != 0) {
        free(pattern.text);
        return w4a16_fail(W4A16_ERR_FORMAT, "%s: pattern 're:%s' is not a valid regular expression",
                          origin, text);
    }
    w4a16_name_pattern *grown =
        realloc(patterns->patterns, (size_t)(patterns->count + 1) * sizeof *grown);
    if (grown == NULL) {
        if (pattern.kind == W4A16_MATCH_REGEX) regfree(&pattern.regex);
        free(pattern.text);
        return w4a16_fail(W4A16_ERR_NOMEM, "out of memory growing a pattern list");
    }
    patterns->patterns = grown;
    patterns->patterns[patterns->count++] = pattern;
    return W4A16_OK;
}

void w4a16_name_patterns_free(w4a16_name_patterns *patterns) {
    for (int64_t i = 0; i < patterns->count; i++) {
        if (patterns->patterns[i].kind == W4A16_MATCH_REGEX) regfree(&patterns->patterns[i].regex);
        free(patterns->patterns[i].text);
    }
    free(patterns->patterns);
    patterns->patterns = NULL;
    patterns->count = 0;
}

static int pattern_matches(const w4a16_name_pattern *pattern, const char *name) {
    switch (pattern->kind) {
    case W4A16_MATCH_EXACT: return strcmp(pattern->text, name) == 0;
    case W4A16_MATCH_SUBSTRING: return strstr(name, pattern->text) != NULL;
    case W4A16_MATCH_ANY_LINEAR: return 1;
    case W4A16_MATCH_REGEX: {
        /* Python's re.match anchors at the start only; a POSIX leftmost match
         * starts at 0 exactly when some match does. */
        regmatch_t match;
        return regexec(&pattern->regex, name, 1, &match, 0) == 0 && match.rm_so == 0;
    }
    }
    return 0;
}

int w4a16_name_patterns_match(const w4a16_name_patterns *patterns, const char *name) {
    for (int64_t i = 0; i < patterns->count; i++)
        if (pattern_matches(&patterns->patterns[i], name)) return 1;
    return 0;
}

const w4a16_quant_scheme *w4a16_quant_config_scheme_for(const w4a16_quant_config *config,
                                                        const char *layer, int *ignored) {
    *ignored = w4a16_name_patterns_match(&config->ignore, layer);
    if (*ignored) return NULL;
    if (config->format != W4A16_FORMAT_CT || !config->declared) return &config->scheme;
    for (int64_t g = 0; g < config->group_count; g++)
        if (w4a16_name_patterns_match(&config->groups[g].targets, layer))
            return &config->groups[g].scheme;
    return NULL;
}
