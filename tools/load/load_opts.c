#include "load_opts.h"

#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "load_check.h"
#include "loop_addr.h"

#define DEFAULT_CONCURRENCY 16
#define DEFAULT_DURATION_S 10.0
#define DEFAULT_RAMP_DURATION_S 300.0
#define DEFAULT_DRAIN_S 1.0
#define MAX_SECONDS 86400.0
/* The histogram ends at 137 s; a longer timeout could not be measured. */
#define MAX_TIMEOUT_S 100.0
#define MAX_SIZE 10000000u
#define MAX_RATE 10000000.0

void load_opts_usage(FILE *f) {
  fputs(
      "usage: dnsort-load MODE [options]\n"
      "\n"
      "Load generator for dnsortd. MODE is dns, sort or mixed (or --mode MODE).\n"
      "Every reply is verified; failures are counted by kind. A progress line\n"
      "goes to stderr every second when stderr is a terminal; the report goes\n"
      "to stdout at the end.\n"
      "\n"
      "Pacing (for each generator: dns, sort, or both in mixed mode):\n"
      "  --concurrency N        closed loop: keep N requests in flight; the next\n"
      "                         starts when one ends (default 16)\n"
      "  --rate R               open loop: start R requests per second on a fixed\n"
      "                         schedule whatever the replies do; latency counts\n"
      "                         from the scheduled start (no coordinated omission);\n"
      "                         how late requests left is reported as send lag\n"
      "  --max-outstanding N    open loop: at most N in flight; a request due\n"
      "                         beyond that is not sent and counts as 'overload'\n"
      "                         (default 1000)\n"
      "  --dns-concurrency N, --dns-rate R, --sort-concurrency N, --sort-rate R\n"
      "                         the same for one generator; they override\n"
      "                         --concurrency/--rate (e.g. mixed --dns-rate 20000\n"
      "                         --sort-concurrency 4)\n"
      "\n"
      "Length of the run:\n"
      "  --duration S           stop starting requests after S seconds (default 10,\n"
      "                         300 with --ramp; fractions allowed). The program\n"
      "                         ends by S + the drain period, whatever the server does\n"
      "  --requests N           stop after N requests per generator (with no\n"
      "                         --duration, the run ends when the last of them\n"
      "                         is answered or timed out)\n"
      "  --timeout S            a request with no complete reply after S seconds is\n"
      "                         a 'timeout' (default 5, at most 100)\n"
      "  --drain S              after --duration, how long requests in flight may\n"
      "                         finish; those still open then are 'timeout'\n"
      "                         (default 1, or --timeout if smaller)\n"
      "\n"
      "Targets:\n"
      "  --dns-server ADDR:PORT   default 127.0.0.1:4343 (IPv6 as [::1]:4343)\n"
      "  --sort-server ADDR:PORT  default 127.0.0.1:2015\n"
      "\n"
      "Sort requests (one TCP connection each: 8-byte big-endian length, JSON\n"
      "body, reply read to EOF and checked to be the sorted permutation):\n"
      "  --size N               N random integers per request (default 100)\n"
      "  --seed N               PRNG seed for those integers (default 1)\n"
      "  --payloads N           distinct requests prepared before the run and\n"
      "                         cycled (default 16)\n"
      "  --payload FILE         send FILE (a JSON array of numbers) instead\n"
      "\n"
      "DNS queries (UDP, IDs matched to replies; names cycle through\n"
      "facebook.com, yougov.com, wipo.int and two unknown names):\n"
      "  --qtype A|AAAA|MX|ANY  default A; A and ANY expect the map's address\n"
      "                         (127.0.0.1 for unknown names), AAAA and MX\n"
      "                         NOERROR with no answer\n"
      "  --dns-sockets N        UDP sockets to spread queries over (default 1)\n"
      "\n"
      "Finding the knee (dns or sort mode, open loop):\n"
      "  --ramp                 step the rate up until a step fails: more than\n"
      "                         0.1% errors, or p99 above --ramp-p99-ms; then print\n"
      "                         the highest rate held and its p99\n"
      "  --ramp-start R         first step's rate (default 1000)\n"
      "  --ramp-step STEP       '2x' multiplies the rate each step, '500' adds\n"
      "                         (default 2x)\n"
      "  --ramp-step-duration S seconds per step (default 2; at most 1000 steps)\n"
      "  --ramp-p99-ms MS       p99 bound in milliseconds (default 10)\n"
      "\n"
      "Output:\n"
      "  --json                 print the final report as one JSON object\n"
      "  --help, --version\n"
      "\n"
      "Error kinds: connect_refused, timeout, error_reply ({\"error\": ...} or an\n"
      "unexpected DNS RCODE), wrong_reply (fails verification), io_error,\n"
      "overload. Latency percentiles cover every request that got a reply.\n"
      "\n"
      "Exit status: 0 when every request succeeded (with --ramp: when at least\n"
      "one step held), 1 when any request failed, 2 on a bad argument, 3 when the\n"
      "run could not be set up.\n",
      f);
}

