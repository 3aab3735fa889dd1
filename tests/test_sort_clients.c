/* sort_clients: the per-client job counts behind --max-jobs-per-client. */
#include "test_util.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>

#include "sort_clients.h"

static sort_client_key_t v4(const char *text) {
  struct sockaddr_in in = {.sin_family = AF_INET, .sin_port = htons(1234)};
  sort_client_key_t k;
  assert_int_equal(inet_pton(AF_INET, text, &in.sin_addr), 1);
  assert_true(sort_client_key((struct sockaddr *)&in, &k));
  return k;
}

static sort_client_key_t v6(const char *text, uint16_t port) {
  struct sockaddr_in6 in6 = {.sin6_family = AF_INET6, .sin6_port = htons(port)};
  sort_client_key_t k;
  assert_int_equal(inet_pton(AF_INET6, text, &in6.sin6_addr), 1);
  assert_true(sort_client_key((struct sockaddr *)&in6, &k));
  return k;
}

static void test_keys_are_the_address_not_the_port(void **state) {
  (void)state;
  sort_client_key_t a = v4("192.0.2.1"), b = v4("192.0.2.1"), c = v4("192.0.2.2");
  assert_memory_equal(&a, &b, sizeof(a));
  assert_memory_not_equal(&a, &c, sizeof(a));
  /* A dual-stack listener sees IPv4 clients as ::ffff:a.b.c.d. */
  sort_client_key_t mapped = v6("::ffff:192.0.2.1", 9);
  assert_memory_equal(&a, &mapped, sizeof(a));
}

static void test_ipv6_counts_by_slash_64(void **state) {
  (void)state;
  sort_client_key_t a = v6("2001:db8:1:2::1", 1), b = v6("2001:db8:1:2:ffff:ffff:ffff:ffff", 2);
  sort_client_key_t other = v6("2001:db8:1:3::1", 1);
  assert_memory_equal(&a, &b, sizeof(a));
  assert_memory_not_equal(&a, &other, sizeof(a));
  /* Loopback too: ::1 and ::2 are one client. */
  sort_client_key_t lo1 = v6("::1", 1), lo2 = v6("::2", 1);
  assert_memory_equal(&lo1, &lo2, sizeof(lo1));
  assert_memory_not_equal(&lo1, &a, sizeof(a));
}

static void test_other_families_have_no_key(void **state) {
  (void)state;
  struct sockaddr sa = {.sa_family = AF_UNIX};
  sort_client_key_t k;
  assert_false(sort_client_key(&sa, &k));
}

static void test_add_count_remove(void **state) {
  (void)state;
  sort_clients_t t;
  sort_client_key_t a = v4("10.0.0.1"), b = v4("10.0.0.2");
  sort_clients_init(&t, 42);
  assert_int_equal(sort_clients_jobs(&t, &a), 0);
  sort_clients_remove(&t, &a);  /* nothing to remove: harmless */
  assert_true(sort_clients_add(&t, &a));
  assert_true(sort_clients_add(&t, &a));
  assert_true(sort_clients_add(&t, &b));
  assert_int_equal(sort_clients_jobs(&t, &a), 2);
  assert_int_equal(sort_clients_jobs(&t, &b), 1);
  assert_int_equal(t.n, 2);
  sort_clients_remove(&t, &a);
  assert_int_equal(sort_clients_jobs(&t, &a), 1);
  sort_clients_remove(&t, &a);
  assert_int_equal(sort_clients_jobs(&t, &a), 0);
  assert_int_equal(t.n, 1);  /* the entry went with its last job */
  sort_clients_remove(&t, &a);
  assert_int_equal(sort_clients_jobs(&t, &b), 1);
  sort_clients_free(&t);
  assert_int_equal(sort_clients_jobs(&t, &b), 0);
  sort_clients_free(&t);  /* twice is fine */
}

static void test_running_counts_stay_within_the_jobs(void **state) {
  (void)state;
  sort_clients_t t;
  sort_client_key_t a = v4("10.0.0.1"), b = v4("10.0.0.2");
  sort_clients_init(&t, 1);
  sort_clients_start(&t, &a);  /* no jobs: nothing to start */
  assert_int_equal(sort_clients_running(&t, &a), 0);
  assert_true(sort_clients_add(&t, &a));
  assert_true(sort_clients_add(&t, &a));
  assert_true(sort_clients_add(&t, &b));
  sort_clients_start(&t, &a);
  sort_clients_start(&t, &a);
  sort_clients_start(&t, &a);  /* only two jobs to run */
  assert_int_equal(sort_clients_running(&t, &a), 2);
  assert_int_equal(sort_clients_running(&t, &b), 0);
  sort_clients_stop(&t, &a, 1);
  sort_clients_remove(&t, &a);
  assert_int_equal(sort_clients_jobs(&t, &a), 1);
  assert_int_equal(sort_clients_running(&t, &a), 1);
  sort_clients_stop(&t, &b, 1);  /* nothing running: harmless */
  assert_int_equal(sort_clients_running(&t, &b), 0);
  sort_clients_stop(&t, &a, 1);
  sort_clients_remove(&t, &a);
  assert_int_equal(t.n, 1);
  /* A new entry in a reused slot starts with nothing running. */
  assert_true(sort_clients_add(&t, &a));
  assert_int_equal(sort_clients_running(&t, &a), 0);
  sort_clients_free(&t);
}

/* Worker time decides whose turn it is, after the jobs on the pool; the
 * clock new entries start at survives the table's growth. */
