/* dns_map: the name -> addresses table. */
#include "test_util.h"

#include <errno.h>
#include <stdio.h>

#include "dns_map.h"

/* Wire forms used as lookup keys. */
static const uint8_t w_facebook[] = {8, 'f', 'a', 'c', 'e', 'b', 'o', 'o', 'k',
                                     3, 'c', 'o', 'm', 0};
static const uint8_t w_facebook_upper[] = {8, 'F', 'A', 'C', 'E', 'B', 'O',
                                           'O', 'K', 3, 'C', 'o', 'M', 0};
static const uint8_t w_root[] = {0};

static const uint8_t addr1[4] = {10, 0, 0, 1};
static const uint8_t addr2[4] = {10, 0, 0, 2};
static const uint8_t addr3[4] = {10, 0, 0, 3};
static const uint8_t addr6[16] = {0x20, 0x01, 0x0d, 0xb8, [15] = 1};

/* Each test gets a fresh empty map in *state. */
static int map_setup(void **state) {
  *state = dns_map_new();
  return *state == NULL ? -1 : 0;
}

static int map_teardown(void **state) {
  dns_map_free(*state);
  return 0;
}

/* "a.b" -> 1a1b0; enough for the names these tests make. */
static size_t to_wire(const char *name, uint8_t *out) {
  size_t pos = 0;
  while (*name != '\0') {
    size_t len = strcspn(name, ".");
    out[pos++] = (uint8_t)len;
    memcpy(out + pos, name, len);
    pos += len;
    name += len;
    if (*name == '.')
      name++;
  }
  out[pos++] = 0;
  return pos;
}

static void test_empty_map_finds_nothing(void **state) {
  dns_map_t *map = *state;

  assert_int_equal(dns_map_size(map), 0);
  assert_null(dns_map_lookup(map, w_facebook, sizeof(w_facebook)));
  assert_null(dns_map_lookup(map, w_root, sizeof(w_root)));
}

static void test_default_map_holds_the_seed_names(void **state) {
  dns_map_t *map = dns_map_new_default();
  uint8_t wire[64];
  const dns_map_entry_t *e;
  (void)state;

  assert_non_null(map);
  assert_int_equal(dns_map_size(map), 3);

  e = dns_map_lookup(map, w_facebook, sizeof(w_facebook));
  assert_non_null(e);
  assert_int_equal(e->n_a, 1);
  assert_memory_equal(e->a[0], ((uint8_t[]){173, 252, 120, 6}), 4);
  assert_int_equal(e->n_aaaa, 0);

  e = dns_map_lookup(map, wire, to_wire("yougov.com", wire));
  assert_non_null(e);
  assert_memory_equal(e->a[0], ((uint8_t[]){213, 52, 133, 246}), 4);

  e = dns_map_lookup(map, wire, to_wire("wipo.int", wire));
  assert_non_null(e);
  assert_memory_equal(e->a[0], ((uint8_t[]){193, 5, 93, 80}), 4);

  dns_map_free(map);
}

static void test_lookup_is_case_insensitive(void **state) {
  dns_map_t *map = *state;
  const dns_map_entry_t *e;

  assert_int_equal(dns_map_add(map, "FaceBook.COM", 4, addr1), 0);
  e = dns_map_lookup(map, w_facebook, sizeof(w_facebook));
  assert_non_null(e);
  assert_ptr_equal(dns_map_lookup(map, w_facebook_upper,
                                  sizeof(w_facebook_upper)),
                   e);
  /* Another spelling adds to the same name. Look it up again: an add may
   * move what an earlier lookup returned. */
  assert_int_equal(dns_map_add(map, "facebook.com", 4, addr2), 0);
  assert_int_equal(dns_map_size(map), 1);
  e = dns_map_lookup(map, w_facebook_upper, sizeof(w_facebook_upper));
  assert_non_null(e);
  assert_int_equal(e->n_a, 2);
}