const char *load_mode_name(load_mode_t m) {
  switch (m) {
  case LOAD_MODE_DNS:
    return "dns";
  case LOAD_MODE_SORT:
    return "sort";
  case LOAD_MODE_MIXED:
    return "mixed";
  }
  return "?";
}

static __attribute__((format(printf, 3, 4))) load_opts_result_t fail(char *err, size_t errlen,
                                                                     const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(err, errlen, fmt, ap);
  va_end(ap);
  return LOAD_OPTS_ERROR;
}

int load_parse_addr(const char *text, struct sockaddr_storage *out) {
  /* A server to load: loop_parse_addr's form, minus port 0. */
  if (loop_parse_addr(text, out) != 0 || loop_addr_port((const struct sockaddr *)out) == 0)
    return -1;
  return 0;
}

static int parse_u64(const char *text, uint64_t min, uint64_t max, uint64_t *out) {
  if (*text < '0' || *text > '9')
    return -1;
  errno = 0;
  char *end;
  unsigned long long v = strtoull(text, &end, 10);
  if (errno != 0 || *end != '\0' || v < min || v > max)
    return -1;
  *out = v;
  return 0;
}

static int parse_unsigned(const char *text, unsigned min, unsigned max, unsigned *out) {
  uint64_t v;
  if (parse_u64(text, min, max, &v) != 0)
    return -1;
  *out = (unsigned)v;
  return 0;
}

/* A finite number in [min, max]; "0.5" and "1e3" welcome. */
static int parse_double(const char *text, double min, double max, double *out) {
  if (!((*text >= '0' && *text <= '9') || *text == '.'))
    return -1;
  errno = 0;
  char *end;
  double v = strtod(text, &end);
  if (errno != 0 || *end != '\0' || !isfinite(v) || v < min || v > max)
    return -1;
  *out = v;
  return 0;
}

/* "2x" or "x2" multiplies, "500" or "+500" adds. */
static int parse_ramp_step(const char *text, load_opts_t *o) {
  size_t len = strlen(text);
  char buf[64];
  if (len == 0 || len >= sizeof(buf))
    return -1;
  if (text[len - 1] == 'x' || text[0] == 'x') {
    memcpy(buf, text[0] == 'x' ? text + 1 : text, len - 1);
    buf[len - 1] = '\0';
    double f;
    if (parse_double(buf, 1.0001, 1000.0, &f) != 0)
      return -1;
    o->ramp_factor = f;
    o->ramp_add = 0.0;
    return 0;
  }
  double a;
  if (parse_double(text[0] == '+' ? text + 1 : text, 1e-3, MAX_RATE, &a) != 0)
    return -1;
  o->ramp_add = a;
  o->ramp_factor = 0.0;
  return 0;
}

