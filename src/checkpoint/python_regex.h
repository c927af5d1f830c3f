/* Module-name patterns are Python regular expressions (compressed-tensors
 * "re:" targets, GPTQModel's dynamic keys); we match them with POSIX regcomp.
 * The two agree on the plain syntax these patterns use; this rewrites the
 * Python-only parts that change what a pattern matches. */
#ifndef W4A16_CHECKPOINT_PYTHON_REGEX_H
#define W4A16_CHECKPOINT_PYTHON_REGEX_H

#include <stddef.h>

/* Writes python as a POSIX extended expression into out (NUL-terminated):
 * (?:...) and (?P<name>...) become plain groups, \d \D [0-9] classes, \A \Z
 * anchors, lazy quantifiers (*? +? ?? {m,n}?) greedy ones (whether re.match
 * finds a match does not depend on laziness), escaped punctuation literal,
 * and a [...] set's escapes become POSIX members. Returns NULL on success,
 * else what has no POSIX form here ("the look-around or flag group '(?'",
 * "the escape '\\n'", ...), or that out is too small. */
const char *w4a16_python_regex_to_posix(const char *python, char *out, size_t out_size);

#endif