static void test_find_takes_a_dotted_name(void **state) {
  dns_map_t *map = *state;

  assert_int_equal(dns_map_add(map, "facebook.com", 4, addr1), 0);
  assert_int_equal(dns_map_add(map, "*.example.com", 4, addr2), 0);
  const dns_map_entry_t *e = dns_map_lookup(map, w_facebook, sizeof(w_facebook));
  assert_non_null(e);
  assert_ptr_equal(dns_map_find(map, "FACEBOOK.com."), e);
  assert_ptr_equal(dns_map_find(map, "facebook.com"), e);
  /* The wildcard by its own name only; no match below it. */
  assert_non_null(dns_map_find(map, "*.example.com"));
  assert_null(dns_map_find(map, "a.example.com"));
  assert_null(dns_map_find(map, "yougov.com"));
  assert_null(dns_map_find(map, "a..b"));
  assert_null(dns_map_find(map, NULL));
  assert_null(dns_map_find(NULL, "facebook.com"));
}

static void test_only_ascii_letters_fold(void **state) {
  dns_map_t *map = *state;
  const uint8_t w_lower[] = {1, 0xe4, 0};
  const uint8_t w_upper[] = {1, 0xc4, 0}; /* Latin-1 a/A umlaut */

  assert_int_equal(dns_map_add(map, "\xe4", 4, addr1), 0);
  assert_non_null(dns_map_lookup(map, w_lower, sizeof(w_lower)));
  assert_null(dns_map_lookup(map, w_upper, sizeof(w_upper)));
}

static void test_trailing_dot_names_the_same_entry(void **state) {
  dns_map_t *map = *state;
  const dns_map_entry_t *e;

  assert_int_equal(dns_map_add(map, "facebook.com.", 4, addr1), 0);
  assert_int_equal(dns_map_add(map, "facebook.com", 4, addr2), 0);
  assert_int_equal(dns_map_size(map), 1);
  e = dns_map_lookup(map, w_facebook, sizeof(w_facebook));
  assert_non_null(e);
  assert_int_equal(e->n_a, 2);
}

static void test_addresses_keep_insertion_order(void **state) {
  dns_map_t *map = *state;
  const dns_map_entry_t *e;

  assert_int_equal(dns_map_add(map, "facebook.com", 4, addr3), 0);
  assert_int_equal(dns_map_add(map, "facebook.com", 6, addr6), 0);
  assert_int_equal(dns_map_add(map, "facebook.com", 4, addr1), 0);
  assert_int_equal(dns_map_add(map, "facebook.com", 4, addr2), 0);
  e = dns_map_lookup(map, w_facebook, sizeof(w_facebook));
  assert_non_null(e);
  assert_int_equal(e->n_a, 3);
  assert_memory_equal(e->a[0], addr3, 4);
  assert_memory_equal(e->a[1], addr1, 4);
  assert_memory_equal(e->a[2], addr2, 4);
  assert_int_equal(e->n_aaaa, 1);
  assert_memory_equal(e->aaaa[0], addr6, 16);
}

static void test_name_with_only_aaaa_has_no_a(void **state) {
  dns_map_t *map = *state;
  const dns_map_entry_t *e;

  assert_int_equal(dns_map_add(map, "facebook.com", 6, addr6), 0);
  e = dns_map_lookup(map, w_facebook, sizeof(w_facebook));
  assert_non_null(e);
  assert_int_equal(e->n_a, 0);
  assert_int_equal(e->n_aaaa, 1);
}

static void test_ten_thousand_names_are_all_found(void **state) {
  dns_map_t *map = *state;
  char name[32];
  uint8_t wire[40];
  enum { N = 10000 };

  for (unsigned i = 0; i < N; i++) {
    uint8_t a[4] = {10, (uint8_t)(i >> 16), (uint8_t)(i >> 8), (uint8_t)i};
    snprintf(name, sizeof(name), "host%u.example", i);
    assert_int_equal(dns_map_add(map, name, 4, a), 0);
  }
  assert_int_equal(dns_map_size(map), N);
  for (unsigned i = 0; i < N; i++) {
    uint8_t a[4] = {10, (uint8_t)(i >> 16), (uint8_t)(i >> 8), (uint8_t)i};
    snprintf(name, sizeof(name), "HOST%u.example", i);
    const dns_map_entry_t *e = dns_map_lookup(map, wire, to_wire(name, wire));
    assert_non_null(e);
    assert_int_equal(e->n_a, 1);
    assert_memory_equal(e->a[0], a, 4);
  }
  assert_null(dns_map_lookup(map, wire, to_wire("host10000.example", wire)));
}

