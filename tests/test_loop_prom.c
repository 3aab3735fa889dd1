/* Unit tests for the Prometheus text format renderer (loop_prom). */
#include "test_util.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "loop_prom.h"

#define BIG (1024 * 1024)

static void test_counter_family_with_help_type_and_labels(void **state) {
  (void)state;
  loop_prom_t p;
  loop_prom_init(&p, BIG);
  loop_prom_family(&p, "dnsort_x_total", LOOP_PROM_COUNTER, "Things seen.");
  loop_prom_label_t l[] = {{"proto", "udp"}, {"rcode", "NOERROR"}};
  loop_prom_u64(&p, "dnsort_x_total", l, 2, 18446744073709551615ull);
  loop_prom_u64(&p, "dnsort_x_total", NULL, 0, 0);
  assert_false(p.failed);
  assert_string_equal(p.data,
                      "# HELP dnsort_x_total Things seen.\n"
                      "# TYPE dnsort_x_total counter\n"
                      "dnsort_x_total{proto=\"udp\",rcode=\"NOERROR\"} 18446744073709551615\n"
                      "dnsort_x_total 0\n");
  assert_int_equal(p.len, strlen(p.data));
  loop_prom_free(&p);
}

static void test_label_values_and_help_are_escaped(void **state) {
  (void)state;
  loop_prom_t p;
  loop_prom_init(&p, BIG);
  /* Label values: backslash, double quote and line feed; HELP: backslash
   * and line feed only (a quote stays). */
  loop_prom_family(&p, "g", LOOP_PROM_GAUGE, "a \\ b\nc \"d\"");
  loop_prom_label_t l = {"v", "x\"y\\z\nw"};
  loop_prom_u64(&p, "g", &l, 1, 7);
  assert_string_equal(p.data,
                      "# HELP g a \\\\ b\\nc \"d\"\n"
                      "# TYPE g gauge\n"
                      "g{v=\"x\\\"y\\\\z\\nw\"} 7\n");
  loop_prom_free(&p);
}

static void test_histogram_is_cumulative_with_inf_sum_and_count(void **state) {
  (void)state;
  static const uint64_t bounds[] = {1000000, 250000000, 1000000000};
  uint64_t counts[] = {2, 0, 1, 3}; /* 3 above every bound */
  loop_prom_hist_t h = {.bounds = bounds, .n_bounds = 3, .counts = counts,
                        .sum = 7500000000ull, .per_unit = 1e9};
  loop_prom_t p;
  loop_prom_init(&p, BIG);
  loop_prom_family(&p, "d_seconds", LOOP_PROM_HISTOGRAM, "Durations.");
  loop_prom_histogram(&p, "d_seconds", NULL, 0, &h);
  assert_string_equal(p.data,
                      "# HELP d_seconds Durations.\n"
                      "# TYPE d_seconds histogram\n"
                      "d_seconds_bucket{le=\"0.001\"} 2\n"
                      "d_seconds_bucket{le=\"0.25\"} 2\n"
                      "d_seconds_bucket{le=\"1\"} 3\n"
                      "d_seconds_bucket{le=\"+Inf\"} 6\n"
                      "d_seconds_sum 7.5\n"
                      "d_seconds_count 6\n");
  loop_prom_free(&p);
}

static void test_histogram_le_comes_after_other_labels(void **state) {
  (void)state;
  static const uint64_t bounds[] = {64};
  uint64_t counts[] = {1, 1};
  loop_prom_hist_t h = {.bounds = bounds, .n_bounds = 1, .counts = counts, .sum = 100,
                        .per_unit = 1.0};
  loop_prom_t p;
  loop_prom_init(&p, BIG);
  loop_prom_label_t l = {"proto", "tcp"};
  loop_prom_histogram(&p, "s_bytes", &l, 1, &h);
  assert_string_equal(p.data,
                      "s_bytes_bucket{proto=\"tcp\",le=\"64\"} 1\n"
                      "s_bytes_bucket{proto=\"tcp\",le=\"+Inf\"} 2\n"
                      "s_bytes_sum{proto=\"tcp\"} 100\n"
                      "s_bytes_count{proto=\"tcp\"} 2\n");
  loop_prom_free(&p);
}

