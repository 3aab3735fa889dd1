#include "loop_prom.h"

#include <inttypes.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
/* The first allocation: a whole scrape of dnsortd is about 30 KiB, so a
 * few doublings at most. */
#define INITIAL_CAP 4096

const int loop_prom_http_codes[LOOP_PROM_N_HTTP_CODES] = {200, 400, 404, 405, 414, 431, 500, 503};

int loop_prom_http_code_index(int code) {
  for (size_t i = 0; i < LOOP_PROM_N_HTTP_CODES; i++) {
    if (loop_prom_http_codes[i] == code)
      return (int)i;
  }
  return -1;
}

void loop_prom_init(loop_prom_t *p, size_t max) {
  p->data = NULL;
  p->len = 0;
  p->cap = 0;
  p->max = max;
  p->failed = false;
}

void loop_prom_free(loop_prom_t *p) {
  free(p->data);
  loop_prom_init(p, p->max);
}

/* Room for n more bytes plus a terminating NUL (kept so that the text can
 * be inspected as a string). */
static bool reserve(loop_prom_t *p, size_t n) {
  if (p->failed)
    return false;
  if (n > p->max || p->len + 1 > p->max - n) {
    p->failed = true;
    return false;
  }
  size_t need = p->len + n + 1;
  if (need <= p->cap)
    return true;
  size_t cap = p->cap > 0 ? p->cap : INITIAL_CAP < p->max ? INITIAL_CAP : p->max;
  while (cap < need)
    cap = cap > p->max / 2 ? p->max : cap * 2;
  char *data = realloc(p->data, cap);
  if (data == NULL) {
    p->failed = true;
    return false;
  }
  p->data = data;
  p->cap = cap;
  return true;
}

static void put(loop_prom_t *p, const char *s, size_t n) {
  if (!reserve(p, n))
    return;
  memcpy(p->data + p->len, s, n);
  p->len += n;
  p->data[p->len] = '\0';
}

static void puts_(loop_prom_t *p, const char *s) {
  put(p, s, strlen(s));
}

/* Label values escape backslash, double quote and line feed; HELP text
 * escapes backslash and line feed only (the format's two rules). */
static void put_escaped(loop_prom_t *p, const char *s, bool quote) {
  const char *run = s;
  for (; *s != '\0'; s++) {
    const char *esc = NULL;
    if (*s == '\\')
      esc = "\\\\";
    else if (*s == '\n')
      esc = "\\n";
    else if (*s == '"' && quote)
      esc = "\\\"";
    if (esc == NULL)
      continue;
    put(p, run, (size_t)(s - run));
    put(p, esc, 2);
    run = s + 1;
  }
  put(p, run, (size_t)(s - run));
}

void loop_prom_family(loop_prom_t *p, const char *name, loop_prom_type_t type, const char *help) {
  static const char *const types[] = {"counter", "gauge", "histogram"};
  puts_(p, "# HELP ");
  puts_(p, name);
  puts_(p, " ");
  put_escaped(p, help, false);
  puts_(p, "\n# TYPE ");
  puts_(p, name);
  puts_(p, " ");
  puts_(p, types[type]);
  puts_(p, "\n");
}

/* name + suffix, then {labels and the extra one, if any}, then a space. */
static void sample_start(loop_prom_t *p, const char *name, const char *suffix,
                         const loop_prom_label_t *labels, size_t n_labels,
                         const loop_prom_label_t *extra) {
  puts_(p, name);
  puts_(p, suffix);
  if (n_labels > 0 || extra != NULL) {
    puts_(p, "{");
    for (size_t i = 0; i < n_labels + (extra != NULL); i++) {
      const loop_prom_label_t *l = i < n_labels ? &labels[i] : extra;
      if (i > 0)
        puts_(p, ",");
      puts_(p, l->name);
      puts_(p, "=\"");
      put_escaped(p, l->value, true);
      puts_(p, "\"");
    }
    puts_(p, "}");
  }
  puts_(p, " ");
}

