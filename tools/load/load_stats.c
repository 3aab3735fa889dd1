#include "load_stats.h"

#include <inttypes.h>
#include <string.h>

static const char *const result_names[LOAD_RESULT_COUNT] = {
    [LOAD_OK] = "ok",
    [LOAD_CONNECT_REFUSED] = "connect_refused",
    [LOAD_TIMEOUT] = "timeout",
    [LOAD_ERROR_REPLY] = "error_reply",
    [LOAD_WRONG_REPLY] = "wrong_reply",
    [LOAD_IO_ERROR] = "io_error",
    [LOAD_OVERLOAD] = "overload",
};

const char *load_result_name(load_result_t r) {
  return (unsigned)r < LOAD_RESULT_COUNT ? result_names[r] : "?";
}

void load_stats_reset(load_stats_t *s) {
  memset(s->count, 0, sizeof(s->count));
  load_hist_reset(&s->hist);
}

void load_stats_add(load_stats_t *s, load_result_t r, bool replied, uint64_t latency_ns) {
  s->count[r]++;
  if (replied)
    load_hist_record(&s->hist, latency_ns);
}

void load_stats_merge(load_stats_t *dst, const load_stats_t *src) {
  for (unsigned i = 0; i < LOAD_RESULT_COUNT; i++)
    dst->count[i] += src->count[i];
  load_hist_merge(&dst->hist, &src->hist);
}

uint64_t load_stats_requests(const load_stats_t *s) {
  uint64_t n = 0;
  for (unsigned i = 0; i < LOAD_RESULT_COUNT; i++)
    n += s->count[i];
  return n;
}

uint64_t load_stats_errors(const load_stats_t *s) {
  return load_stats_requests(s) - s->count[LOAD_OK];
}

void load_format_ns(char *out, size_t cap, uint64_t ns) {
  if (ns < 1000000)
    snprintf(out, cap, "%.1f us", (double)ns / 1e3);
  else if (ns < UINT64_C(1000000000))
    snprintf(out, cap, "%.2f ms", (double)ns / 1e6);
  else
    snprintf(out, cap, "%.2f s", (double)ns / 1e9);
}

static const struct {
  const char *label;
  double p;
} percentiles[] = {
    {"p50", 50.0},
    {"p90", 90.0},
    {"p99", 99.0},
    {"p99.9", 99.9},
};
#define N_PERCENTILES (sizeof(percentiles) / sizeof(percentiles[0]))

static double per_second(uint64_t n, double seconds) {
  return seconds > 0 ? (double)n / seconds : 0.0;
}

/* ---- text ---- */

static void text_stats(FILE *f, const char *indent, const load_stats_t *s, double duration_s) {
  uint64_t requests = load_stats_requests(s);
  uint64_t errors = load_stats_errors(s);
  fprintf(f, "%srequests    %" PRIu64 " (%" PRIu64 " ok, %" PRIu64 " errors)\n", indent, requests,
          s->count[LOAD_OK], errors);
  fprintf(f, "%sthroughput  %.0f ok/s\n", indent, per_second(s->count[LOAD_OK], duration_s));
  fprintf(f, "%serrors     ", indent);
  for (unsigned i = 1; i < LOAD_RESULT_COUNT; i++)
    fprintf(f, " %s %" PRIu64 "%s", result_names[i], s->count[i],
            i + 1 < LOAD_RESULT_COUNT ? "," : "\n");
  if (s->hist.total == 0) {
    fprintf(f, "%slatency     (no replies)\n", indent);
    return;
  }
  char buf[32];
  fprintf(f, "%slatency    ", indent);
  for (size_t i = 0; i < N_PERCENTILES; i++) {
    load_format_ns(buf, sizeof(buf), load_hist_percentile(&s->hist, percentiles[i].p));
    fprintf(f, " %s %s,", percentiles[i].label, buf);
  }
  load_format_ns(buf, sizeof(buf), s->hist.max);
  fprintf(f, " max %s\n", buf);
}

