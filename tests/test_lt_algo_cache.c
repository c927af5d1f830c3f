/* The fallback's remembered cuBLASLt algorithms (src/gpu/lt_algo_cache.c):
 * a remembered key gives back its algorithm, a key that differs in any one
 * field misses (each field changes the heuristic's answer), a full table
 * replaces its oldest entry, and an empty table answers nothing, not even
 * for the all-zero key its unused entries hold. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "gpu/lt_algo_cache.h"

/* qkv at M = 8192 through one 6144-row chunk, with a bias. */
static w4a16_lt_algo_key base_key(void) {
    const w4a16_lt_algo_key key = {
        .dtype = W4A16_F16,
        .rows = 6144,
        .k = 2560,
        .ldw = 2560,
        .M = 8192,
        .lda = 2560,
        .ldc = 6144,
        .w_align = 256,
        .a_align = 256,
        .c_align = 256,
        .bias_align = 256,
        .workspace_bytes = 32 << 20,
    };
    return key;
}

/* An algorithm whose words all say `tag`, to tell answers apart. */
static w4a16_lt_algo algo_tagged(uint64_t tag) {
    w4a16_lt_algo algo;
    for (int i = 0; i < 8; i++) algo.data[i] = tag * 16 + (uint64_t)i;
    return algo;
}

static void remember_tagged(w4a16_lt_algo_cache *cache, const w4a16_lt_algo_key *key,
                            uint64_t tag) {
    const w4a16_lt_algo algo = algo_tagged(tag);
    w4a16_lt_algo_remember(cache, key, &algo);
}

static void assert_finds(const w4a16_lt_algo_cache *cache, const w4a16_lt_algo_key *key,
                         uint64_t tag) {
    w4a16_lt_algo found = algo_tagged(0);
    assert_int_equal(w4a16_lt_algo_lookup(cache, key, &found), 1);
    const w4a16_lt_algo expected = algo_tagged(tag);
    assert_memory_equal(found.data, expected.data, sizeof expected.data);
}

static void assert_misses(const w4a16_lt_algo_cache *cache, const w4a16_lt_algo_key *key) {
    w4a16_lt_algo untouched = algo_tagged(7);
    assert_int_equal(w4a16_lt_algo_lookup(cache, key, &untouched), 0);
    const w4a16_lt_algo expected = algo_tagged(7);
    assert_memory_equal(untouched.data, expected.data, sizeof expected.data);
}

enum { KEY_FIELDS = 12 };

/* The base key with field `field` (0 .. KEY_FIELDS - 1) changed. */
static w4a16_lt_algo_key key_differing_in(int field) {
    w4a16_lt_algo_key key = base_key();
    switch (field) {
    case 0: key.dtype = W4A16_BF16; break;
    case 1: key.rows = 2048; break;
    case 2: key.k = 2496; break;
    case 3: key.ldw = 2624; break;
    case 4: key.M = 8191; break;
    case 5: key.lda = 2568; break;
    case 6: key.ldc = 6152; break;
    case 7: key.w_align = 128; break;
    case 8: key.a_align = 16; break;
    case 9: key.c_align = 2; break;
    case 10: key.bias_align = 0; break; /* no bias */
    case 11: key.workspace_bytes = 64 << 20; break;
    default: fail_msg("no key field %d", field);
    }
    return key;
}

static void test_empty_table_answers_nothing(void **state) {
    (void)state;
    const w4a16_lt_algo_cache cache = {0};
    const w4a16_lt_algo_key key = base_key();
    const w4a16_lt_algo_key zero_key = {0};
    assert_misses(&cache, &key);
    assert_misses(&cache, &zero_key);
}

static void test_remembered_key_hits(void **state) {
    (void)state;
    w4a16_lt_algo_cache cache = {0};
    const w4a16_lt_algo_key key = base_key();
    remember_tagged(&cache, &key, 1);
    assert_finds(&cache, &key, 1);
    assert_finds(&cache, &key, 1); /* a hit changes nothing */
    assert_int_equal(cache.n_entries, 1);
}

static void test_any_differing_field_misses(void **state) {
    (void)state;
    w4a16_lt_algo_cache cache = {0};
    const w4a16_lt_algo_key key = base_key();
    remember_tagged(&cache, &key, 1);
    for (int field = 0; field < KEY_FIELDS; field++) {
        const w4a16_lt_algo_key other = key_differing_in(field);
        assert_misses(&cache, &other);
    }
    /* Remembered side by side, each key keeps its own answer. */
    for (int field = 0; field < KEY_FIELDS; field++) {
        const w4a16_lt_algo_key other = key_differing_in(field);
        remember_tagged(&cache, &other, 2 + (uint64_t)field);
    }
    assert_finds(&cache, &key, 1);
    for (int field = 0; field < KEY_FIELDS; field++) {
        const w4a16_lt_algo_key other = key_differing_in(field);
        assert_finds(&cache, &other, 2 + (uint64_t)field);
    }
}

/* Keys told apart by M = 1, 2, ...: entry i holds M = i + 1 until replaced. */
static w4a16_lt_algo_key key_at(int64_t M) {
    w4a16_lt_algo_key key = base_key();
    key.M = M;
    return key;
}

static void remember_at(w4a16_lt_algo_cache *cache, int64_t M) {
    const w4a16_lt_algo_key key = key_at(M);
    remember_tagged(cache, &key, (uint64_t)M);
}

static void test_full_table_replaces_round_robin(void **state) {
    (void)state;
    w4a16_lt_algo_cache cache = {0};
    for (int64_t M = 1; M <= W4A16_LT_ALGOS; M++) remember_at(&cache, M);
    assert_int_equal(cache.n_entries, W4A16_LT_ALGOS);
    for (int64_t M = 1; M <= W4A16_LT_ALGOS; M++) {
        const w4a16_lt_algo_key key = key_at(M);
        assert_finds(&cache, &key, (uint64_t)M);
    }
    /* One more replaces the oldest (M = 1), the next one M = 2. */
    remember_at(&cache, W4A16_LT_ALGOS + 1);
    const w4a16_lt_algo_key first = key_at(1), second = key_at(2);
    assert_misses(&cache, &first);
    assert_finds(&cache, &second, 2);
    remember_at(&cache, W4A16_LT_ALGOS + 2);
    assert_misses(&cache, &second);
    for (int64_t M = 3; M <= W4A16_LT_ALGOS + 2; M++) {
        const w4a16_lt_algo_key key = key_at(M);
        assert_finds(&cache, &key, (uint64_t)M);
    }
    assert_int_equal(cache.n_entries, W4A16_LT_ALGOS);
    /* A whole round later, the replacement comes back to the first slot. */
    for (int64_t M = W4A16_LT_ALGOS + 3; M <= 2 * W4A16_LT_ALGOS; M++) remember_at(&cache, M);
    const w4a16_lt_algo_key oldest = key_at(W4A16_LT_ALGOS + 1);
    assert_finds(&cache, &oldest, W4A16_LT_ALGOS + 1);
    remember_at(&cache, 2 * W4A16_LT_ALGOS + 1);
    assert_misses(&cache, &oldest);
    const w4a16_lt_algo_key second_oldest = key_at(W4A16_LT_ALGOS + 2);
    assert_finds(&cache, &second_oldest, W4A16_LT_ALGOS + 2);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_empty_table_answers_nothing),
        cmocka_unit_test(test_remembered_key_hits),
        cmocka_unit_test(test_any_differing_field_misses),
        cmocka_unit_test(test_full_table_replaces_round_robin),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