static void test_invalid_names_are_rejected(void **state) {
  dns_map_t *map = *state;
  static const char *const bad[] = {
      "", ".", "..", "a..b", ".a", "a.b..", "..a.", "a..",
  };
  char label64[80], long_name[300];

  for (size_t i = 0; i < ARRAY_LEN(bad); i++)
    assert_int_equal(dns_map_add(map, bad[i], 4, addr1), -EINVAL);

  memset(label64, 'x', 64);
  strcpy(label64 + 64, ".com");
  assert_int_equal(dns_map_add(map, label64, 4, addr1), -EINVAL);
  /* Drop one x: a 63-octet label is fine. */
  assert_int_equal(dns_map_add(map, label64 + 1, 4, addr1), 0);

  /* 4 labels of 63 with dots: 255 dotted chars, 257 wire octets. */
  memset(long_name, 'y', 255);
  long_name[63] = long_name[127] = long_name[191] = '.';
  long_name[255] = '\0';
  assert_int_equal(dns_map_add(map, long_name, 4, addr1), -EINVAL);

  assert_int_equal(dns_map_add(map, "ok.example", 5, addr1), -EINVAL);
  assert_int_equal(dns_map_add(map, NULL, 4, addr1), -EINVAL);
  assert_int_equal(dns_map_add(map, "ok.example", 4, NULL), -EINVAL);
  assert_int_equal(dns_map_add(NULL, "ok.example", 4, addr1), -EINVAL);
  assert_int_equal(dns_map_size(map), 1);
}

static void test_name_of_255_wire_octets_is_accepted(void **state) {
  dns_map_t *map = *state;
  char name[300];
  uint8_t wire[300];

  /* Labels 63, 63, 63, 61: 64 * 3 + 62 + the root = 255 octets. */
  memset(name, 'z', 253);
  name[63] = name[127] = name[191] = '.';
  name[253] = '\0';
  assert_int_equal(dns_map_add(map, name, 4, addr1), 0);
  size_t len = to_wire(name, wire);
  assert_int_equal(len, 255);
  assert_non_null(dns_map_lookup(map, wire, len));
  /* The same with the trailing dot. */
  strcat(name, ".");
  assert_int_equal(dns_map_add(map, name, 4, addr2), 0);
  assert_int_equal(dns_map_size(map), 1);
  /* One more octet is too many. */
  strcpy(name + 253, "z");
  assert_int_equal(dns_map_add(map, name, 4, addr1), -EINVAL);
}

static void test_absent_names_are_not_found(void **state) {
  dns_map_t *map = *state;
  uint8_t wire[64];

  assert_int_equal(dns_map_add(map, "facebook.com", 4, addr1), 0);
  assert_null(dns_map_lookup(map, wire, to_wire("com", wire)));
  assert_null(dns_map_lookup(map, wire, to_wire("www.facebook.com", wire)));
  assert_null(dns_map_lookup(map, wire, to_wire("facebook.co", wire)));
  assert_null(dns_map_lookup(map, w_root, sizeof(w_root)));
  /* Without its root octet the name is a different key. */
  assert_null(dns_map_lookup(map, w_facebook, sizeof(w_facebook) - 1));
  assert_null(dns_map_lookup(map, w_facebook, 0));
  assert_null(dns_map_lookup(map, w_facebook, 256));
}


