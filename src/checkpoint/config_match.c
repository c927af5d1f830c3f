/* Which scheme a layer falls under: module-name patterns as the checkpoint
 * tools match them (AutoAWQ by substring, compressed-tensors by exact name,
 * "re:" regular expression, or class name; GPTQModel's dynamic rules by
 * regular expression). */
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "config.h"
#include "python_regex.h"

/* glibc's regcomp copies the expression once per repetition, so nested or
 * bounded repeats ("a+++...", "a{999}{999}") grow its memory exponentially.
 * Module patterns hold a few ".*": bound the product of repetition factors
 * (each * + ? doubles it, {m,n} multiplies it by n + 1). */
enum { REGEX_MAX_COPIES = 1 << 10, REGEX_MAX_BYTES = 1024 };
/* Rewriting Python syntax for POSIX at most quintuples a pattern (\w in a
 * set becomes "[:alnum:]_"). */
enum { POSIX_REGEX_BYTES = 5 * REGEX_MAX_BYTES + 1 };

/* The largest count in a bound "{m}", "{m,}" or "{m,n}" (p at '{'), capped. */
static double repeat_bound(const char *p) {
    double largest = 0, value = 0;
    for (p++; (*p >= '0' && *p <= '9') || *p == ','; p++) {
        value = *p == ',' ? 0 : value * 10 + (*p - '0');
        if (value > largest) largest = value > 1e9 ? 1e9 : value;
    }
    return largest;
}

static int regex_is_small(const char *text) {
    double copies = 1;
    for (const char *p = text; *p && copies <= REGEX_MAX_COPIES; p++) {
        if (*p == '\\' && p[1] != '\0') {
            p++;
        } else if (*p == '[') { /* a bracket expression: its characters are literal */
            p += p[1] == '^' ? 2 : 1;
            if (*p == ']') p++;
            while (*p && *p != ']') p++;
            if (*p == '\0') break;
        } else if (*p == '*' || *p == '+' || *p == '?') {
            copies *= 2;
        } else if (*p == '{') {
            copies *= repeat_bound(p) + 1;
        }
    }
    return copies <= REGEX_MAX_COPIES;
}

/* Compiles a Python pattern (python_regex.h) into regex, within the size guard. */
static w4a16_status compile_regex(const char *text, const char *shown, const char *origin,
                                  regex_t *regex) {
    char posix[POSIX_REGEX_BYTES];
    const char *problem = strlen(text) > REGEX_MAX_BYTES
                              ? "more than 1024 characters"
                              : w4a16_python_regex_to_posix(text, posix, sizeof posix);
    W4A16_FAIL_IF(problem != NULL, W4A16_ERR_FORMAT,
                  "%s: pattern '%.200s' cannot be matched here: it holds %s", origin, shown,
                  problem);
    W4A16_FAIL_IF(!regex_is_small(posix) || regcomp(regex, posix, REG_EXTENDED) != 0,
                  W4A16_ERR_FORMAT,
                  "%s: pattern '%.200s' is not a valid (or is too large a) regular expression",
                  origin, shown);
    return W4A16_OK;
}

w4a16_status w4a16_name_patterns_add(w4a16_name_patterns *patterns, const char *text,
                                     w4a16_match_kind kind, const char *origin) {
    w4a16_name_pattern pattern;
    memset(&pattern, 0, sizeof pattern);
    pattern.kind = kind;
    const char *shown = text;
    if (strncmp(text, "re:", 3) == 0) {
        pattern.kind = W4A16_MATCH_REGEX;
        text += 3;
    }
    pattern.text = strdup(text);
    W4A16_FAIL_IF(pattern.text == NULL, W4A16_ERR_NOMEM, "out of memory copying pattern");
    if (pattern.kind == W4A16_MATCH_REGEX) {
        w4a16_status status = compile_regex(text, shown, origin, &pattern.regex);
        if (status != W4A16_OK) {
            free(pattern.text);
            return status;
        }
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

/* GPTQModel puts every "-:" rule before the others (its QuantizeConfig
 * reorders them) and takes the first rule whose regex re.match-es the module. */
static const w4a16_dynamic_rule *dynamic_rule_for(const w4a16_quant_config *config,
                                                  const char *module) {
    for (int64_t i = 0; i < config->dynamic_count; i++)
        if (w4a16_name_patterns_match(&config->dynamic[i].pattern, module))
            return &config->dynamic[i];
    return NULL;
}

int w4a16_quant_config_leaves_dense(const w4a16_quant_config *config, const char *module) {
    if (w4a16_name_patterns_match(&config->ignore, module)) return 1;
    const w4a16_dynamic_rule *rule = dynamic_rule_for(config, module);
    return rule != NULL && rule->skip;
}

const w4a16_quant_scheme *w4a16_quant_config_scheme_for(const w4a16_quant_config *config,
                                                        const char *layer, int *ignored) {
    *ignored = w4a16_quant_config_leaves_dense(config, layer);
    if (*ignored) return NULL;
    if (config->format != W4A16_FORMAT_CT || !config->declared) {
        const w4a16_dynamic_rule *rule = dynamic_rule_for(config, layer);
        return rule != NULL ? &rule->scheme : &config->scheme;
    }
    for (int64_t g = 0; g < config->group_count; g++)
        if (w4a16_name_patterns_match(&config->groups[g].targets, layer))
            return &config->groups[g].scheme;
    return NULL;
}