static void text_gen_title(FILE *f, const load_gen_report_t *g) {
  if (g->ramp_start > 0)
    fprintf(f, "%s: open loop, ramp from %.0f to %.0f requests/s\n", g->name, g->ramp_start,
            g->rate);
  else if (g->open_loop)
    fprintf(f, "%s: open loop, %.0f requests/s\n", g->name, g->rate);
  else
    fprintf(f, "%s: closed loop, concurrency %u\n", g->name, g->concurrency);
}

static void text_ramp(FILE *f, const load_report_t *r) {
  char buf[32];
  fprintf(f,
          "ramp (held = errors <= 0.1%% and p99 <= %g ms; late = in flight "
          "when judged, %g ms after the step):\n",
          r->ramp_p99_ms, r->ramp_p99_ms);
  for (unsigned i = 0; i < r->nsteps; i++) {
    const load_ramp_step_report_t *st = &r->steps[i];
    if (st->p99_ns == UINT64_MAX)
      snprintf(buf, sizeof(buf), "> %g ms", r->ramp_p99_ms);
    else if (st->requests > st->errors)
      load_format_ns(buf, sizeof(buf), st->p99_ns);
    else
      snprintf(buf, sizeof(buf), "-");
    fprintf(f,
            "  %10.0f/s  %8" PRIu64 " requests  %6" PRIu64 " errors  %5" PRIu64
            " late  p99 %-10s %s\n",
            st->rate, st->requests, st->errors, st->late, buf,
            !st->judged ? "(not judged: after the failure)"
            : st->held  ? "held"
                        : "FAILED");
  }
  if (r->knee < 0) {
    fprintf(f, "knee: none (the first step already failed)\n");
    return;
  }
  load_format_ns(buf, sizeof(buf), r->steps[r->knee].p99_ns);
  fprintf(f, "knee: %.0f requests/s held, p99 %s\n", r->steps[r->knee].rate, buf);
}

void load_report_text(FILE *f, const load_report_t *r) {
  fprintf(f, "dnsort-load %s: %.2f s\n", r->mode, r->duration_s);
  for (unsigned i = 0; i < r->ngens; i++) {
    const load_gen_report_t *g = &r->gens[i];
    text_gen_title(f, g);
    text_stats(f, "  ", g->stats, r->duration_s);
    if (g->lag != NULL && g->lag->total > 0) {
      char p50[32], p99[32], max[32];
      load_format_ns(p50, sizeof(p50), load_hist_percentile(g->lag, 50.0));
      load_format_ns(p99, sizeof(p99), load_hist_percentile(g->lag, 99.0));
      load_format_ns(max, sizeof(max), g->lag->max);
      fprintf(f,
              "  send lag    p50 %s, p99 %s, max %s (behind schedule; "
              "part of the latency)\n",
              p50, p99, max);
    }
    if (g->first_error != NULL && g->first_error[0] != '\0')
      fprintf(f, "  first error %s\n", g->first_error);
    if (g->stray_replies > 0)
      fprintf(f, "  stray       %" PRIu64 " replies matched no query in flight\n",
              g->stray_replies);
  }
  if (r->ngens > 1) {
    fprintf(f, "total:\n");
    text_stats(f, "  ", r->total, r->duration_s);
  }
  if (r->ramp)
    text_ramp(f, r);
}

/* ---- JSON ---- */

/* A JSON string: the server's error text may hold quotes or control
 * characters. Bytes >= 0x7f become U+FFFD: a note cut to its buffer may end
 * mid-character, which a strict parser would reject. */
static void json_string(FILE *f, const char *s) {
  fputc('"', f);
  for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
    if (*p == '"' || *p == '\\')
      fprintf(f, "\\%c", *p);
    else if (*p < 0x20 || *p >= 0x7f)
      fprintf(f, "\\u%04x", *p < 0x20 ? *p : 0xfffd);
    else
      fputc(*p, f);
  }
  fputc('"', f);
}

static void json_us(FILE *f, const char *key, uint64_t ns, const char *sep) {
  fprintf(f, "\"%s\": %.1f%s", key, (double)ns / 1e3, sep);
}