static int parse_qtype(const char *text, load_opts_t *o) {
  static const struct {
    const char *name;
    uint16_t type;
  } types[] = {{"A", LOAD_DNS_TYPE_A},
               {"AAAA", LOAD_DNS_TYPE_AAAA},
               {"MX", LOAD_DNS_TYPE_MX},
               {"ANY", LOAD_DNS_TYPE_ANY}};
  for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
    if (strcasecmp(text, types[i].name) == 0) {
      o->qtype = types[i].type;
      o->qtype_name = types[i].name;
      return 0;
    }
  }
  return -1;
}

static int parse_mode(const char *text, load_mode_t *out) {
  if (strcmp(text, "dns") == 0)
    *out = LOAD_MODE_DNS;
  else if (strcmp(text, "sort") == 0)
    *out = LOAD_MODE_SORT;
  else if (strcmp(text, "mixed") == 0)
    *out = LOAD_MODE_MIXED;
  else
    return -1;
  return 0;
}

enum {
  OPT_MODE = 256,
  OPT_CONCURRENCY,
  OPT_RATE,
  OPT_MAX_OUTSTANDING,
  OPT_DNS_CONCURRENCY,
  OPT_DNS_RATE,
  OPT_SORT_CONCURRENCY,
  OPT_SORT_RATE,
  OPT_DURATION,
  OPT_REQUESTS,
  OPT_TIMEOUT,
  OPT_DRAIN,
  OPT_DNS_SERVER,
  OPT_SORT_SERVER,
  OPT_SIZE,
  OPT_SEED,
  OPT_PAYLOADS,
  OPT_PAYLOAD,
  OPT_QTYPE,
  OPT_DNS_SOCKETS,
  OPT_RAMP,
  OPT_RAMP_START,
  OPT_RAMP_STEP,
  OPT_RAMP_STEP_DURATION,
  OPT_RAMP_P99_MS,
  OPT_JSON,
};

static const struct option long_options[] = {
    {"mode", required_argument, NULL, OPT_MODE},
    {"concurrency", required_argument, NULL, OPT_CONCURRENCY},
    {"rate", required_argument, NULL, OPT_RATE},
    {"max-outstanding", required_argument, NULL, OPT_MAX_OUTSTANDING},
    {"dns-concurrency", required_argument, NULL, OPT_DNS_CONCURRENCY},
    {"dns-rate", required_argument, NULL, OPT_DNS_RATE},
    {"sort-concurrency", required_argument, NULL, OPT_SORT_CONCURRENCY},
    {"sort-rate", required_argument, NULL, OPT_SORT_RATE},
    {"duration", required_argument, NULL, OPT_DURATION},
    {"requests", required_argument, NULL, OPT_REQUESTS},
    {"timeout", required_argument, NULL, OPT_TIMEOUT},
    {"drain", required_argument, NULL, OPT_DRAIN},
    {"dns-server", required_argument, NULL, OPT_DNS_SERVER},
    {"sort-server", required_argument, NULL, OPT_SORT_SERVER},
    {"size", required_argument, NULL, OPT_SIZE},
    {"seed", required_argument, NULL, OPT_SEED},
    {"payloads", required_argument, NULL, OPT_PAYLOADS},
    {"payload", required_argument, NULL, OPT_PAYLOAD},
    {"qtype", required_argument, NULL, OPT_QTYPE},
    {"dns-sockets", required_argument, NULL, OPT_DNS_SOCKETS},
    {"ramp", no_argument, NULL, OPT_RAMP},
    {"ramp-start", required_argument, NULL, OPT_RAMP_START},
    {"ramp-step", required_argument, NULL, OPT_RAMP_STEP},
    {"ramp-step-duration", required_argument, NULL, OPT_RAMP_STEP_DURATION},
    {"ramp-p99-ms", required_argument, NULL, OPT_RAMP_P99_MS},
    {"json", no_argument, NULL, OPT_JSON},
    {"help", no_argument, NULL, 'h'},
    {"version", no_argument, NULL, 'V'},
    {NULL, 0, NULL, 0},
};