static void test_same_address_twice_is_kept_once(void **state) {
  dns_map_t *map = *state;
  const dns_map_entry_t *e;

  assert_int_equal(dns_map_add(map, "facebook.com", 4, addr1), 0);
  assert_int_equal(dns_map_add(map, "facebook.com", 4, addr2), 0);
  assert_int_equal(dns_map_add(map, "FACEBOOK.com.", 4, addr1), 0);
  assert_int_equal(dns_map_add(map, "facebook.com", 6, addr6), 0);
  assert_int_equal(dns_map_add(map, "facebook.com", 6, addr6), 0);
  e = dns_map_lookup(map, w_facebook, sizeof(w_facebook));
  assert_non_null(e);
  /* The first occurrence keeps its place. */
  assert_int_equal(e->n_a, 2);
  assert_memory_equal(e->a[0], addr1, 4);
  assert_memory_equal(e->a[1], addr2, 4);
  assert_int_equal(e->n_aaaa, 1);
}

static void test_same_bytes_in_the_other_family_are_not_a_duplicate(
    void **state) {
  dns_map_t *map = *state;
  uint8_t v6_prefix_of_addr1[16] = {10, 0, 0, 1};
  const dns_map_entry_t *e;

  assert_int_equal(dns_map_add(map, "facebook.com", 4, addr1), 0);
  assert_int_equal(dns_map_add(map, "facebook.com", 6, v6_prefix_of_addr1), 0);
  e = dns_map_lookup(map, w_facebook, sizeof(w_facebook));
  assert_int_equal(e->n_a, 1);
  assert_int_equal(e->n_aaaa, 1);
}

static void test_a_name_holds_at_most_the_address_bound(void **state) {
  dns_map_t *map = *state;
  const dns_map_entry_t *e;

  /* Half of each family: the bound counts both together. */
  for (unsigned i = 0; i < DNS_MAP_MAX_ADDRS / 2; i++) {
    uint8_t a[4] = {10, 0, (uint8_t)(i >> 8), (uint8_t)i};
    uint8_t a6[16] = {0x20, 0x01, [14] = (uint8_t)(i >> 8), [15] = (uint8_t)i};
    assert_int_equal(dns_map_add(map, "full.example", 4, a), 0);
    assert_int_equal(dns_map_add(map, "full.example", 6, a6), 0);
  }
  assert_int_equal(
      dns_map_add(map, "full.example", 4, (uint8_t[]){10, 9, 9, 9}), -E2BIG);
  assert_int_equal(dns_map_add(map, "full.example", 6, addr6), -E2BIG);
  /* Adding what it already holds still succeeds and changes nothing. */
  assert_int_equal(
      dns_map_add(map, "full.example", 4, (uint8_t[]){10, 0, 0, 7}), 0);

  e = dns_map_at(map, 0);
  assert_non_null(e);
  assert_int_equal(e->n_a + e->n_aaaa, DNS_MAP_MAX_ADDRS);
  /* The bound is per name. */
  assert_int_equal(dns_map_add(map, "other.example", 4, addr1), 0);
}

static void test_names_are_walked_in_insertion_order(void **state) {
  dns_map_t *map = *state;
  char name[32];
  uint8_t wire[40];
  enum { N = 100 }; /* enough to grow both tables several times */

  for (unsigned i = 0; i < N; i++) {
    snprintf(name, sizeof(name), "n%u.example", i);
    assert_int_equal(dns_map_add(map, name, 4, addr1), 0);
  }
  assert_int_equal(dns_map_add(map, "n3.example", 4, addr2), 0);
  for (unsigned i = 0; i < N; i++) {
    const dns_map_entry_t *e = dns_map_at(map, i);
    snprintf(name, sizeof(name), "n%u.example", i);
    size_t len = to_wire(name, wire);
    assert_non_null(e);
    assert_int_equal(e->index, i);
    assert_int_equal(e->name_len, len);
    assert_memory_equal(e->name, wire, len);
    assert_ptr_equal(dns_map_lookup(map, wire, len), e);
    assert_int_equal(e->n_a, i == 3 ? 2 : 1);
  }
  assert_null(dns_map_at(map, N));
  assert_null(dns_map_at(NULL, 0));
}

static void test_entry_name_is_the_lower_cased_wire_name(void **state) {
  dns_map_t *map = *state;
  const dns_map_entry_t *e;

  assert_int_equal(dns_map_add(map, "FaceBook.COM.", 4, addr1), 0);
  e = dns_map_lookup(map, w_facebook_upper, sizeof(w_facebook_upper));
  assert_non_null(e);
  assert_int_equal(e->name_len, sizeof(w_facebook));
  assert_memory_equal(e->name, w_facebook, sizeof(w_facebook));
}