static void json_stats(FILE *f, const load_stats_t *s, double duration_s) {
  fprintf(f, "\"requests\": %" PRIu64 ", \"ok\": %" PRIu64 ", \"errors\": %" PRIu64 ", ",
          load_stats_requests(s), s->count[LOAD_OK], load_stats_errors(s));
  fprintf(f, "\"error_kinds\": {");
  for (unsigned i = 1; i < LOAD_RESULT_COUNT; i++)
    fprintf(f, "\"%s\": %" PRIu64 "%s", result_names[i], s->count[i],
            i + 1 < LOAD_RESULT_COUNT ? ", " : "}, ");
  fprintf(f, "\"throughput_rps\": %.1f, ", per_second(s->count[LOAD_OK], duration_s));
  fprintf(f, "\"latency_us\": {\"count\": %" PRIu64 ", ", s->hist.total);
  json_us(f, "min", s->hist.total ? s->hist.min : 0, ", ");
  fprintf(f, "\"mean\": %.1f, ", load_hist_mean(&s->hist) / 1e3);
  for (size_t i = 0; i < N_PERCENTILES; i++)
    json_us(f, percentiles[i].label, load_hist_percentile(&s->hist, percentiles[i].p), ", ");
  json_us(f, "max", s->hist.max, "}");
}

static void json_ramp(FILE *f, const load_report_t *r) {
  fprintf(f,
          ", \"ramp\": {\"p99_bound_ms\": %g, \"max_error_ratio\": 0.001, "
          "\"steps\": [",
          r->ramp_p99_ms);
  for (unsigned i = 0; i < r->nsteps; i++) {
    const load_ramp_step_report_t *st = &r->steps[i];
    fprintf(f,
            "%s{\"rate\": %.1f, \"requests\": %" PRIu64 ", \"errors\": %" PRIu64
            ", \"late\": %" PRIu64 ", ",
            i ? ", " : "", st->rate, st->requests, st->errors, st->late);
    if (st->p99_ns == UINT64_MAX)
      fprintf(f, "\"p99_us\": null, ");
    else
      json_us(f, "p99_us", st->p99_ns, ", ");
    fprintf(f, "\"held\": %s}", !st->judged ? "null" : st->held ? "true" : "false");
  }
  fprintf(f, "], \"knee\": ");
  if (r->knee < 0) {
    fprintf(f, "null}");
  } else {
    fprintf(f, "{\"rate\": %.1f, ", r->steps[r->knee].rate);
    json_us(f, "p99_us", r->steps[r->knee].p99_ns, "}}");
  }
}

void load_report_json(FILE *f, const load_report_t *r) {
  fprintf(f, "{\"mode\": \"%s\", \"duration_s\": %.3f, ", r->mode, r->duration_s);
  json_stats(f, r->total, r->duration_s);
  for (unsigned i = 0; i < r->ngens; i++) {
    const load_gen_report_t *g = &r->gens[i];
    fprintf(f, ", \"%s\": {\"loop\": \"%s\", ", g->name, g->open_loop ? "open" : "closed");
    if (g->open_loop)
      fprintf(f, "\"rate\": %.1f, ", g->rate);
    else
      fprintf(f, "\"concurrency\": %u, ", g->concurrency);
    fprintf(f, "\"stray_replies\": %" PRIu64 ", ", g->stray_replies);
    if (g->lag != NULL) {
      fprintf(f, "\"send_lag_us\": {");
      json_us(f, "p50", load_hist_percentile(g->lag, 50.0), ", ");
      json_us(f, "p99", load_hist_percentile(g->lag, 99.0), ", ");
      json_us(f, "max", g->lag->max, "}, ");
    }
    fprintf(f, "\"first_error\": ");
    json_string(f, g->first_error != NULL ? g->first_error : "");
    fprintf(f, ", ");
    json_stats(f, g->stats, r->duration_s);
    fprintf(f, "}");
  }
  if (r->ramp)
    json_ramp(f, r);
  fprintf(f, "}\n");
}