/* The option as the user typed it, for messages: "--rate". */
static const char *option_name(int code) {
  for (const struct option *lo = long_options; lo->name != NULL; lo++)
    if (lo->val == code)
      return lo->name;
  return "?";
}

/* What the command line said, before defaults and cross-checks. */
typedef struct {
  unsigned concurrency, dns_concurrency, sort_concurrency;
  double rate, dns_rate, sort_rate;
  bool have_mode, have_duration, have_drain, have_size, have_ramp_knob;
} given_t;

/* One generator's pace from its own options, else the shared ones, else the
 * default closed loop. */
static load_opts_result_t resolve_pace(const char *gen, unsigned own_conc, double own_rate,
                                       const given_t *g, load_pace_t *out, char *err,
                                       size_t errlen) {
  if (own_conc > 0 && own_rate > 0)
    return fail(err, errlen, "--%s-concurrency and --%s-rate exclude each other", gen, gen);
  if (own_conc > 0) {
    out->concurrency = own_conc;
    return LOAD_OPTS_RUN;
  }
  if (own_rate > 0) {
    out->rate = own_rate;
    return LOAD_OPTS_RUN;
  }
  if (g->concurrency > 0 && g->rate > 0)
    return fail(err, errlen,
                "--concurrency (closed loop) and --rate (open loop) exclude "
                "each other");
  if (g->rate > 0)
    out->rate = g->rate;
  else
    out->concurrency = g->concurrency > 0 ? g->concurrency : DEFAULT_CONCURRENCY;
  return LOAD_OPTS_RUN;
}

static load_opts_result_t check(load_opts_t *o, const given_t *g, char *err, size_t errlen) {
  load_opts_result_t rc;
  if (!(o->mode & LOAD_MODE_DNS) && (g->dns_concurrency || g->dns_rate))
    return fail(err, errlen, "--dns-concurrency/--dns-rate need mode dns or mixed");
  if (!(o->mode & LOAD_MODE_SORT) && (g->sort_concurrency || g->sort_rate))
    return fail(err, errlen, "--sort-concurrency/--sort-rate need mode sort or mixed");
  if (o->payload != NULL && g->have_size)
    return fail(err, errlen, "--payload and --size exclude each other");

  if (o->ramp) {
    if (o->mode == LOAD_MODE_MIXED)
      return fail(err, errlen, "--ramp needs mode dns or sort, not mixed");
    if (g->concurrency || g->rate || g->dns_concurrency || g->dns_rate || g->sort_concurrency ||
        g->sort_rate)
      return fail(err, errlen,
                  "--ramp sets the rate itself; drop "
                  "--concurrency/--rate");
    if (o->requests > 0)
      return fail(err, errlen, "--ramp and --requests exclude each other");
    o->dns.rate = o->sort.rate = o->ramp_start;
    if (!g->have_duration)
      o->duration_s = DEFAULT_RAMP_DURATION_S;
  } else {
    if (g->have_ramp_knob)
      return fail(err, errlen, "--ramp-* options need --ramp");
    if ((o->mode & LOAD_MODE_DNS) && (rc = resolve_pace("dns", g->dns_concurrency, g->dns_rate, g,
                                                        &o->dns, err, errlen)) != LOAD_OPTS_RUN)
      return rc;
    if ((o->mode & LOAD_MODE_SORT) &&
        (rc = resolve_pace("sort", g->sort_concurrency, g->sort_rate, g, &o->sort, err, errlen)) !=
            LOAD_OPTS_RUN)
      return rc;
    if (!g->have_duration && o->requests == 0)
      o->duration_s = DEFAULT_DURATION_S;
  }
  if (!g->have_drain)
    o->drain_s = o->timeout_s < DEFAULT_DRAIN_S ? o->timeout_s : DEFAULT_DRAIN_S;
  return LOAD_OPTS_RUN;
}