static void put_u64_line(loop_prom_t *p, uint64_t v) {
  char text[24];
  int n = snprintf(text, sizeof(text), "%" PRIu64 "\n", v);
  put(p, text, (size_t)n);
}

static void put_double_line(loop_prom_t *p, double v) {
  char text[LOOP_PROM_DOUBLE_MAX + 1];
  size_t n = loop_prom_format_double(v, text);
  text[n++] = '\n';
  put(p, text, n);
}

void loop_prom_u64(loop_prom_t *p, const char *name, const loop_prom_label_t *labels,
                   size_t n_labels, uint64_t value) {
  sample_start(p, name, "", labels, n_labels, NULL);
  put_u64_line(p, value);
}

void loop_prom_double(loop_prom_t *p, const char *name, const loop_prom_label_t *labels,
                      size_t n_labels, double value) {
  sample_start(p, name, "", labels, n_labels, NULL);
  put_double_line(p, value);
}

void loop_prom_histogram(loop_prom_t *p, const char *name, const loop_prom_label_t *labels,
                         size_t n_labels, const loop_prom_hist_t *h) {
  uint64_t cumulative = 0;
  char le[LOOP_PROM_DOUBLE_MAX];
  for (size_t i = 0; i <= h->n_bounds; i++) {
    cumulative += h->counts[i];
    if (i < h->n_bounds)
      loop_prom_format_double((double)h->bounds[i] / h->per_unit, le);
    else
      strcpy(le, "+Inf");
    loop_prom_label_t extra = {"le", le};
    sample_start(p, name, "_bucket", labels, n_labels, &extra);
    put_u64_line(p, cumulative);
  }
  sample_start(p, name, "_sum", labels, n_labels, NULL);
  put_double_line(p, (double)h->sum / h->per_unit);
  sample_start(p, name, "_count", labels, n_labels, NULL);
  put_u64_line(p, cumulative);
}

size_t loop_prom_format_double(double v, char *out) {
  if (isnan(v) || isinf(v)) {
    const char *text = isnan(v) ? "NaN" : v > 0 ? "+Inf" : "-Inf";
    strcpy(out, text);
    return strlen(text);
  }
  /* Whole numbers as integers ("100", not "1e+02"), while every digit is
   * still exact. */
  if (v == floor(v) && fabs(v) < 1e15)
    return (size_t)snprintf(out, LOOP_PROM_DOUBLE_MAX, "%.0f", v);
  /* Else the shortest %g that reads back exactly: "0.001" rather than
   * "0.0010000000000000000208", and never a rounded value. */
  int n = 0;
  for (int prec = 1; prec <= 17; prec++) {
    n = snprintf(out, LOOP_PROM_DOUBLE_MAX, "%.*g", prec, v);
    if (strtod(out, NULL) == v)
      break;
  }
  return (size_t)n;
}

int loop_prom_parse_statm(const char *text, uint64_t page_size, uint64_t *vsz_bytes,
                          uint64_t *rss_bytes) {
  uint64_t v[2];
  const char *s = text;
  for (size_t i = 0; i < ARRAY_LEN(v); i++) {
    while (*s == ' ')
      s++;
    if (*s < '0' || *s > '9')
      return -1;
    char *end;
    unsigned long long n = strtoull(s, &end, 10);
    if (*end != ' ' && *end != '\n' && *end != '\0')
      return -1;
    v[i] = (uint64_t)n;
    s = end;
  }
  *vsz_bytes = v[0] * page_size;
  *rss_bytes = v[1] * page_size;
  return 0;
}

/* ---- dnsortd's families ---- */

typedef struct {
  const char *value;
  uint64_t n;
} labelled_t;

/* A family whose samples differ by one label. */
static void one_label(loop_prom_t *p, const char *name, loop_prom_type_t type, const char *help,
                      const char *label, const labelled_t *rows, size_t n_rows) {
  loop_prom_family(p, name, type, help);
  for (size_t i = 0; i < n_rows; i++) {
    loop_prom_label_t l = {label, rows[i].value};
    loop_prom_u64(p, name, &l, 1, rows[i].n);
  }
}

