/* The safetensors reader against malformed files: every rule of the format
 * broken once, and a valid file cut short at every byte, each rejected with
 * its own status and message, from memory and from disk, never a crash (this
 * suite also runs under ASan and UBSan). Also the legal edge the rules must
 * not catch: zero-size tensors anywhere in the data. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "checkpoint/safetensors.h"
#include "checkpoint_builder.h"
#include "test_support.h"

/* ------------------------------------------------------------------ helpers */

/* A file image: the stated header length, json_bytes of JSON, then
 * data_bytes of random data. */
static uint8_t *raw_file_stated(uint64_t stated_length, const char *json, size_t json_bytes,
                                size_t data_bytes, size_t *size) {
    uint64_t rng = 0x5afe7e50u + json_bytes;
    *size = 8 + json_bytes + data_bytes;
    uint8_t *bytes = malloc(*size);
    assert_non_null(bytes);
    for (int i = 0; i < 8; i++) bytes[i] = (uint8_t)(stated_length >> (8 * i));
    memcpy(bytes + 8, json, json_bytes);
    test_fill_bytes(bytes + 8 + json_bytes, data_bytes, &rng);
    return bytes;
}

static uint8_t *raw_file(const char *json, size_t data_bytes, size_t *size) {
    return raw_file_stated(strlen(json), json, strlen(json), data_bytes, size);
}

/* bytes must be rejected with status and a message containing needle, both
 * from a buffer (copied to an exact-size allocation so that ASan sees any
 * over-read) and from a file; *out must be left untouched. */
static void expect_reject(const uint8_t *bytes, size_t size, w4a16_status status,
                          const char *needle) {
    static int serial;
    uint8_t *copy = malloc(size ? size : 1);
    assert_non_null(copy);
    if (size) memcpy(copy, bytes, size);
    w4a16_st_file out, sentinel;
    memset(&out, 0x5a, sizeof out);
    memset(&sentinel, 0x5a, sizeof sentinel);
    w4a16_status got = w4a16_st_parse(copy, size, &out);
    if (got != status)
        fail_msg("parse: status %d (%s), expected %d; message \"%s\"", (int)got,
                 w4a16_status_str(got), (int)status, w4a16_last_error());
    test_expect_error_has(needle);
    test_expect_error_has("<memory>");
    assert_memory_equal(&out, &sentinel, sizeof out);
    free(copy);

    static char dir[4096];
    if (dir[0] == '\0') {
        const char *scratch = test_scratch_dir("safetensors_reject");
        assert_non_null(scratch);
        snprintf(dir, sizeof dir, "%s", scratch);
    }
    char path[4200];
    snprintf(path, sizeof path, "%s/case%d.safetensors", dir, serial++);
    assert_int_equal(test_write_file(path, bytes, size), 0);
    got = w4a16_st_open(path, &out);
    if (got != status)
        fail_msg("open: status %d (%s), expected %d; message \"%s\"", (int)got,
                 w4a16_status_str(got), (int)status, w4a16_last_error());
    test_expect_error_has(needle);
    test_expect_error_has(path);
    assert_memory_equal(&out, &sentinel, sizeof out);
}

static void expect_reject_json(const char *json, size_t data_bytes, w4a16_status status,
                               const char *needle) {
    size_t size;
    uint8_t *bytes = raw_file(json, data_bytes, &size);
    expect_reject(bytes, size, status, needle);
    free(bytes);
}

/* Only zero-size tensors, at the start, middle and end of the data. */
static void test_zero_size_tensors(void **state) {
    (void)state;
    expect_reject_json("{\"a\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[0,0]}}", 1,
                       W4A16_ERR_FORMAT, "the data must end at the end of the file");
    const char *json =
        "{\"a\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[0,0]},"
        "\"b\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[0,2]},"
        "\"c\":{\"dtype\":\"I64\",\"shape\":[3,0],\"data_offsets\":[2,2]},"
        "\"d\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[2,3]},"
        "\"e\":{\"dtype\":\"F4\",\"shape\":[0],\"data_offsets\":[3,3]}}";
    size_t size;
    uint8_t *bytes = raw_file(json, 3, &size);
    w4a16_st_file file;
    assert_int_equal(w4a16_st_parse(bytes, size, &file), W4A16_OK);
    assert_int_equal(file.tensor_count, 5);
    assert_int_equal(w4a16_st_find(&file, "c")->end, 2);
    w4a16_st_close(&file);
    free(bytes);
    bytes = raw_file("{\"only\":{\"dtype\":\"BF16\",\"shape\":[0,4096],\"data_offsets\":[0,0]}}",
                     0, &size);
    assert_int_equal(w4a16_st_parse(bytes, size, &file), W4A16_OK);
    w4a16_st_close(&file);
    free(bytes);
}