static void set_defaults(load_opts_t *o) {
  memset(o, 0, sizeof(*o));
  o->max_outstanding = 1000;
  o->timeout_s = 5.0;
  load_parse_addr("127.0.0.1:4343", &o->dns_server);
  load_parse_addr("127.0.0.1:2015", &o->sort_server);
  o->size = 100;
  o->seed = 1;
  o->payloads = 16;
  o->qtype = LOAD_DNS_TYPE_A;
  o->qtype_name = "A";
  o->dns_sockets = 1;
  o->ramp_start = 1000.0;
  o->ramp_factor = 2.0;
  o->ramp_step_s = 2.0;
  o->ramp_p99_ms = 10.0;
}

typedef enum {
  ONE_OK,
  ONE_BAD_VALUE,
  ONE_UNKNOWN, /* not one of the options parse_one knows */
} one_result_t;

/* Pacing and the length of the run (and --mode). */
static one_result_t parse_pacing(int c, const char *arg, load_opts_t *o, given_t *g) {
  int bad = 0;
  switch (c) {
  case OPT_MODE:
    bad = parse_mode(arg, &o->mode);
    g->have_mode = true;
    break;
  case OPT_CONCURRENCY:
    bad = parse_unsigned(arg, 1, 100000, &g->concurrency);
    break;
  case OPT_DNS_CONCURRENCY:
    bad = parse_unsigned(arg, 1, 100000, &g->dns_concurrency);
    break;
  case OPT_SORT_CONCURRENCY:
    bad = parse_unsigned(arg, 1, 100000, &g->sort_concurrency);
    break;
  case OPT_RATE:
    bad = parse_double(arg, 0.001, MAX_RATE, &g->rate);
    break;
  case OPT_DNS_RATE:
    bad = parse_double(arg, 0.001, MAX_RATE, &g->dns_rate);
    break;
  case OPT_SORT_RATE:
    bad = parse_double(arg, 0.001, MAX_RATE, &g->sort_rate);
    break;
  case OPT_MAX_OUTSTANDING:
    bad = parse_u64(arg, 1, 1000000, &o->max_outstanding);
    break;
  case OPT_DURATION:
    bad = parse_double(arg, 0.001, MAX_SECONDS, &o->duration_s);
    g->have_duration = true;
    break;
  case OPT_REQUESTS:
    bad = parse_u64(arg, 1, UINT64_MAX / 2, &o->requests);
    break;
  case OPT_TIMEOUT:
    bad = parse_double(arg, 0.001, MAX_TIMEOUT_S, &o->timeout_s);
    break;
  case OPT_DRAIN:
    bad = parse_double(arg, 0.0, MAX_SECONDS, &o->drain_s);
    g->have_drain = true;
    break;
  default:
    return ONE_UNKNOWN;
  }
  return bad ? ONE_BAD_VALUE : ONE_OK;
}

/* The targets and the requests sent to them. */
static one_result_t parse_request(int c, const char *arg, load_opts_t *o, given_t *g) {
  uint64_t u64 = 0;
  int bad = 0;
  switch (c) {
  case OPT_DNS_SERVER:
    bad = load_parse_addr(arg, &o->dns_server);
    break;
  case OPT_SORT_SERVER:
    bad = load_parse_addr(arg, &o->sort_server);
    break;
  case OPT_SIZE:
    bad = parse_u64(arg, 0, MAX_SIZE, &u64);
    o->size = (size_t)u64;
    g->have_size = true;
    break;
  case OPT_SEED:
    bad = parse_u64(arg, 0, UINT64_MAX, &o->seed);
    break;
  case OPT_PAYLOADS:
    bad = parse_unsigned(arg, 1, 1024, &o->payloads);
    break;
  case OPT_PAYLOAD:
    o->payload = arg;
    break;
  case OPT_QTYPE:
    bad = parse_qtype(arg, o);
    break;
  case OPT_DNS_SOCKETS:
    bad = parse_unsigned(arg, 1, 64, &o->dns_sockets);
    break;
  default:
    return ONE_UNKNOWN;
  }
  return bad ? ONE_BAD_VALUE : ONE_OK;
}