static void plain(loop_prom_t *p, const char *name, loop_prom_type_t type, const char *help,
                  uint64_t v) {
  loop_prom_family(p, name, type, help);
  loop_prom_u64(p, name, NULL, 0, v);
}

/* A dns_hist_t as Prometheus wants it: seconds. */
static void dns_hist(loop_prom_t *p, const char *name, const loop_prom_label_t *labels,
                     size_t n_labels, const dns_hist_t *h) {
  loop_prom_hist_t ph = {.bounds = dns_hist_bounds_us,
                         .n_bounds = DNS_HIST_BOUNDS,
                         .counts = h->counts,
                         .sum = h->sum_us,
                         .per_unit = 1e6};
  loop_prom_histogram(p, name, labels, n_labels, &ph);
}

/* Queries and replies: counts, latency, truncation, drops. */
static void render_dns_traffic(loop_prom_t *p, const loop_prom_snapshot_t *s) {
  labelled_t queries[] = {{"udp", s->udp_received}, {"tcp", s->tcp_queries}};
  one_label(p, "dnsort_dns_queries_total", LOOP_PROM_COUNTER,
            "DNS messages received (UDP datagrams, TCP messages), answered or not.", "proto",
            queries, ARRAY_LEN(queries));

  /* Every qtype x rcode pair, zeros included: a series that appears only
   * after its first event hides that first event from rate(). */
  static const char responses[] = "dnsort_dns_responses_total";
  loop_prom_family(p, responses, LOOP_PROM_COUNTER,
                   "DNS responses sent, by transport, query type and response code.");
  const struct {
    const char *proto;
    const dns_stats_t *stats;
  } protos[] = {{"udp", &s->udp_stats}, {"tcp", &s->tcp_stats}};
  for (size_t i = 0; i < ARRAY_LEN(protos); i++) {
    for (int t = 0; t < DNS_STATS_QTYPES; t++) {
      for (int r = 0; r < DNS_STATS_RCODES; r++) {
        loop_prom_label_t l[] = {{"proto", protos[i].proto},
                                 {"qtype", dns_stats_qtype_name((dns_stats_qtype_t)t)},
                                 {"rcode", dns_stats_rcode_name((dns_stats_rcode_t)r)}};
        loop_prom_u64(p, responses, l, ARRAY_LEN(l), protos[i].stats->replies[t][r]);
      }
    }
  }
  static const char duration[] = "dnsort_dns_request_duration_seconds";
  loop_prom_family(p, duration, LOOP_PROM_HISTOGRAM,
                   "Time from a DNS query's receipt to its reply being sent, by transport "
                   "(UDP: per recvmmsg batch, so a reply counts its batch's wait).");
  loop_prom_label_t udp = {"proto", "udp"}, tcp = {"proto", "tcp"};
  dns_hist(p, duration, &udp, 1, &s->udp_duration);
  dns_hist(p, duration, &tcp, 1, &s->tcp_duration);

  labelled_t tc[] = {{"udp", s->udp_stats.truncated}, {"tcp", s->tcp_stats.truncated}};
  one_label(p, "dnsort_dns_truncated_responses_total", LOOP_PROM_COUNTER,
            "DNS responses sent with TC=1 (the answer did not fit the client's UDP size).", "proto",
            tc, ARRAY_LEN(tc));

  static const char dropped[] = "dnsort_dns_dropped_total";
  loop_prom_family(p, dropped, LOOP_PROM_COUNTER,
                   "DNS messages not answered: invalid (shorter than a header, or a "
                   "response) or a reply that could not be sent.");
  const struct {
    const char *proto, *reason;
    uint64_t n;
  } drops[] = {{"udp", "invalid", s->udp_dropped_invalid},
               {"udp", "send", s->udp_dropped_send},
               {"tcp", "invalid", s->tcp_dropped_invalid}};
  for (size_t i = 0; i < ARRAY_LEN(drops); i++) {
    loop_prom_label_t l[] = {{"proto", drops[i].proto}, {"reason", drops[i].reason}};
    loop_prom_u64(p, dropped, l, ARRAY_LEN(l), drops[i].n);
  }
}