static void test_wildcard_is_stored_with_a_literal_star_label(void **state) {
  dns_map_t *map = *state;
  /* 1* 7example 3com 0 */
  const uint8_t w_star[] = {1, '*', 7, 'e', 'x', 'a', 'm', 'p', 'l', 'e',
                            3, 'c', 'o', 'm', 0};
  const uint8_t w_base_upper[] = {7, 'E', 'x', 'A', 'm', 'P', 'l', 'E',
                                  3, 'C', 'O', 'M', 0};
  const dns_map_entry_t *e;

  assert_int_equal(dns_map_add(map, "*.Example.com", 4, addr1), 0);
  assert_int_equal(dns_map_add(map, "example.com", 4, addr2), 0);
  e = dns_map_lookup(map, w_star, sizeof(w_star));
  assert_non_null(e);
  assert_true(dns_map_entry_is_wildcard(e));
  assert_memory_equal(e->name, w_star, sizeof(w_star));
  assert_memory_equal(e->a[0], addr1, 4);
  /* Found from its base without building the key, in any case. */
  assert_ptr_equal(dns_map_lookup_wildcard(map, w_base_upper,
                                           sizeof(w_base_upper)),
                   e);
  /* The base itself is another, ordinary name. */
  e = dns_map_lookup(map, w_star + 2, sizeof(w_star) - 2);
  assert_non_null(e);
  assert_false(dns_map_entry_is_wildcard(e));
  assert_memory_equal(e->a[0], addr2, 4);
}

static void test_wildcard_lookup_finds_only_wildcards(void **state) {
  dns_map_t *map = *state;
  uint8_t wire[64];
  size_t len;

  assert_int_equal(dns_map_add(map, "*.example.com", 4, addr1), 0);
  assert_int_equal(dns_map_add(map, "www.example.com", 4, addr2), 0);
  /* No "*.www.example.com", no "*.com". */
  len = to_wire("www.example.com", wire);
  assert_null(dns_map_lookup_wildcard(map, wire, len));
  len = to_wire("com", wire);
  assert_null(dns_map_lookup_wildcard(map, wire, len));
  assert_null(dns_map_lookup_wildcard(map, w_root, sizeof(w_root)));
  /* An exact lookup of a name below the wildcard does not expand it. */
  len = to_wire("other.example.com", wire);
  assert_null(dns_map_lookup(map, wire, len));
  /* Degenerate arguments. */
  len = to_wire("example.com", wire);
  assert_null(dns_map_lookup_wildcard(NULL, wire, len));
  assert_null(dns_map_lookup_wildcard(map, NULL, len));
  assert_null(dns_map_lookup_wildcard(map, wire, 0));
  /* A 254-octet base would make a 256-octet key. */
  assert_null(dns_map_lookup_wildcard(map, wire, 254));
  assert_false(dns_map_entry_is_wildcard(NULL));
}

static void test_star_alone_is_the_wildcard_below_the_root(void **state) {
  dns_map_t *map = *state;
  const dns_map_entry_t *e;

  assert_int_equal(dns_map_add(map, "*", 4, addr1), 0);
  assert_int_equal(dns_map_add(map, "*.", 4, addr2), 0);
  assert_int_equal(dns_map_size(map), 1);
  e = dns_map_lookup_wildcard(map, w_root, sizeof(w_root));
  assert_non_null(e);
  assert_true(dns_map_entry_is_wildcard(e));
  assert_int_equal(e->n_a, 2);
}