static void test_doubles_are_shortest_round_trip(void **state) {
  (void)state;
  const struct {
    double v;
    const char *text;
  } cases[] = {
      {0.0, "0"},       {1.0, "1"},           {0.1, "0.1"},
      {0.25, "0.25"},   {1e-9, "1e-09"},      {2.5, "2.5"},
      {123456.789, "123456.789"},             {5e-324, "5e-324"},
      {1.7976931348623157e308, "1.7976931348623157e+308"},
      {-3.0, "-3"},     {INFINITY, "+Inf"},   {-INFINITY, "-Inf"},
      {NAN, "NaN"},     {1.0 / 3.0, "0.3333333333333333"},
  };
  for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
    char out[LOOP_PROM_DOUBLE_MAX];
    size_t n = loop_prom_format_double(cases[i].v, out);
    assert_string_equal(out, cases[i].text);
    assert_int_equal(n, strlen(cases[i].text));
    if (isfinite(cases[i].v))
      assert_true(strtod(out, NULL) == cases[i].v);
  }
}

static void test_buffer_never_grows_past_its_bound(void **state) {
  (void)state;
  loop_prom_t p;
  loop_prom_init(&p, 64);
  for (int i = 0; i < 10; i++)
    loop_prom_u64(&p, "some_metric_name", NULL, 0, 1234567);
  assert_true(p.failed);
  assert_true(p.len < 64);
  assert_true(p.cap <= 64);
  loop_prom_free(&p);

  /* Exactly at the bound (63 bytes and the NUL) still fits. */
  loop_prom_init(&p, 64);
  char name[61];
  memset(name, 'a', 60);
  name[60] = '\0';
  loop_prom_u64(&p, name, NULL, 0, 1); /* 60 + " 1\n" = 63 */
  assert_false(p.failed);
  assert_int_equal(p.len, 63);
  loop_prom_u64(&p, "b", NULL, 0, 1);
  assert_true(p.failed);
  assert_int_equal(p.len, 63);
  loop_prom_free(&p);
}

static void test_statm_is_parsed_in_pages(void **state) {
  (void)state;
  uint64_t vsz = 0, rss = 0;
  assert_int_equal(loop_prom_parse_statm("2560 300 200 30 0 400 0\n", 4096, &vsz, &rss), 0);
  assert_int_equal(vsz, 2560ull * 4096);
  assert_int_equal(rss, 300ull * 4096);
  assert_int_equal(loop_prom_parse_statm("", 4096, &vsz, &rss), -1);
  assert_int_equal(loop_prom_parse_statm("12", 4096, &vsz, &rss), -1);
  assert_int_equal(loop_prom_parse_statm("12 x", 4096, &vsz, &rss), -1);
  assert_int_equal(loop_prom_parse_statm("12x 3", 4096, &vsz, &rss), -1);
}

static void test_http_code_index(void **state) {
  (void)state;
  for (size_t i = 0; i < LOOP_PROM_N_HTTP_CODES; i++)
    assert_int_equal(loop_prom_http_code_index(loop_prom_http_codes[i]), (int)i);
  assert_int_equal(loop_prom_http_code_index(302), -1);
}

/* ---- the whole dnsortd rendering ---- */

static const uint64_t size_bounds[] = {16, 64};
static uint64_t size_counts[] = {1, 2, 3};
static const uint64_t dur_bounds[] = {1000000};
static uint64_t dur_counts[] = {4, 1};

static void fill(loop_prom_snapshot_t *s) {
  memset(s, 0, sizeof(*s));
  s->udp_stats.replies[DNS_STATS_QTYPE_A][DNS_STATS_RCODE_NOERROR] = 11;
  s->tcp_stats.replies[DNS_STATS_QTYPE_AAAA][DNS_STATS_RCODE_NXDOMAIN] = 3;
  s->udp_stats.truncated = 2;
  s->udp_received = 13;
  s->tcp_queries = 3;
  s->udp_dropped_invalid = 5;
  s->tcp_open = 1;
  s->reloads_ok = 2;
  s->reloads_failed = 1;
  s->zone_names = 3;
  s->sort_ok = 7;
  s->sort_too_large = 1;
  s->sort_queued = 2;
  s->sort_running = 1;
  s->sort_request_bytes = (loop_prom_hist_t){size_bounds, 2, size_counts, 400, 1.0};
  s->sort_duration = (loop_prom_hist_t){dur_bounds, 1, dur_counts, 3000000, 1e9};
  s->http_responses[0] = 9;
  s->have_memory = true;
  s->rss_bytes = 4096000;
  s->cpu_user_seconds = 1.5;
  s->cpu_system_seconds = 0.25;
  s->start_time_seconds = 1700000000.5;
  s->zone_loaded_seconds = 1700000100.25;
  s->have_fds = true;
  s->open_fds = 12;
  s->max_fds = 1024;
  dns_hist_observe(&s->udp_duration, 40, 3);    /* 50 us bucket */
  dns_hist_observe(&s->udp_duration, 700, 1);   /* 1 ms bucket */
  dns_hist_observe(&s->tcp_duration, 9000000, 2); /* past 5 s */
  s->version = "0.1.0";
  s->libuv_version = "1.44.2";
  s->udp_refused_acl = 21;
  s->tcp_refused_acl = 22;
  s->dns_tcp_denied = 23;
  s->sort_denied = 24;
  s->rrl_dropped = 25;
  s->rrl_slipped = 26;
}