static void render_dns_tcp(loop_prom_t *p, const loop_prom_snapshot_t *s) {
  plain(p, "dnsort_dns_tcp_connections", LOOP_PROM_GAUGE, "DNS-over-TCP connections open.",
        s->tcp_open);
  plain(p, "dnsort_dns_tcp_connections_accepted_total", LOOP_PROM_COUNTER,
        "DNS-over-TCP connections accepted.", s->tcp_accepted);
  plain(p, "dnsort_dns_tcp_connections_refused_total", LOOP_PROM_COUNTER,
        "DNS-over-TCP connections closed at once, over --dns-tcp-max-connections.", s->tcp_refused);
  plain(p, "dnsort_dns_tcp_accept_errors_total", LOOP_PROM_COUNTER,
        "Failed accepts on the DNS-over-TCP listeners (EMFILE...).", s->tcp_accept_errors);
  plain(p, "dnsort_dns_tcp_idle_timeouts_total", LOOP_PROM_COUNTER,
        "DNS-over-TCP connections closed by --dns-tcp-idle-timeout.", s->tcp_idle_timeouts);
  plain(p, "dnsort_dns_tcp_bad_frames_total", LOOP_PROM_COUNTER,
        "DNS-over-TCP connections closed for a bad length prefix.", s->tcp_bad_frames);
  plain(p, "dnsort_dns_tcp_buffered_bytes", LOOP_PROM_GAUGE,
        "Bytes held for DNS-over-TCP clients: replies not yet taken, queries not yet "
        "answered, partial messages (bounded by --dns-tcp-max-buffered).",
        s->tcp_buffered);
  plain(p, "dnsort_dns_tcp_buffered_bytes_max", LOOP_PROM_GAUGE,
        "The most bytes ever held for DNS-over-TCP clients at once.", s->tcp_buffered_max);
  plain(p, "dnsort_dns_tcp_connection_buffered_bytes_max", LOOP_PROM_GAUGE,
        "The most bytes ever held for one DNS-over-TCP connection (bounded by "
        "--dns-tcp-max-pending, one read and one partial message).",
        s->tcp_conn_buffered_max);
  plain(p, "dnsort_dns_tcp_deferred_total", LOOP_PROM_COUNTER,
        "Times a DNS-over-TCP connection was put off to a later turn of the loop "
        "(its share of the turn used, or --dns-tcp-max-buffered reached).",
        s->tcp_deferred);
}

/* What --allow and --rrl-rate turned away. */
static void render_dns_limits(loop_prom_t *p, const loop_prom_snapshot_t *s) {
  labelled_t refused[] = {{"udp", s->udp_refused_acl}, {"tcp", s->tcp_refused_acl}};
  one_label(p, "dnsort_dns_acl_refused_total", LOOP_PROM_COUNTER,
            "DNS queries from clients outside --allow: answered REFUSED (dropped when "
            "shorter than a header or a response).",
            "proto", refused, ARRAY_LEN(refused));
  labelled_t denied[] = {{"dns", s->dns_tcp_denied}, {"sort", s->sort_denied}};
  one_label(p, "dnsort_acl_denied_connections_total", LOOP_PROM_COUNTER,
            "TCP connections from clients outside --allow (DNS: every query REFUSED) "
            "or --sort-allow (sort: closed unread).",
            "service", denied, ARRAY_LEN(denied));
  labelled_t rrl[] = {{"dropped", s->rrl_dropped}, {"slipped", s->rrl_slipped}};
  one_label(p, "dnsort_dns_rrl_limited_total", LOOP_PROM_COUNTER,
            "UDP replies past --rrl-rate: dropped, or slipped (sent truncated, TC=1, "
            "so that a real client retries over TCP).",
            "action", rrl, ARRAY_LEN(rrl));
}