/* --ramp and its knobs, and the output. */
static one_result_t parse_ramp(int c, const char *arg, load_opts_t *o, given_t *g) {
  int bad = 0;
  switch (c) {
  case OPT_RAMP:
    o->ramp = true;
    break;
  case OPT_RAMP_START:
    bad = parse_double(arg, 0.001, MAX_RATE, &o->ramp_start);
    g->have_ramp_knob = true;
    break;
  case OPT_RAMP_STEP:
    bad = parse_ramp_step(arg, o);
    g->have_ramp_knob = true;
    break;
  case OPT_RAMP_STEP_DURATION:
    bad = parse_double(arg, 0.01, MAX_SECONDS, &o->ramp_step_s);
    g->have_ramp_knob = true;
    break;
  case OPT_RAMP_P99_MS:
    bad = parse_double(arg, 0.001, 100000.0, &o->ramp_p99_ms);
    g->have_ramp_knob = true;
    break;
  case OPT_JSON:
    o->json = true;
    break;
  default:
    return ONE_UNKNOWN;
  }
  return bad ? ONE_BAD_VALUE : ONE_OK;
}

/* One option of long_options other than --help and --version. */
static one_result_t parse_one(int c, const char *arg, load_opts_t *o, given_t *g) {
  one_result_t r = parse_pacing(c, arg, o, g);
  if (r == ONE_UNKNOWN)
    r = parse_request(c, arg, o, g);
  if (r == ONE_UNKNOWN)
    r = parse_ramp(c, arg, o, g);
  return r;
}

/* The positional arguments, which getopt_long has moved to the end: the
 * mode, if no --mode said it otherwise. */
static load_opts_result_t parse_modes(int argc, char **argv, load_opts_t *o, bool have_mode,
                                      char *err, size_t errlen) {
  for (; optind < argc; optind++) {
    load_mode_t m;
    if (parse_mode(argv[optind], &m) != 0)
      return fail(err, errlen, "unexpected argument '%s' (MODE is dns, sort or mixed)",
                  argv[optind]);
    if (have_mode && m != o->mode)
      return fail(err, errlen, "two modes given: %s and %s", load_mode_name(o->mode), argv[optind]);
    o->mode = m;
    have_mode = true;
  }
  if (!have_mode)
    return fail(err, errlen, "no mode given: dns, sort or mixed (see --help)");
  return LOAD_OPTS_RUN;
}

load_opts_result_t load_opts_parse(int argc, char **argv, load_opts_t *o, char *err,
                                   size_t errlen) {
  given_t g;
  memset(&g, 0, sizeof(g));
  set_defaults(o);

  opterr = 0; /* our own one-line messages, not getopt's */
  optind = 1;
  int c;
  while ((c = getopt_long(argc, argv, ":hV", long_options, NULL)) != -1) {
    if (c == 'h')
      return LOAD_OPTS_HELP;
    if (c == 'V')
      return LOAD_OPTS_VERSION;
    if (c == ':')
      return fail(err, errlen, "%s needs a value", argv[optind - 1]);
    one_result_t r = parse_one(c, optarg, o, &g);
    if (r == ONE_UNKNOWN && optopt != 0 && optopt < 256)
      return fail(err, errlen, "unknown option -%c (see --help)", optopt);
    if (r == ONE_UNKNOWN)
      return fail(err, errlen, "unknown option %s (see --help)", argv[optind - 1]);
    if (r == ONE_BAD_VALUE)
      return fail(err, errlen, "--%s: bad value '%s' (see --help)", option_name(c), optarg);
  }
  load_opts_result_t rc = parse_modes(argc, argv, o, g.have_mode, err, errlen);
  if (rc != LOAD_OPTS_RUN)
    return rc;
  return check(o, &g, err, errlen);
}