static bool has_line(const char *text, const char *line) {
  size_t n = strlen(line);
  for (const char *p = text; (p = strstr(p, line)) != NULL; p++) {
    if ((p == text || p[-1] == '\n') && p[n] == '\n')
      return true;
  }
  return false;
}

/* Every sample belongs to a family declared (HELP then TYPE) before it,
 * each family is declared once, and each line ends in a number. */
static void check_well_formed(const char *text) {
  char declared[128][80];
  size_t n_declared = 0;
  const char *line = text;
  while (*line != '\0') {
    const char *end = strchr(line, '\n');
    assert_non_null(end);
    char buf[512];
    size_t len = (size_t)(end - line);
    assert_true(len < sizeof(buf));
    memcpy(buf, line, len);
    buf[len] = '\0';
    if (strncmp(buf, "# HELP ", 7) == 0) {
      char name[80];
      assert_int_equal(sscanf(buf + 7, "%79s", name), 1);
      for (size_t i = 0; i < n_declared; i++)
        assert_string_not_equal(declared[i], name);
      assert_true(n_declared < 128);
      strcpy(declared[n_declared++], name);
      /* The TYPE line follows at once. */
      char expect[100];
      snprintf(expect, sizeof(expect), "# TYPE %s ", name);
      assert_memory_equal(end + 1, expect, strlen(expect));
    } else if (buf[0] != '#') {
      size_t name_len = strcspn(buf, "{ ");
      bool found = false;
      for (size_t i = 0; i < n_declared && !found; i++) {
        size_t d = strlen(declared[i]);
        found = strncmp(buf, declared[i], d) == 0 &&
                (name_len == d || strcmp(buf + d, "_bucket") == 0 ||
                 strncmp(buf + d, "_bucket{", 8) == 0 || strncmp(buf + d, "_sum", 4) == 0 ||
                 strncmp(buf + d, "_count", 6) == 0);
      }
      if (!found)
        fail_msg("sample without a family: %s", buf);
      const char *value = strrchr(buf, ' ');
      assert_non_null(value);
      char *num_end;
      strtod(value + 1, &num_end);
      if (*num_end != '\0' && strcmp(value + 1, "+Inf") != 0)
        fail_msg("not a number: %s", buf);
    }
    line = end + 1;
  }
}