static void render_dns_map(loop_prom_t *p, const loop_prom_snapshot_t *s) {
  labelled_t reloads[] = {{"ok", s->reloads_ok}, {"failed", s->reloads_failed}};
  one_label(p, "dnsort_dns_map_reloads_total", LOOP_PROM_COUNTER,
            "Reloads of the hosts files on SIGHUP; a failed one keeps the old map.", "result",
            reloads, ARRAY_LEN(reloads));
  plain(p, "dnsort_dns_map_names", LOOP_PROM_GAUGE, "Names in the DNS map in service.",
        s->zone_names);
  loop_prom_family(p, "dnsort_zone_reload_timestamp_seconds", LOOP_PROM_GAUGE,
                   "When the DNS map in service was loaded (start-up or the last "
                   "good SIGHUP), seconds since the Unix epoch.");
  loop_prom_double(p, "dnsort_zone_reload_timestamp_seconds", NULL, 0, s->zone_loaded_seconds);
  plain(p, "dnsort_zone_reload_failures_total", LOOP_PROM_COUNTER,
        "SIGHUP reloads that failed (the old map stayed in service).", s->reloads_failed);
}

static void render_dns(loop_prom_t *p, const loop_prom_snapshot_t *s) {
  render_dns_traffic(p, s);
  render_dns_tcp(p, s);
  render_dns_limits(p, s);
  render_dns_map(p, s);
}

static void render_forward(loop_prom_t *p, const dns_forward_stats_t *f) {
  plain(p, "dnsort_dns_forward_queries_total", LOOP_PROM_COUNTER,
        "Queries for names outside the map handed to the forwarder.", f->queries);
  plain(p, "dnsort_dns_forward_upstream_queries_total", LOOP_PROM_COUNTER,
        "Queries sent to the upstream servers.", f->upstream_queries);
  plain(p, "dnsort_dns_forward_coalesced_total", LOOP_PROM_COUNTER,
        "Queries that joined an identical upstream query in flight.", f->coalesced);
  plain(p, "dnsort_dns_forward_upstream_failures_total", LOOP_PROM_COUNTER,
        "Upstream queries that failed (timeout across every server, refusal, "
        "network error).",
        f->upstream_failures);
  plain(p, "dnsort_dns_forward_invalid_answers_total", LOOP_PROM_COUNTER,
        "Upstream answers that were malformed or not for the question.", f->invalid_answers);
  plain(p, "dnsort_dns_forward_dropped_records_total", LOOP_PROM_COUNTER,
        "Records left out of upstream answers: not for the question's name or its CNAME "
        "chain, or not the SOA, NS or proofs of a zone above it.",
        f->dropped_records);
  plain(p, "dnsort_dns_forward_overloaded_total", LOOP_PROM_COUNTER,
        "Queries answered SERVFAIL at once: too many upstream queries in flight.", f->overloaded);
  plain(p, "dnsort_dns_forward_servfails_total", LOOP_PROM_COUNTER,
        "SERVFAIL replies from the forwarder, all causes.", f->servfails);
  plain(p, "dnsort_dns_forward_inflight", LOOP_PROM_GAUGE, "Upstream queries in flight.",
        f->inflight);
  plain(p, "dnsort_dns_cache_hits_total", LOOP_PROM_COUNTER,
        "Forwarded queries answered from the cache.", f->cache_hits);
  /* Every lookup the cache did not answer, SERVFAILs at once included, so
   * that hits + misses = forwarded queries. */
  plain(p, "dnsort_dns_cache_misses_total", LOOP_PROM_COUNTER,
        "Forwarded queries the cache did not answer.",
        f->queries >= f->cache_hits ? f->queries - f->cache_hits : 0);
  plain(p, "dnsort_dns_cache_entries", LOOP_PROM_GAUGE, "Answers in the cache.", f->cache.entries);
  plain(p, "dnsort_dns_cache_memory_bytes", LOOP_PROM_GAUGE,
        "Memory held by the cache: entries and their bucket index.",
        (uint64_t)f->cache.bytes + f->cache.index_bytes);
  plain(p, "dnsort_dns_cache_evictions_total", LOOP_PROM_COUNTER,
        "Cache entries pushed out by the entry or byte bound (LRU).", f->cache.evicted);

  loop_prom_family(p, "dnsort_forward_request_duration_seconds", LOOP_PROM_HISTOGRAM,
                   "Upstream queries from send to outcome (an answer, or a failure "
                   "after every server and try).");
  dns_hist(p, "dnsort_forward_request_duration_seconds", NULL, 0, &f->duration);
  /* Per server, as seen on its sockets: requests - responses - errors is
   * what went unanswered there (timeouts). */
  static const struct {
    const char *name, *help;
    size_t offset;
  } per_upstream[] = {
      {"dnsort_forward_requests_total",
       "Queries written to each upstream server (retries "
       "included).",
       offsetof(dns_forward_upstream_stats_t, requests)},
      {"dnsort_forward_responses_total", "Responses read from each upstream server.",
       offsetof(dns_forward_upstream_stats_t, responses)},
      {"dnsort_forward_errors_total",
       "Socket errors from each upstream server (ICMP "
       "unreachable: connection refused); requests - responses - errors went unanswered.",
       offsetof(dns_forward_upstream_stats_t, errors)},
  };
  for (size_t k = 0; k < ARRAY_LEN(per_upstream); k++) {
    loop_prom_family(p, per_upstream[k].name, LOOP_PROM_COUNTER, per_upstream[k].help);
    for (size_t i = 0; i < f->n_upstreams; i++) {
      const dns_forward_upstream_stats_t *u = &f->upstream[i];
      uint64_t v;
      memcpy(&v, (const char *)u + per_upstream[k].offset, sizeof(v));
      loop_prom_label_t l = {"upstream", u->name};
      loop_prom_u64(p, per_upstream[k].name, &l, 1, v);
    }
  }
}

