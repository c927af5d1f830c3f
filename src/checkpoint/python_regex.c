/* Python re syntax to POSIX extended syntax (python_regex.h). */
#include "python_regex.h"

#include <ctype.h>
#include <string.h>

typedef struct {
    char *out;
    size_t size, used;
    int full; /* out too small */
} writer;

static void put(writer *w, const char *text) {
    size_t length = strlen(text);
    if (w->used + length >= w->size) {
        w->full = 1;
        return;
    }
    memcpy(w->out + w->used, text, length + 1);
    w->used += length;
}

static void put_char(writer *w, char c) { put(w, (char[]){c, '\0'}); }

/* Characters an ERE gives a meaning; escaped, they stay escaped. Python's
 * other escaped punctuation is literal, while glibc gives \< \> \` \' a
 * meaning: those are written bare. */
static int is_ere_special(char c) { return c != '\0' && strchr(".[]()*+?{}|^$\\", c) != NULL; }

/* The members of a bracket expression, gathered so that ], -, ^ and \ can be
 * placed where POSIX reads them literally (] first, - last, ^ not first;
 * inside POSIX brackets a backslash is itself). */
typedef struct {
    char body[512];
    size_t used;
    int negated, right_bracket, dash, caret, backslash, left_bracket;
} bracket;

static int bracket_add(bracket *b, const char *text) {
    size_t length = strlen(text);
    if (b->used + length >= sizeof b->body) return -1;
    memcpy(b->body + b->used, text, length + 1);
    b->used += length;
    return 0;
}

static const char *bracket_escape(bracket *b, char c) {
    switch (c) {
    case 'd': return bracket_add(b, "0-9") ? "a [...] set too long" : NULL;
    case 'w': return bracket_add(b, "[:alnum:]_") ? "a [...] set too long" : NULL;
    case 's': return bracket_add(b, "[:space:]") ? "a [...] set too long" : NULL;
    case ']': b->right_bracket = 1; return NULL;
    case '-': b->dash = 1; return NULL;
    case '^': b->caret = 1; return NULL;
    case '\\': b->backslash = 1; return NULL;
    case '[': b->left_bracket = 1; return NULL;
    default: break;
    }
    if (c == '\0' || isalnum((unsigned char)c))
        return "an escape inside [...] other than \\d \\w \\s";
    return bracket_add(b, (char[]){c, '\0'}) ? "a [...] set too long" : NULL;
}

/* Reads the set that starts at *p (just past '['); leaves *p past its ']'. */
static const char *translate_bracket(const char **p, writer *w) {
    bracket b = {.used = 0};
    const char *s = *p;
    if (*s == '^') {
        b.negated = 1;
        s++;
    }
    if (*s == ']') { /* first, it is a member */
        b.right_bracket = 1;
        s++;
    }
    for (; *s != ']'; s++) {
        if (*s == '\0') return "an unterminated [...] set";
        const char *problem = NULL;
        if (*s == '\\')
            problem = bracket_escape(&b, *++s);
        else if (*s == '[')
            b.left_bracket = 1; /* never "[." "[:" "[=" for POSIX */
        else if (*s == '^')
            b.caret = 1;
        else if (*s == '-' && (b.used == 0 || s[1] == ']'))
            b.dash = 1; /* literal at an end */
        else
            problem = bracket_add(&b, (char[]){*s, '\0'}) ? "a [...] set too long" : NULL;
        if (problem != NULL) return problem;
    }
    *p = s + 1;
    int only_caret = b.caret && !b.negated && b.used == 0 && !b.right_bracket && !b.dash &&
                     !b.backslash && !b.left_bracket;
    if (only_caret) { /* "[^]" would read as a negation */
        put(w, "\\^");
        return NULL;
    }
    put(w, b.negated ? "[^" : "[");
    if (b.right_bracket) put(w, "]");
    put(w, b.body);
    if (b.backslash) put(w, "\\");
    if (b.left_bracket) put(w, "[");
    if (b.caret) put(w, "^");
    if (b.dash) put(w, "-");
    put(w, "]");
    return NULL;
}

/* An escape outside a set: *p at the character after the backslash. */
static const char *translate_escape(char c, writer *w) {
    switch (c) {
    case 'd': put(w, "[0-9]"); return NULL;
    case 'D': put(w, "[^0-9]"); return NULL;
    case 'A': put(w, "^"); return NULL;
    case 'Z': put(w, "$"); return NULL;
    case 'w': case 'W': case 's': case 'S': case 'b': case 'B': /* glibc reads these alike */
        put_char(w, '\\');
        put_char(w, c);
        return NULL;
    default: break;
    }
    if (c == '\0') return "a trailing backslash";
    if (isalnum((unsigned char)c))
        return "an escape other than \\d \\D \\w \\W \\s \\S \\b \\B \\A \\Z";
    if (is_ere_special(c)) put_char(w, '\\');
    put_char(w, c);
    return NULL;
}

/* "(?:" and "(?P<name>" open plain groups; *p just past "(?". */
static const char *translate_group(const char **p, writer *w) {
    const char *s = *p;
    if (*s == ':') {
        s++;
    } else if (s[0] == 'P' && s[1] == '<') {
        s = strchr(s, '>');
        if (s == NULL) return "an unterminated (?P<name> group";
        s++;
    } else {
        return "a look-around, flag or other (?...) group";
    }
    put(w, "(");
    *p = s;
    return NULL;
}

/* Length of a repeat "{m}", "{m,}", "{,n}" or "{m,n}" at p, or 0: Python
 * reads any other '{' as itself. */
static size_t repeat_length(const char *p) {
    size_t i = 1, digits = 0, commas = 0;
    for (; isdigit((unsigned char)p[i]) || (p[i] == ',' && commas == 0); i++) {
        if (p[i] == ',') commas++;
        else digits++;
    }
    return p[i] == '}' && digits > 0 ? i + 1 : 0;
}

const char *w4a16_python_regex_to_posix(const char *python, char *out, size_t out_size) {
    writer w = {out, out_size, 0, 0};
    if (out_size == 0) return "no room for the expression";
    out[0] = '\0';
    const char *p = python;
    while (*p != '\0' && !w.full) {
        const char *problem = NULL;
        char c = *p++;
        if (c == '\\') {
            problem = translate_escape(*p, &w);
            if (*p != '\0') p++;
        } else if (c == '[') {
            problem = translate_bracket(&p, &w);
        } else if (c == '(' && *p == '?') {
            p++;
            problem = translate_group(&p, &w);
        } else if (c == '{') {
            size_t length = repeat_length(p - 1);
            if (length == 0) put(&w, "\\{");
            for (size_t i = 0; i < length; i++) put_char(&w, p[i - 1]);
            p += length > 0 ? length - 1 : 0;
            if (length > 0 && *p == '?') p++; /* lazy: matches where greedy does */
        } else {
            put_char(&w, c);
            if ((c == '*' || c == '+' || c == '?') && *p == '?') p++; /* lazy, as above */
        }
        if (problem != NULL) return problem;
    }
    return w.full ? "an expression too long" : NULL;
}