static void test_dnsort_families(void **state) {
  (void)state;
  loop_prom_snapshot_t s;
  fill(&s);
  loop_prom_t p;
  loop_prom_init(&p, BIG);
  loop_prom_dnsort(&p, &s);
  assert_false(p.failed);
  check_well_formed(p.data);
  const char *expect[] = {
      "dnsort_dns_queries_total{proto=\"udp\"} 13",
      "dnsort_dns_queries_total{proto=\"tcp\"} 3",
      "dnsort_dns_responses_total{proto=\"udp\",qtype=\"A\",rcode=\"NOERROR\"} 11",
      "dnsort_dns_responses_total{proto=\"udp\",qtype=\"A\",rcode=\"SERVFAIL\"} 0",
      "dnsort_dns_responses_total{proto=\"tcp\",qtype=\"AAAA\",rcode=\"NXDOMAIN\"} 3",
      "dnsort_dns_responses_total{proto=\"tcp\",qtype=\"none\",rcode=\"FORMERR\"} 0",
      "dnsort_dns_truncated_responses_total{proto=\"udp\"} 2",
      "dnsort_dns_dropped_total{proto=\"udp\",reason=\"invalid\"} 5",
      "dnsort_dns_dropped_total{proto=\"udp\",reason=\"send\"} 0",
      "dnsort_dns_tcp_connections 1",
      "dnsort_dns_map_reloads_total{result=\"ok\"} 2",
      "dnsort_dns_map_reloads_total{result=\"failed\"} 1",
      "dnsort_dns_map_names 3",
      "# TYPE dnsort_dns_request_duration_seconds histogram",
      "dnsort_dns_request_duration_seconds_bucket{proto=\"udp\",le=\"5e-05\"} 3",
      "dnsort_dns_request_duration_seconds_bucket{proto=\"udp\",le=\"0.0005\"} 3",
      "dnsort_dns_request_duration_seconds_bucket{proto=\"udp\",le=\"0.001\"} 4",
      "dnsort_dns_request_duration_seconds_bucket{proto=\"udp\",le=\"+Inf\"} 4",
      "dnsort_dns_request_duration_seconds_sum{proto=\"udp\"} 0.00082",
      "dnsort_dns_request_duration_seconds_count{proto=\"udp\"} 4",
      "dnsort_dns_request_duration_seconds_bucket{proto=\"tcp\",le=\"5\"} 0",
      "dnsort_dns_request_duration_seconds_bucket{proto=\"tcp\",le=\"+Inf\"} 2",
      "dnsort_dns_request_duration_seconds_sum{proto=\"tcp\"} 18",
      "dnsort_zone_reload_timestamp_seconds 1700000100.25",
      "# TYPE dnsort_zone_reload_failures_total counter",
      "dnsort_zone_reload_failures_total 1",
      "process_open_fds 12",
      "process_max_fds 1024",
      "dnsort_sort_requests_total{outcome=\"ok\"} 7",
      "dnsort_sort_requests_total{outcome=\"too_large\"} 1",
      "dnsort_sort_requests_total{outcome=\"shutdown\"} 0",
      "dnsort_sort_jobs{state=\"queued\"} 2",
      "dnsort_sort_jobs{state=\"running\"} 1",
      "dnsort_sort_request_size_bytes_bucket{le=\"16\"} 1",
      "dnsort_sort_request_size_bytes_bucket{le=\"64\"} 3",
      "dnsort_sort_request_size_bytes_bucket{le=\"+Inf\"} 6",
      "dnsort_sort_request_size_bytes_sum 400",
      "dnsort_sort_duration_seconds_bucket{le=\"0.001\"} 4",
      "dnsort_sort_duration_seconds_sum 0.003",
      "dnsort_sort_duration_seconds_count 5",
      "dnsort_metrics_http_responses_total{code=\"200\"} 9",
      "dnsort_metrics_http_responses_total{code=\"404\"} 0",
      "process_resident_memory_bytes 4096000",
      "process_cpu_seconds_total 1.75",
      "process_start_time_seconds 1700000000.5",
      "# TYPE process_cpu_seconds_total counter",
      "# TYPE dnsort_sort_duration_seconds histogram",
      "dnsort_build_info{version=\"0.1.0\",libuv=\"1.44.2\"} 1",
      "dnsort_dns_acl_refused_total{proto=\"udp\"} 21",
      "dnsort_dns_acl_refused_total{proto=\"tcp\"} 22",
      "dnsort_acl_denied_connections_total{service=\"dns\"} 23",
      "dnsort_acl_denied_connections_total{service=\"sort\"} 24",
      "dnsort_dns_rrl_limited_total{action=\"dropped\"} 25",
      "dnsort_dns_rrl_limited_total{action=\"slipped\"} 26",
      "# TYPE dnsort_dns_rrl_limited_total counter",
  };
  for (size_t i = 0; i < ARRAY_LEN(expect); i++) {
    if (!has_line(p.data, expect[i]))
      fail_msg("missing line: %s", expect[i]);
  }
  /* No forwarder, no forwarding families. */
  assert_null(strstr(p.data, "dnsort_dns_forward"));
  assert_null(strstr(p.data, "dnsort_dns_cache"));
  assert_null(strstr(p.data, "dnsort_forward_"));
  /* Every qtype x rcode pair per transport. */
  size_t n = 0;
  for (const char *q = p.data; (q = strstr(q, "\ndnsort_dns_responses_total{")) != NULL; q++)
    n++;
  assert_int_equal(n, 2 * DNS_STATS_QTYPES * DNS_STATS_RCODES);
  loop_prom_free(&p);
}