static void render_sort(loop_prom_t *p, const loop_prom_snapshot_t *s) {
  labelled_t outcomes[] = {{"ok", s->sort_ok},
                           {"bad_input", s->sort_bad_input},
                           {"too_large", s->sort_too_large},
                           {"timeout", s->sort_timeouts},
                           {"busy", s->sort_busy},
                           {"cancelled", s->sort_cancelled},
                           {"shutdown", s->sort_shutdown}};
  one_label(p, "dnsort_sort_requests_total", LOOP_PROM_COUNTER,
            "Sort requests by outcome: ok; bad_input (invalid JSON, not numbers, "
            "over --max-elements); too_large (over --max-request-bytes); timeout "
            "(read, a reply not taken in time, or a sort past --max-sort-time); busy; "
            "cancelled (the client left); shutdown (still sending at SIGTERM).",
            "outcome", outcomes, ARRAY_LEN(outcomes));
  plain(p, "dnsort_sort_error_replies_total", LOOP_PROM_COUNTER,
        "Sort error replies ({\"error\": ...}), every cause.", s->sort_error_replies);
  plain(p, "dnsort_sort_connections_accepted_total", LOOP_PROM_COUNTER,
        "Sort connections accepted.", s->sort_accepted);
  plain(p, "dnsort_sort_accept_errors_total", LOOP_PROM_COUNTER,
        "Failed accepts on the sort listener (EMFILE...).", s->sort_accept_errors);
  plain(p, "dnsort_sort_connections", LOOP_PROM_GAUGE, "Sort connections open.",
        s->sort_connections);
  labelled_t jobs[] = {{"queued", s->sort_queued}, {"running", s->sort_running}};
  one_label(p, "dnsort_sort_jobs", LOOP_PROM_GAUGE,
            "Sorts waiting for a worker thread, and running on one.", "state", jobs,
            ARRAY_LEN(jobs));
  plain(p, "dnsort_sort_inflight_bytes", LOOP_PROM_GAUGE,
        "Request bytes held across every connection (bounded by --max-inflight-bytes).",
        s->sort_inflight_bytes);
  loop_prom_family(p, "dnsort_sort_request_size_bytes", LOOP_PROM_HISTOGRAM,
                   "Body size of complete sort requests.");
  loop_prom_histogram(p, "dnsort_sort_request_size_bytes", NULL, 0, &s->sort_request_bytes);
  loop_prom_family(p, "dnsort_sort_duration_seconds", LOOP_PROM_HISTOGRAM,
                   "Time from a complete request to its reply being ready: the wait "
                   "for a worker plus the parse, sort and encode.");
  loop_prom_histogram(p, "dnsort_sort_duration_seconds", NULL, 0, &s->sort_duration);
}

