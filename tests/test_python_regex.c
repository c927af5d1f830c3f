/* Module-name patterns written in Python's re syntax, matched with POSIX
 * regcomp after rewriting: each pattern matches (from the start, as
 * re.match) exactly the names Python 3 matches (expected values taken from
 * re.match), and constructs without a POSIX form are refused, saying which. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "checkpoint/config.h"
#include "checkpoint/python_regex.h"

static void test_matches_as_python(void **state) {
    (void)state;
    static const struct {
        const char *pattern, *name;
        int matches; /* re.match(pattern, name) is not None */
    } cases[] = {
        {".*\\.(?:1[6-8])\\..*", "model.layers.17.mlp.up_proj", 1},
        {".*\\.(?:1[6-8])\\..*", "model.layers.19.mlp.up_proj", 0},
        {".*\\.(?:1[6-8])\\..*", "model.layers.1.mlp", 0},
        {"model\\.layers\\.\\d+\\.mlp\\.gate$", "model.layers.12.mlp.gate", 1},
        {"model\\.layers\\.\\d+\\.mlp\\.gate$", "model.layers.x.mlp.gate", 0},
        {"model\\.layers\\.\\d+\\.mlp\\.gate$", "model.layers.3.mlp.gate_proj", 0},
        {"model\\.layers\\.\\D", "model.layers.a", 1},
        {"model\\.layers\\.\\D", "model.layers.1", 0},
        {"(?P<block>layers)\\.0\\.", "layers.0.q", 1},
        {"(?P<block>layers)\\.0\\.", "layers.1.q", 0},
        {".*?proj", "mlp.up_proj", 1},
        {".*?proj", "mlp.gate", 0},
        {"\\Alm_head\\Z", "lm_head", 1},
        {"\\Alm_head\\Z", "lm_head2", 0},
        {"[\\d]+\\.[^\\d\\.]+", "12.mlp", 1},
        {"[\\d]+\\.[^\\d\\.]+", "12.3", 0},
        {"[\\d]+\\.[^\\d\\.]+", "a.mlp", 0},
        {"[\\w\\-]+$", "a-b_c1", 1},
        {"[\\w\\-]+$", "a.b", 0},
        {"[\\.]x", ".x", 1},
        {"[\\.]x", "\\x", 0},
        {"[\\.]x", "ax", 0},
        {"[]a]b", "]b", 1},
        {"[]a]b", "ab", 1},
        {"[]a]b", "cb", 0},
        {"[a-]z", "-z", 1},
        {"[a-]z", "az", 1},
        {"[a-]z", "bz", 0},
        {"[\\^]", "^", 1},
        {"[\\^]", "a", 0},
        {"[^\\^a]", "b", 1},
        {"[^\\^a]", "^", 0},
        {"[^\\^a]", "a", 0},
        {"a\\<b", "a<b", 1},
        {"a\\<b", "ab", 0},
        {"mlp", "mlp.gate", 1},
        {"mlp", "model.mlp", 0},
        {"x{2,3}?y", "xxy", 1},
        {"x{2,3}?y", "xy", 0},
        {"a\\\\b", "a\\b", 1},
        {"a\\\\b", "ab", 0},
        {"[\\\\]", "\\", 1},
        {"[\\\\]", "a", 0},
        {"[[]", "[", 1},
        {"[[]", "a", 0},
        {"a|b\\.c", "b.c", 1},
        {"a|b\\.c", "a", 1},
        {"a|b\\.c", "c", 0},
        {"a{,2}b", "aab", 1},
        {"a{,2}b", "aaab", 0},
        {"x{y", "x{y", 1},
        {"a}?b", "ab", 1},
        {"a}?b", "a}b", 1},
        {"a{2}?b", "aab", 1},
        {"a{2}?b", "ab", 0},
        {"a{1,}b", "aaab", 1},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        w4a16_name_patterns patterns = {NULL, 0};
        char text[128];
        snprintf(text, sizeof text, "re:%s", cases[i].pattern);
        if (w4a16_name_patterns_add(&patterns, text, W4A16_MATCH_EXACT, "test") != W4A16_OK)
            fail_msg("'%s' refused: %s", cases[i].pattern, w4a16_last_error());
        if (w4a16_name_patterns_match(&patterns, cases[i].name) != cases[i].matches)
            fail_msg("'%s' on '%s': expected %d", cases[i].pattern, cases[i].name,
                     cases[i].matches);
        w4a16_name_patterns_free(&patterns);
    }
}

static void test_known_rewrites(void **state) {
    (void)state;
    static const struct {
        const char *python, *posix;
    } cases[] = {
        {"(?:a|b)\\d*?", "(a|b)[0-9]*"},
        {"[^\\d\\]x-]", "[^]0-9x-]"},
        {"[\\w.]", "[[:alnum:]_.]"},
        {"\\.\\-\\_", "\\.-_"},
        {"[\\^]", "\\^"},
        {"a{2,3}?{x}", "a{2,3}\\{x}"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char out[64];
        assert_null(w4a16_python_regex_to_posix(cases[i].python, out, sizeof out));
        assert_string_equal(out, cases[i].posix);
    }
    char small[4];
    assert_non_null(w4a16_python_regex_to_posix("abcdef", small, sizeof small));
}

static void test_refused_constructs(void **state) {
    (void)state;
    static const struct {
        const char *python, *needle;
    } cases[] = {
        {"(?=a)", "look-around"},  {"(?i)mlp", "flag"},      {"a\\n", "an escape other"},
        {"[\\n]", "inside [...]"}, {"[abc", "unterminated"}, {"(?P<x", "unterminated"},
        {"abc\\", "trailing"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char out[64];
        const char *problem = w4a16_python_regex_to_posix(cases[i].python, out, sizeof out);
        assert_non_null(problem);
        if (strstr(problem, cases[i].needle) == NULL)
            fail_msg("'%s': \"%s\" lacks \"%s\"", cases[i].python, problem, cases[i].needle);
        /* Through the pattern list, the open fails naming the pattern and why. */
        w4a16_name_patterns patterns = {NULL, 0};
        char text[64];
        snprintf(text, sizeof text, "re:%s", cases[i].python);
        assert_int_equal(w4a16_name_patterns_add(&patterns, text, W4A16_MATCH_EXACT, "cfg"),
                         W4A16_ERR_FORMAT);
        assert_non_null(strstr(w4a16_last_error(), "cannot be matched here"));
        assert_non_null(strstr(w4a16_last_error(), cases[i].needle));
        assert_int_equal(patterns.count, 0);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_matches_as_python),
        cmocka_unit_test(test_known_rewrites),
        cmocka_unit_test(test_refused_constructs),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