static void test_forwarding_families_when_forwarding(void **state) {
  (void)state;
  loop_prom_snapshot_t s;
  fill(&s);
  s.forwarding = true;
  s.forward.queries = 10;
  s.forward.cache_hits = 4;
  s.forward.upstream_failures = 2;
  s.forward.cache.entries = 6;
  s.forward.cache.bytes = 1000;
  s.forward.cache.index_bytes = 24;
  loop_prom_t p;
  loop_prom_init(&p, BIG);
  loop_prom_dnsort(&p, &s);
  assert_false(p.failed);
  check_well_formed(p.data);
  assert_true(has_line(p.data, "dnsort_dns_forward_queries_total 10"));
  assert_true(has_line(p.data, "dnsort_dns_cache_hits_total 4"));
  assert_true(has_line(p.data, "dnsort_dns_cache_misses_total 6"));
  assert_true(has_line(p.data, "dnsort_dns_forward_upstream_failures_total 2"));
  assert_true(has_line(p.data, "dnsort_dns_cache_entries 6"));
  assert_true(has_line(p.data, "dnsort_dns_cache_memory_bytes 1024"));
  loop_prom_free(&p);

  /* Per upstream, with its address as the label. */
  s.forward.n_upstreams = 2;
  s.forward.upstream[0] = (dns_forward_upstream_stats_t){
      .name = "127.0.0.1:53", .requests = 5, .responses = 4, .errors = 0};
  s.forward.upstream[1] = (dns_forward_upstream_stats_t){
      .name = "[::1]:5353", .requests = 7, .responses = 0, .errors = 6};
  dns_hist_observe(&s.forward.duration, 2000000, 1);
  loop_prom_init(&p, BIG);
  loop_prom_dnsort(&p, &s);
  check_well_formed(p.data);
  assert_true(has_line(p.data, "dnsort_forward_requests_total{upstream=\"127.0.0.1:53\"} 5"));
  assert_true(has_line(p.data, "dnsort_forward_responses_total{upstream=\"127.0.0.1:53\"} 4"));
  assert_true(has_line(p.data, "dnsort_forward_errors_total{upstream=\"127.0.0.1:53\"} 0"));
  assert_true(has_line(p.data, "dnsort_forward_requests_total{upstream=\"[::1]:5353\"} 7"));
  assert_true(has_line(p.data, "dnsort_forward_errors_total{upstream=\"[::1]:5353\"} 6"));
  assert_true(has_line(p.data, "dnsort_forward_request_duration_seconds_bucket{le=\"1\"} 0"));
  assert_true(has_line(p.data, "dnsort_forward_request_duration_seconds_bucket{le=\"2.5\"} 1"));
  assert_true(has_line(p.data, "dnsort_forward_request_duration_seconds_sum 2"));
  loop_prom_free(&p);
}

static void test_process_memory_left_out_when_unknown(void **state) {
  (void)state;
  loop_prom_snapshot_t s;
  fill(&s);
  s.have_memory = false;
  s.version = "a\"b";
  loop_prom_t p;
  loop_prom_init(&p, BIG);
  loop_prom_dnsort(&p, &s);
  assert_null(strstr(p.data, "process_resident_memory_bytes"));
  s.have_fds = false;
  loop_prom_free(&p);
  loop_prom_init(&p, BIG);
  loop_prom_dnsort(&p, &s);
  assert_null(strstr(p.data, "process_open_fds"));
  assert_true(has_line(p.data, "dnsort_build_info{version=\"a\\\"b\",libuv=\"1.44.2\"} 1"));
  loop_prom_free(&p);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_counter_family_with_help_type_and_labels),
      cmocka_unit_test(test_label_values_and_help_are_escaped),
      cmocka_unit_test(test_histogram_is_cumulative_with_inf_sum_and_count),
      cmocka_unit_test(test_histogram_le_comes_after_other_labels),
      cmocka_unit_test(test_doubles_are_shortest_round_trip),
      cmocka_unit_test(test_buffer_never_grows_past_its_bound),
      cmocka_unit_test(test_statm_is_parsed_in_pages),
      cmocka_unit_test(test_http_code_index),
      cmocka_unit_test(test_dnsort_families),
      cmocka_unit_test(test_forwarding_families_when_forwarding),
      cmocka_unit_test(test_process_memory_left_out_when_unknown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