static void render_process(loop_prom_t *p, const loop_prom_snapshot_t *s) {
  static const char responses[] = "dnsort_metrics_http_responses_total";
  loop_prom_family(p, responses, LOOP_PROM_COUNTER,
                   "Responses of this metrics endpoint, by status code.");
  for (size_t i = 0; i < LOOP_PROM_N_HTTP_CODES; i++) {
    char code[8];
    snprintf(code, sizeof(code), "%d", loop_prom_http_codes[i]);
    loop_prom_label_t l = {"code", code};
    loop_prom_u64(p, responses, &l, 1, s->http_responses[i]);
  }
  plain(p, "dnsort_metrics_http_refused_connections_total", LOOP_PROM_COUNTER,
        "Metrics connections closed at once, over the connection limit.", s->http_refused);
  plain(p, "dnsort_metrics_http_timeouts_total", LOOP_PROM_COUNTER,
        "Metrics connections closed because a request or a response took too long.",
        s->http_timeouts);

  /* The process_ names every Prometheus client library exports, so that
   * stock dashboards and alerts find them. */
  if (s->have_memory) {
    plain(p, "process_resident_memory_bytes", LOOP_PROM_GAUGE, "Resident memory size in bytes.",
          s->rss_bytes);
    plain(p, "process_virtual_memory_bytes", LOOP_PROM_GAUGE, "Virtual memory size in bytes.",
          s->vsz_bytes);
  }
  loop_prom_family(p, "process_cpu_seconds_total", LOOP_PROM_COUNTER,
                   "Total user and system CPU time spent in seconds.");
  loop_prom_double(p, "process_cpu_seconds_total", NULL, 0,
                   s->cpu_user_seconds + s->cpu_system_seconds);
  if (s->have_fds) {
    plain(p, "process_open_fds", LOOP_PROM_GAUGE, "Number of open file descriptors.", s->open_fds);
    plain(p, "process_max_fds", LOOP_PROM_GAUGE, "Maximum number of open file descriptors.",
          s->max_fds);
  }
  /* libuv accepts and closes connections itself when out of descriptors
   * (loop_fd.h): these are the only trace of it. */
  plain(p, "dnsort_fd_exhaustions_total", LOOP_PROM_COUNTER,
        "Times every file descriptor was found in use (looked at once a second); meanwhile new "
        "TCP connections are accepted and closed at once.",
        s->fd_exhaustions);
  plain(p, "dnsort_fd_exhausted", LOOP_PROM_GAUGE,
        "1 while the last look (once a second) found every file descriptor in use.",
        s->fd_exhausted);
  loop_prom_family(p, "process_start_time_seconds", LOOP_PROM_GAUGE,
                   "Start time of the process since unix epoch in seconds.");
  loop_prom_double(p, "process_start_time_seconds", NULL, 0, s->start_time_seconds);

  loop_prom_family(p, "dnsort_build_info", LOOP_PROM_GAUGE,
                   "Always 1; the labels say which dnsortd and libuv are running.");
  loop_prom_label_t l[] = {{"version", s->version != NULL ? s->version : ""},
                           {"libuv", s->libuv_version != NULL ? s->libuv_version : ""}};
  loop_prom_u64(p, "dnsort_build_info", l, ARRAY_LEN(l), 1);
}

void loop_prom_dnsort(loop_prom_t *p, const loop_prom_snapshot_t *s) {
  render_dns(p, s);
  if (s->forwarding)
    render_forward(p, &s->forward);
  render_sort(p, s);
  render_process(p, s);
}