static void test_worker_time_and_the_clock(void **state) {
  (void)state;
  sort_clients_t t;
  sort_client_key_t hog = v4("10.0.0.1"), other = v4("10.0.0.2"), late = v4("10.0.0.3");
  sort_clients_init(&t, 3);
  assert_true(sort_clients_add(&t, &hog));
  assert_true(sort_clients_add(&t, &hog));
  sort_clients_start(&t, &hog);
  assert_int_equal(t.clock, 0);
  sort_clients_stop(&t, &hog, 10000);
  assert_int_equal(sort_clients_get(&t, &hog)->used, 10000);
  /* A newcomer starts at the clock (0 so far) and goes first. */
  assert_true(sort_clients_add(&t, &other));
  assert_true(sort_clients_before(sort_clients_get(&t, &other), sort_clients_get(&t, &hog)));
  sort_clients_start(&t, &other);
  /* Now one job on the pool: the hog, with none there, goes first. */
  assert_true(sort_clients_before(sort_clients_get(&t, &hog), sort_clients_get(&t, &other)));
  sort_clients_stop(&t, &other, 5);
  assert_true(sort_clients_before(sort_clients_get(&t, &other), sort_clients_get(&t, &hog)));
  /* The hog's turn moves the clock to its time: a client arriving later
   * starts there, not at 0, and is not owed the hog's whole past. */
  sort_clients_start(&t, &hog);
  assert_int_equal(t.clock, 10000);
  for (unsigned i = 0; i < 200; i++) {  /* the table grows several times */
    char text[32];
    snprintf(text, sizeof(text), "10.1.%u.%u", i / 250, i % 250 + 1);
    sort_client_key_t k = v4(text);
    assert_true(sort_clients_add(&t, &k));
  }
  assert_true(t.cap >= 256);
  assert_int_equal(t.clock, 10000);
  assert_true(sort_clients_add(&t, &late));
  assert_int_equal(sort_clients_get(&t, &late)->used, 10000);
  assert_int_equal(sort_clients_get(&t, &hog)->used, 10000);
  assert_int_equal(sort_clients_get(&t, &other)->used, 5);
  /* The time saturates instead of wrapping. */
  sort_clients_stop(&t, &hog, UINT64_MAX);
  assert_int_equal(sort_clients_get(&t, &hog)->used, UINT64_MAX);
  /* A client whose jobs are all over has no entry: it reads as zeros. */
  sort_clients_remove(&t, &hog);
  assert_int_equal(sort_clients_get(&t, &hog)->jobs, 1);
  sort_clients_remove(&t, &hog);
  assert_int_equal(sort_clients_get(&t, &hog)->jobs, 0);
  assert_int_equal(sort_clients_get(&t, &hog)->used, 0);
  sort_clients_free(&t);
}

/* Many clients coming and going in a random order, against a plain array:
 * the counts always agree (this exercises collisions, growth and the
 * backward shift on removal), and the table holds exactly the clients
 * with jobs. */
static void test_random_traffic_matches_a_reference(void **state) {
  (void)state;
  enum { CLIENTS = 3000, STEPS = 200000 };
  static size_t ref[CLIENTS], ref_running[CLIENTS];
  static sort_client_key_t keys[CLIENTS];
  sort_clients_t t;
  unsigned rng = 12345;
  size_t live = 0, peak = 0;
  for (size_t i = 0; i < CLIENTS; i++) {
    char text[32];
    snprintf(text, sizeof(text), "10.%zu.%zu.1", i / 256, i % 256);
    keys[i] = v4(text);
  }
  sort_clients_init(&t, 7);
  for (size_t step = 0; step < STEPS; step++) {
    rng = rng * 1103515245u + 12345u;
    size_t i = (rng >> 8) % CLIENTS;
    /* Adds win a little early on, removes later: the table fills and
     * empties again. */
    bool add = ((rng >> 4) & 7) < (step < STEPS / 2 ? 5u : 3u);
    if (add) {
      assert_true(sort_clients_add(&t, &keys[i]));
      live += ref[i]++ == 0;
      /* Some jobs start running, so that the counts must move with
       * their entries too. */
      if ((rng & 1) && ref_running[i] < ref[i]) {
        sort_clients_start(&t, &keys[i]);
        ref_running[i]++;
      }
    } else {
      if (ref_running[i] > 0) {
        sort_clients_stop(&t, &keys[i], rng & 0xffff);
        ref_running[i]--;
      }
      sort_clients_remove(&t, &keys[i]);
      if (ref[i] > 0)
        live -= --ref[i] == 0;
    }
    peak = live > peak ? live : peak;
    assert_int_equal(t.n, live);
    if (step % 997 == 0) {
      for (size_t j = 0; j < CLIENTS; j++) {
        assert_int_equal(sort_clients_jobs(&t, &keys[j]), ref[j]);
        assert_int_equal(sort_clients_running(&t, &keys[j]), ref_running[j]);
      }
    }
  }
  for (size_t j = 0; j < CLIENTS; j++) {
    assert_int_equal(sort_clients_jobs(&t, &keys[j]), ref[j]);
    assert_int_equal(sort_clients_running(&t, &keys[j]), ref_running[j]);
  }
  /* The table is at most half full and grew only as far as the peak. */
  assert_true(t.cap >= 2 * peak);
  assert_true(t.cap <= 4 * peak || t.cap == 16);
  sort_clients_free(&t);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_keys_are_the_address_not_the_port),
      cmocka_unit_test(test_ipv6_counts_by_slash_64),
      cmocka_unit_test(test_other_families_have_no_key),
      cmocka_unit_test(test_add_count_remove),
      cmocka_unit_test(test_running_counts_stay_within_the_jobs),
      cmocka_unit_test(test_worker_time_and_the_clock),
      cmocka_unit_test(test_random_traffic_matches_a_reference),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