/* ------------------------------------------------------------ malformed files */

static void test_io_errors(void **state) {
    (void)state;
    w4a16_st_file out;
    const char *dir = test_scratch_dir("safetensors_io");
    char path[4200];
    snprintf(path, sizeof path, "%s/absent.safetensors", dir);
    assert_int_equal(w4a16_st_open(path, &out), W4A16_ERR_IO);
    test_expect_error_has("cannot open");
    test_expect_error_has("absent.safetensors");
    assert_int_equal(w4a16_st_open(dir, &out), W4A16_ERR_IO);
    test_expect_error_has("is a directory");
    /* A FIFO must fail at once, not block waiting for a writer. */
    snprintf(path, sizeof path, "%s/fifo", dir);
    assert_int_equal(mkfifo(path, 0600), 0);
    assert_int_equal(w4a16_st_open(path, &out), W4A16_ERR_IO);
    test_expect_error_has("is not a regular file");
    assert_int_equal(w4a16_st_open(NULL, &out), W4A16_ERR_ARG);
    assert_int_equal(w4a16_st_open(path, NULL), W4A16_ERR_ARG);
    assert_int_equal(w4a16_st_parse(NULL, 4, &out), W4A16_ERR_ARG);
    assert_int_equal(w4a16_st_parse(NULL, 0, &out), W4A16_ERR_FORMAT);
    test_expect_error_has("shorter than the 8-byte header length");
}

/* A valid file cut short at every byte: in the length prefix, the header and
 * the data, each region with its own message. */
static void test_truncated_everywhere(void **state) {
    (void)state;
    const char *json =
        "{\"__metadata__\":{\"format\":\"pt\"},"
        "\"w\":{\"dtype\":\"F16\",\"shape\":[2,3],\"data_offsets\":[0,12]},"
        "\"z\":{\"dtype\":\"I32\",\"shape\":[0],\"data_offsets\":[20,20]},"
        "\"s\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[12,20]}}    ";
    size_t size;
    uint8_t *bytes = raw_file(json, 20, &size);
    size_t header_end = 8 + strlen(json);
    w4a16_st_file file;
    assert_int_equal(w4a16_st_parse(bytes, size, &file), W4A16_OK);
    w4a16_st_close(&file);
    for (size_t cut = 0; cut < size; cut++) {
        const char *needle = cut < 8             ? "shorter than the 8-byte header length"
                             : cut < header_end ? "runs past the end of the file"
                                                : "run past the end of the data";
        expect_reject(bytes, cut, W4A16_ERR_FORMAT, needle);
    }
    free(bytes);
}