static void test_star_anywhere_but_the_whole_first_label_is_invalid(
    void **state) {
  dns_map_t *map = *state;
  static const char *const bad[] = {
      "a.*.example.com", "example.*", "*a.example.com", "a*.example.com",
      "**.example.com",  "*.*.com",   "a.b*c.com",
  };

  for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
    assert_int_equal(dns_map_check_name(bad[i]), DNS_MAP_NAME_BAD_WILDCARD);
    assert_int_equal(dns_map_add(map, bad[i], 4, addr1), -EINVAL);
  }
  assert_int_equal(dns_map_size(map), 0);
  assert_int_equal(dns_map_check_name("*.example.com"), DNS_MAP_NAME_OK);
  assert_int_equal(dns_map_check_name("*.example.com."), DNS_MAP_NAME_OK);
}

static void test_check_name_says_what_is_wrong(void **state) {
  char label64[80], long_name[300];
  (void)state;

  memset(label64, 'x', 64);
  strcpy(label64 + 64, ".com");
  memset(long_name, 'y', 255);
  long_name[63] = long_name[127] = long_name[191] = '.';
  long_name[255] = '\0';

  assert_int_equal(dns_map_check_name("www.example.com"), DNS_MAP_NAME_OK);
  assert_int_equal(dns_map_check_name(""), DNS_MAP_NAME_EMPTY);
  assert_int_equal(dns_map_check_name("."), DNS_MAP_NAME_EMPTY);
  assert_int_equal(dns_map_check_name(NULL), DNS_MAP_NAME_EMPTY);
  assert_int_equal(dns_map_check_name("a..b"), DNS_MAP_NAME_EMPTY_LABEL);
  assert_int_equal(dns_map_check_name(".a"), DNS_MAP_NAME_EMPTY_LABEL);
  assert_int_equal(dns_map_check_name(label64), DNS_MAP_NAME_LABEL_TOO_LONG);
  assert_int_equal(dns_map_check_name(long_name), DNS_MAP_NAME_TOO_LONG);

  assert_string_equal(dns_map_name_strerror(DNS_MAP_NAME_EMPTY_LABEL),
                      "empty label");
  assert_string_equal(dns_map_name_strerror(DNS_MAP_NAME_LABEL_TOO_LONG),
                      "label longer than 63 octets");
  assert_string_equal(dns_map_name_strerror(DNS_MAP_NAME_TOO_LONG),
                      "name longer than 255 octets");
  assert_string_equal(dns_map_name_strerror(DNS_MAP_NAME_BAD_WILDCARD),
                      "'*' is allowed only as the whole first label");
  assert_non_null(dns_map_name_strerror((dns_map_name_status_t)99));
}

/* The tests that start from an empty map in *state. */
#define MAP_TEST(f) cmocka_unit_test_setup_teardown(f, map_setup, map_teardown)

int main(void) {
  const struct CMUnitTest tests[] = {
      MAP_TEST(test_empty_map_finds_nothing),
      cmocka_unit_test(test_default_map_holds_the_seed_names),
      MAP_TEST(test_lookup_is_case_insensitive),
      MAP_TEST(test_find_takes_a_dotted_name),
      MAP_TEST(test_only_ascii_letters_fold),
      MAP_TEST(test_trailing_dot_names_the_same_entry),
      MAP_TEST(test_addresses_keep_insertion_order),
      MAP_TEST(test_name_with_only_aaaa_has_no_a),
      MAP_TEST(test_ten_thousand_names_are_all_found),
      MAP_TEST(test_invalid_names_are_rejected),
      MAP_TEST(test_name_of_255_wire_octets_is_accepted),
      MAP_TEST(test_absent_names_are_not_found),
      MAP_TEST(test_same_address_twice_is_kept_once),
      MAP_TEST(test_same_bytes_in_the_other_family_are_not_a_duplicate),
      MAP_TEST(test_a_name_holds_at_most_the_address_bound),
      MAP_TEST(test_names_are_walked_in_insertion_order),
      MAP_TEST(test_entry_name_is_the_lower_cased_wire_name),
      MAP_TEST(test_wildcard_is_stored_with_a_literal_star_label),
      MAP_TEST(test_wildcard_lookup_finds_only_wildcards),
      MAP_TEST(test_star_alone_is_the_wildcard_below_the_root),
      MAP_TEST(test_star_anywhere_but_the_whole_first_label_is_invalid),
      cmocka_unit_test(test_check_name_says_what_is_wrong),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