static void test_header_length(void **state) {
    (void)state;
    const char *json = "{}";
    const struct {
        uint64_t stated;
        const char *needle;
    } cases[] = {
        {UINT64_MAX, "exceeds the limit of 100000000 bytes"},
        {1ull << 63, "exceeds the limit"},
        {100000001ull, "exceeds the limit"},
        {100000000ull, "runs past the end of the file"},
        {UINT64_MAX - 7, "exceeds the limit"}, /* 8 + N wraps around */
        {3, "runs past the end of the file"},
        {0, "header does not start with '{'"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        size_t size;
        uint8_t *bytes = raw_file_stated(cases[i].stated, json, strlen(json), 0, &size);
        if (cases[i].stated == 3) size = 8 + 2; /* states 3 bytes, holds 2 */
        expect_reject(bytes, size, W4A16_ERR_FORMAT, cases[i].needle);
        free(bytes);
    }
}

/* One JSON header (json_bytes 0: strlen) with data_bytes of data, and what
 * the reader must say about it. */
typedef struct {
    const char *json;
    size_t json_bytes;
    size_t data_bytes;
    w4a16_status status;
    const char *needle;
} malformed_case;

#define ENTRY(name, dtype, shape, begin, end)                                                  \
    "\"" name "\":{\"dtype\":\"" dtype "\",\"shape\":" shape ",\"data_offsets\":[" #begin "," #end \
    "]}"

static const malformed_case malformed_cases[] = {
    /* not JSON, or not the JSON the format allows */
    {" {}", 0, 0, W4A16_ERR_FORMAT, "header does not start with '{'"},
    {"[1,2]", 0, 0, W4A16_ERR_FORMAT, "header does not start with '{'"},
    {"{", 0, 0, W4A16_ERR_FORMAT, "header is not valid JSON"},
    {"{\"a\":}", 0, 0, W4A16_ERR_FORMAT, "header is not valid JSON"},
    {"{\"a\" 1}", 0, 0, W4A16_ERR_FORMAT, "header is not valid JSON"},
    {"{}x", 0, 0, W4A16_ERR_FORMAT, "header has byte 0x78 after its JSON object at byte 2"},
    {"{}  \n", 0, 0, W4A16_ERR_FORMAT, "header has byte 0x0a"},
    {"{}\t", 0, 0, W4A16_ERR_FORMAT, "only spaces may follow"},
    {"{}{}", 0, 0, W4A16_ERR_FORMAT, "only spaces may follow"},
    {"{}  \0 ", 6, 0, W4A16_ERR_FORMAT, "header has byte 0x00"},
    {"{\"a\":\"\\u0000\"}", 0, 0, W4A16_ERR_FORMAT, "header is not valid JSON"},
    {"{\"a\":18446744073709551616}", 0, 0, W4A16_ERR_FORMAT, "header is not valid JSON"},
    /* duplicate keys, at the top and inside an entry */
    {"{" ENTRY("a", "U8", "[1]", 0, 1) "," ENTRY("a", "U8", "[1]", 1, 2) "}", 0, 2,
     W4A16_ERR_FORMAT, "header has a duplicate key"},
    {"{\"a\":{\"dtype\":\"U8\",\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]}}", 0, 1,
     W4A16_ERR_FORMAT, "duplicate key"},
    {"{\"__metadata__\":{\"k\":\"1\",\"k\":\"2\"}}", 0, 0, W4A16_ERR_FORMAT, "duplicate key"},
    /* bad UTF-8: a stray byte, an overlong NUL, a surrogate, a cut sequence */
    {"{\"\xff\":1}", 0, 0, W4A16_ERR_FORMAT, "header is not valid UTF-8"},
    {"{\"__metadata__\":{\"k\":\"\xc0\x80\"}}", 0, 0, W4A16_ERR_FORMAT, "not valid UTF-8"},
    {"{\"\xed\xa0\x80\":1}", 0, 0, W4A16_ERR_FORMAT, "not valid UTF-8"},
    {"{\"\xe2\x82\":1}", 0, 0, W4A16_ERR_FORMAT, "not valid UTF-8"},
    /* __metadata__ */
    {"{\"__metadata__\":[\"a\"]}", 0, 0, W4A16_ERR_FORMAT, "__metadata__ must be an object"},
    {"{\"__metadata__\":\"pt\"}", 0, 0, W4A16_ERR_FORMAT, "__metadata__ must be an object"},
    {"{\"__metadata__\":{\"format\":\"pt\",\"n\":1}}", 0, 0, W4A16_ERR_FORMAT,
     "__metadata__ value of 'n' is not a string"},
    {"{\"__metadata__\":{\"x\":null}}", 0, 0, W4A16_ERR_FORMAT, "value of 'x' is not a string"},
    {"{\"__metadata__\":{\"x\":{\"y\":\"z\"}}}", 0, 0, W4A16_ERR_FORMAT, "is not a string"},
    /* entries of the wrong shape */
    {"{\"a\":[1,2]}", 0, 0, W4A16_ERR_FORMAT, "tensor 'a': entry is not an object"},
    {"{\"a\":null}", 0, 0, W4A16_ERR_FORMAT, "tensor 'a': entry is not an object"},
    {"{\"a\":{\"shape\":[1],\"data_offsets\":[0,1]}}", 0, 1, W4A16_ERR_FORMAT,
     "tensor 'a': has no \"dtype\""},
    {"{\"a\":{\"dtype\":8,\"shape\":[1],\"data_offsets\":[0,1]}}", 0, 1, W4A16_ERR_FORMAT,
     "\"dtype\" is not a string"},
    {"{\"a\":{\"dtype\":\"U8\",\"data_offsets\":[0,1]}}", 0, 1, W4A16_ERR_FORMAT,
     "has no \"shape\""},
    {"{\"a\":{\"dtype\":\"U8\",\"shape\":1,\"data_offsets\":[0,1]}}", 0, 1, W4A16_ERR_FORMAT,
     "\"shape\" is not an array"},
    {"{\"a\":{\"dtype\":\"U8\",\"shape\":[1]}}", 0, 1, W4A16_ERR_FORMAT,
     "has no \"data_offsets\""},
    {"{\"a\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":{\"b\":0}}}", 0, 1,
     W4A16_ERR_FORMAT, "\"data_offsets\" is not an array"},
    {"{" ENTRY("a", "U8", "[1]", 0, 1) "}", 0, 1, 0, NULL}, /* control: valid */
    {"{\"a\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0]}}", 0, 1, W4A16_ERR_FORMAT,
     "not an array of two integers"},
    {"{\"a\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1,1]}}", 0, 1,
     W4A16_ERR_FORMAT, "not an array of two integers"},
    {"{\"a\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,\"1\"]}}", 0, 1,
     W4A16_ERR_FORMAT, "data_offsets[1] is not an integer"},
    {"{\"a\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1.0]}}", 0, 1,
     W4A16_ERR_FORMAT, "data_offsets[1] is not an integer"},
    /* dtypes the format does not define (spelling is exact) */
    {"{" ENTRY("a", "F31", "[1]", 0, 4) "}", 0, 4, W4A16_ERR_FORMAT,
     "tensor 'a': unknown dtype \"F31\""},
    {"{" ENTRY("a", "f32", "[1]", 0, 4) "}", 0, 4, W4A16_ERR_FORMAT, "unknown dtype \"f32\""},
    {"{" ENTRY("a", "", "[1]", 0, 4) "}", 0, 4, W4A16_ERR_FORMAT, "unknown dtype \"\""},
    {"{" ENTRY("a", "INVALID", "[1]", 0, 4) "}", 0, 4, W4A16_ERR_FORMAT, "unknown dtype"},
    {"{" ENTRY("a", "Q4_0", "[1]", 0, 4) "}", 0, 4, W4A16_ERR_FORMAT, "unknown dtype"},
    /* shapes */
    {"{" ENTRY("a", "U8", "[2,-1]", 0, 0) "}", 0, 0, W4A16_ERR_FORMAT,
     "tensor 'a': shape[1] = -1 is negative"},
    {"{" ENTRY("a", "U8", "[2.0]", 0, 2) "}", 0, 2, W4A16_ERR_FORMAT,
     "shape[0] is not an integer"},
    {"{" ENTRY("a", "U8", "[\"2\"]", 0, 2) "}", 0, 2, W4A16_ERR_FORMAT,
     "shape[0] is not an integer"},
    {"{" ENTRY("a", "U8", "[1,1,1,1,1,1,1,1,1]", 0, 1) "}", 0, 1, W4A16_ERR_UNSUPPORTED,
     "has 9 dimensions; at most 8"},
    {"{" ENTRY("a", "U8", "[4294967296,4294967296]", 0, 1) "}", 0, 1, W4A16_ERR_FORMAT,
     "tensor 'a': shape [4294967296, 4294967296] has more elements than 64 bits"},
    {"{" ENTRY("a", "F64", "[4611686018427387904]", 0, 1) "}", 0, 1, W4A16_ERR_FORMAT,
     "needs more bytes than 64 bits can count"},
    /* byte counts that disagree with the shape */
    {"{" ENTRY("a", "F32", "[2,2]", 0, 12) "}", 0, 12, W4A16_ERR_FORMAT,
     "tensor 'a': data_offsets [0, 12) hold 12 bytes, but shape [2, 2] of F32 needs 16"},
    {"{" ENTRY("a", "F32", "[0]", 0, 4) "}", 0, 4, W4A16_ERR_FORMAT, "of F32 needs 0"},
    {"{" ENTRY("a", "F16", "[]", 0, 4) "}", 0, 4, W4A16_ERR_FORMAT, "shape [] of F16 needs 2"},
    {"{" ENTRY("a", "F4", "[3]", 0, 2) "}", 0, 2, W4A16_ERR_FORMAT,
     "shape [3] of F4 holds 12 bits, not a whole number of bytes"},
    {"{" ENTRY("a", "F6_E2M3", "[5]", 0, 4) "}", 0, 4, W4A16_ERR_FORMAT,
     "not a whole number of bytes"},
    /* offsets: reversed, negative, out of range, overflowing */
    {"{" ENTRY("a", "U8", "[0]", 4, 2) "}", 0, 4, W4A16_ERR_FORMAT,
     "data_offsets [4, 2) begin after they end"},
    {"{" ENTRY("a", "U8", "[1]", -1, 0) "}", 0, 4, W4A16_ERR_FORMAT,
     "data_offsets[0] = -1 is negative"},
    {"{" ENTRY("a", "U8", "[4]", 0, 4) "}", 0, 3, W4A16_ERR_FORMAT,
     "data_offsets [0, 4) run past the end of the data (3 bytes)"},
    {"{" ENTRY("a", "U8", "[1]", 9223372036854775806, 9223372036854775807) "}", 0, 3,
     W4A16_ERR_FORMAT, "run past the end of the data"},
    {"{" ENTRY("a", "U8", "[0]", 9223372036854775807, 9223372036854775807) "}", 0, 0,
     W4A16_ERR_FORMAT, "run past the end of the data"},
    /* tiling: gaps, overlaps, bytes left over */
    {"{" ENTRY("a", "U8", "[2]", 0, 2) "," ENTRY("b", "U8", "[2]", 3, 5) "}", 0, 5,
     W4A16_ERR_FORMAT, "tensor 'b': gap of 1 bytes before its data_offsets [3, 5)"},
    {"{" ENTRY("a", "U8", "[2]", 2, 4) "}", 0, 4, W4A16_ERR_FORMAT, "tensor 'a': gap of 2 bytes"},
    {"{" ENTRY("a", "U8", "[4]", 0, 4) "," ENTRY("b", "U8", "[2]", 2, 4) "}", 0, 4,
     W4A16_ERR_FORMAT, "tensor 'b': data_offsets [2, 4) overlap tensor 'a' [0, 4)"},
    {"{" ENTRY("a", "U8", "[4]", 0, 4) "," ENTRY("b", "U8", "[4]", 0, 4) "}", 0, 4,
     W4A16_ERR_FORMAT, "overlap tensor 'a'"},
    {"{" ENTRY("a", "U8", "[4]", 0, 4) "," ENTRY("e", "U8", "[0]", 2, 2) "}", 0, 4,
     W4A16_ERR_FORMAT, "tensor 'e': data_offsets [2, 2) overlap"},
    {"{" ENTRY("a", "U8", "[2]", 0, 2) "}", 0, 3, W4A16_ERR_FORMAT,
     "tensors end at data byte 2 but the file holds 3 bytes of data"},
    {"{}", 0, 1, W4A16_ERR_FORMAT, "the data must end at the end of the file"},
    {"{\"__metadata__\":{}}", 0, 8, W4A16_ERR_FORMAT, "the data must end at the end of the file"},
};

static void test_malformed_corpus(void **state) {
    (void)state;
    for (size_t i = 0; i < sizeof malformed_cases / sizeof malformed_cases[0]; i++) {
        const malformed_case *c = &malformed_cases[i];
        size_t json_bytes = c->json_bytes ? c->json_bytes : strlen(c->json);
        size_t size;
        uint8_t *bytes = raw_file_stated(json_bytes, c->json, json_bytes, c->data_bytes, &size);
        if (c->needle == NULL) {
            w4a16_st_file file;
            assert_int_equal(w4a16_st_parse(bytes, size, &file), W4A16_OK);
            w4a16_st_close(&file);
        } else {
            expect_reject(bytes, size, c->status, c->needle);
        }
        free(bytes);
    }
}

/* Deeply nested JSON must fail cleanly, not exhaust the stack. */
static void test_deep_nesting(void **state) {
    (void)state;
    enum { DEPTH = 200000 };
    char *json = malloc(DEPTH + 8);
    assert_non_null(json);
    strcpy(json, "{\"a\":");
    memset(json + 5, '[', DEPTH);
    json[5 + DEPTH] = '\0';
    expect_reject_json(json, 0, W4A16_ERR_FORMAT, "header is not valid JSON");
    free(json);
}
int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_zero_size_tensors),
        cmocka_unit_test(test_io_errors),
        cmocka_unit_test(test_truncated_everywhere),
        cmocka_unit_test(test_header_length),
        cmocka_unit_test(test_malformed_corpus),
        cmocka_unit_test(test_deep_nesting),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
