/* dns_load: hosts files, --map specs and building a zone from them. */
#include "test_util.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "dns_load.h"
#include "dns_map.h"
#include "dns_wire.h"
#include "dns_zone.h"

typedef struct {
  dns_map_t *map;
  char err[512];
} fixture_t;

static int map_setup(void **state) {
  fixture_t *fx = calloc(1, sizeof(*fx));
  if (fx == NULL)
    return -1;
  fx->map = dns_map_new();
  *state = fx;
  return fx->map == NULL ? -1 : 0;
}

static int map_teardown(void **state) {
  fixture_t *fx = *state;
  dns_map_free(fx->map);
  free(fx);
  return 0;
}

/* "a.b" -> 1a1b0. */
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

static const dns_map_entry_t *find(const dns_map_t *map, const char *name) {
  uint8_t wire[DNS_MAX_NAME + 2];
  return dns_map_lookup(map, wire, to_wire(name, wire));
}

static int parse(fixture_t *fx, const char *text) {
  fx->err[0] = '\0';
  return dns_hosts_parse(fx->map, text, strlen(text), "hosts.txt", fx->err,
                         sizeof(fx->err));
}

/* The text must fail with exactly this message. */
static void assert_hosts_error(fixture_t *fx, const char *text,
                               const char *message) {
  assert_int_equal(parse(fx, text), -1);
  assert_string_equal(fx->err, message);
}

static void assert_a(const dns_map_t *map, const char *name, size_t i,
                     const uint8_t *addr) {
  const dns_map_entry_t *e = find(map, name);
  assert_non_null(e);
  assert_true(i < e->n_a);
  assert_memory_equal(e->a[i], addr, 4);
}

/* --- hosts(5) --- */

static void test_hosts_simple_lines(void **state) {
  fixture_t *fx = *state;

  assert_int_equal(parse(fx, "192.0.2.1 one.example\n"
                             "192.0.2.2\ttwo.example\n"),
                   0);
  assert_int_equal(dns_map_size(fx->map), 2);
  assert_a(fx->map, "one.example", 0, (uint8_t[]){192, 0, 2, 1});
  assert_a(fx->map, "two.example", 0, (uint8_t[]){192, 0, 2, 2});
}

static void test_hosts_aliases_all_get_the_address(void **state) {
  fixture_t *fx = *state;

  assert_int_equal(
      parse(fx, "192.0.2.7 canon.example alias1 Alias2.Example.\n"), 0);
  assert_int_equal(dns_map_size(fx->map), 3);
  assert_a(fx->map, "canon.example", 0, (uint8_t[]){192, 0, 2, 7});
  assert_a(fx->map, "alias1", 0, (uint8_t[]){192, 0, 2, 7});
  assert_a(fx->map, "alias2.example", 0, (uint8_t[]){192, 0, 2, 7});
}

static void test_hosts_comments_and_blank_lines(void **state) {
  fixture_t *fx = *state;

  assert_int_equal(parse(fx, "# a comment line\n"
                             "\n"
                             "   \t  \n"
                             "   # indented comment\n"
                             "192.0.2.1 one.example # trailing comment\n"
                             "192.0.2.2 two.example#glued comment\n"
                             "#192.0.2.3 commented.example\n"
                             "192.0.2.4 four.example #\n"),
                   0);
  assert_int_equal(dns_map_size(fx->map), 3);
  assert_non_null(find(fx->map, "one.example"));
  assert_non_null(find(fx->map, "two.example"));
  assert_null(find(fx->map, "commented.example"));
  assert_non_null(find(fx->map, "four.example"));
}

static void test_hosts_tabs_spaces_and_no_final_newline(void **state) {
  fixture_t *fx = *state;

  assert_int_equal(parse(fx, "  \t192.0.2.1 \t \t one.example\t \n"
                             "192.0.2.2 last.example"),
                   0);
  assert_a(fx->map, "one.example", 0, (uint8_t[]){192, 0, 2, 1});
  assert_a(fx->map, "last.example", 0, (uint8_t[]){192, 0, 2, 2});
}

static void test_hosts_ipv6(void **state) {
  fixture_t *fx = *state;
  const uint8_t loop6[16] = {[15] = 1};
  const uint8_t doc6[16] = {0x20, 0x01, 0x0d, 0xb8, [15] = 0x42};
  const uint8_t mapped[16] = {[10] = 0xff, [11] = 0xff, 192, 0, 2, 1};

  assert_int_equal(parse(fx, "::1 localhost ip6-localhost\n"
                             "2001:DB8::42 v6.example\n"
                             "::ffff:192.0.2.1 mapped.example\n"
                             "127.0.0.1 localhost\n"),
                   0);
  const dns_map_entry_t *e = find(fx->map, "localhost");
  assert_non_null(e);
  assert_int_equal(e->n_aaaa, 1);
  assert_memory_equal(e->aaaa[0], loop6, 16);
  assert_int_equal(e->n_a, 1);
  e = find(fx->map, "v6.example");
  assert_non_null(e);
  assert_int_equal(e->n_a, 0);
  assert_memory_equal(e->aaaa[0], doc6, 16);
  /* An IPv4-mapped address is an IPv6 address: AAAA, as written. */
  e = find(fx->map, "mapped.example");
  assert_non_null(e);
  assert_int_equal(e->n_aaaa, 1);
  assert_memory_equal(e->aaaa[0], mapped, 16);
}

static void test_hosts_duplicates_are_kept_once_in_file_order(void **state) {
  fixture_t *fx = *state;

  assert_int_equal(parse(fx, "192.0.2.2 dup.example\n"
                             "192.0.2.1 dup.example\n"
                             "192.0.2.2 dup.example DUP.example\n"
                             "192.0.2.3 dup.example\n"),
                   0);
  const dns_map_entry_t *e = find(fx->map, "dup.example");
  assert_non_null(e);
  assert_int_equal(e->n_a, 3);
  assert_memory_equal(e->a[0], ((uint8_t[]){192, 0, 2, 2}), 4);
  assert_memory_equal(e->a[1], ((uint8_t[]){192, 0, 2, 1}), 4);
  assert_memory_equal(e->a[2], ((uint8_t[]){192, 0, 2, 3}), 4);
}

static void test_hosts_crlf_line_endings(void **state) {
  fixture_t *fx = *state;

  assert_int_equal(parse(fx, "# windows\r\n"
                             "192.0.2.1 crlf.example\r\n"
                             "\r\n"
                             "192.0.2.2 other.example alias # c\r\n"),
                   0);
  assert_int_equal(dns_map_size(fx->map), 3);
  assert_a(fx->map, "crlf.example", 0, (uint8_t[]){192, 0, 2, 1});
  assert_a(fx->map, "alias", 0, (uint8_t[]){192, 0, 2, 2});
  /* And line numbers still count CRLF lines. */
  assert_hosts_error(fx, "192.0.2.1 a\r\n192.0.2.1 b\r\nbad c\r\n",
                     "hosts.txt:3: invalid address 'bad'");
}

static void test_hosts_utf8_bom_is_skipped(void **state) {
  fixture_t *fx = *state;

  assert_int_equal(parse(fx, "\xEF\xBB\xBF" "192.0.2.1 bom.example\n"), 0);
  assert_non_null(find(fx->map, "bom.example"));
}

static void test_hosts_wildcards(void **state) {
  fixture_t *fx = *state;
  uint8_t wire[64];

  assert_int_equal(parse(fx, "192.0.2.9 *.dev.example *.Test\n"), 0);
  assert_non_null(dns_map_lookup_wildcard(fx->map, wire,
                                          to_wire("dev.example", wire)));
  assert_non_null(dns_map_lookup_wildcard(fx->map, wire,
                                          to_wire("test", wire)));
  assert_hosts_error(
      fx, "192.0.2.1 ok.example\n192.0.2.9 a.*.example\n",
      "hosts.txt:2: invalid name 'a.*.example': '*' is allowed only as the "
      "whole first label");
}

static void test_hosts_empty_text_is_fine(void **state) {
  fixture_t *fx = *state;

  assert_int_equal(dns_hosts_parse(fx->map, NULL, 0, "x", fx->err,
                                   sizeof(fx->err)),
                   0);
  assert_int_equal(parse(fx, ""), 0);
  assert_int_equal(parse(fx, "\n\n\n"), 0);
  assert_int_equal(dns_map_size(fx->map), 0);
}

/* Every error, each with its line number. */

static void test_hosts_error_bad_address(void **state) {
  fixture_t *fx = *state;

  assert_hosts_error(fx, "192.0.2.1 a\n\n192.0.2.256 b\n",
                     "hosts.txt:3: invalid address '192.0.2.256'");
  assert_hosts_error(fx, "localhost 127.0.0.1\n",
                     "hosts.txt:1: invalid address 'localhost'");
  /* inet_pton's strict dotted quad: no "127.1" shorthand. */
  assert_hosts_error(fx, "# x\n127.1 short\n",
                     "hosts.txt:2: invalid address '127.1'");
  assert_hosts_error(fx, "2001:db8:::1 v6\n",
                     "hosts.txt:1: invalid address '2001:db8:::1'");
}

static void test_hosts_error_scoped_ipv6(void **state) {
  fixture_t *fx = *state;

  assert_hosts_error(fx, "\n\nfe80::1%eth0 router\n",
                     "hosts.txt:3: invalid address 'fe80::1%eth0': a scoped "
                     "address (%zone) cannot be served");
}

static void test_hosts_error_address_without_name(void **state) {
  fixture_t *fx = *state;

  assert_hosts_error(fx, "192.0.2.1 a\n192.0.2.2   # only a comment\n",
                     "hosts.txt:2: no name after address '192.0.2.2'");
  assert_hosts_error(fx, "::1", "hosts.txt:1: no name after address '::1'");
}

static void test_hosts_error_invalid_names(void **state) {
  fixture_t *fx = *state;
  char text[700], label64[65];

  assert_hosts_error(fx, "192.0.2.1 ok\n192.0.2.1 a..b\n",
                     "hosts.txt:2: invalid name 'a..b': empty label");
  assert_hosts_error(fx, "192.0.2.1 .lead\n",
                     "hosts.txt:1: invalid name '.lead': empty label");

  memset(label64, 'x', 64);
  label64[64] = '\0';
  snprintf(text, sizeof(text), "\n\n\n192.0.2.1 ok %s.example\n", label64);
  assert_hosts_error(fx, text,
                     "hosts.txt:4: invalid name 'xxxxxxxxxxxxxxxxxxxxxxxxx"
                     "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx...': label "
                     "longer than 63 octets");

  /* Five labels of 60: 5 * 61 + 1 = 306 octets. */
  char name[400];
  size_t pos = 0;
  for (int i = 0; i < 5; i++) {
    memset(name + pos, 'a' + i, 60);
    pos += 60;
    name[pos++] = '.';
  }
  name[pos - 1] = '\0';
  snprintf(text, sizeof(text), "192.0.2.1 %s\n", name);
  assert_int_equal(parse(fx, text), -1);
  /* Long tokens are cut in messages. */
  assert_string_equal(fx->err,
                      "hosts.txt:1: invalid name 'aaaaaaaaaaaaaaaaaaaaaaaaaaaa"
                      "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.bbb...': name longer "
                      "than 255 octets");
}

static void test_hosts_error_long_line(void **state) {
  fixture_t *fx = *state;
  char *text = malloc(2 * 4200);
  size_t pos;

  assert_non_null(text);
  /* Exactly 4096 bytes (with CRLF, too) is fine: a long alias list. */
  pos = (size_t)sprintf(text, "192.0.2.1 a");
  while (pos < 4096)
    pos += (size_t)sprintf(text + pos, pos + 2 <= 4096 ? " b" : "c");
  assert_int_equal(pos, 4096);
  strcpy(text + pos, "\r\n");
  assert_int_equal(parse(fx, text), 0);

  /* One byte more, on line 2. */
  memmove(text + 12, text, 4096);
  memcpy(text, "# first    \n", 12);
  strcpy(text + 12 + 4096, "b\n");
  assert_hosts_error(fx, text, "hosts.txt:2: line longer than 4096 bytes");
  free(text);
}

static void test_hosts_error_control_characters(void **state) {
  fixture_t *fx = *state;
  const char text[] = "192.0.2.1 a\n192.0.2.1 b\0c\n";

  assert_int_equal(dns_hosts_parse(fx->map, text, sizeof(text) - 1,
                                   "bin", fx->err, sizeof(fx->err)),
                   -1);
  assert_string_equal(fx->err, "bin:2: control character: not a text file?");
  assert_hosts_error(fx, "192.0.2.1 a\x1b[31m\n",
                     "hosts.txt:1: control character: not a text file?");
  /* Inside a comment they do no harm. */
  assert_int_equal(parse(fx, "192.0.2.1 ok # \x01\x02\n"), 0);
}

static void test_hosts_error_names_source_or_a_default(void **state) {
  fixture_t *fx = *state;

  assert_int_equal(dns_hosts_parse(fx->map, "x y\n", 4, NULL, fx->err,
                                   sizeof(fx->err)),
                   -1);
  assert_string_equal(fx->err, "hosts:1: invalid address 'x'");
  /* A short error buffer is cut, never overrun; none at all is fine. */
  char tiny[8];
  assert_int_equal(dns_hosts_parse(fx->map, "x y\n", 4, "file", tiny,
                                   sizeof(tiny)),
                   -1);
  assert_string_equal(tiny, "file:1:");
  assert_int_equal(dns_hosts_parse(fx->map, "x y\n", 4, "file", NULL, 0), -1);
}

static void test_hosts_too_many_addresses_for_a_name(void **state) {
  fixture_t *fx = *state;
  size_t cap = (DNS_MAP_MAX_ADDRS + 1) * 32;
  char *text = malloc(cap);
  size_t pos = 0;

  assert_non_null(text);
  for (unsigned i = 0; i <= DNS_MAP_MAX_ADDRS; i++)
    pos += (size_t)snprintf(text + pos, cap - pos, "10.0.%u.%u big\n",
                            i >> 8, i & 0xff);
  assert_hosts_error(fx, text,
                     "hosts.txt:2049: too many addresses for 'big': at most "
                     "2048");
  free(text);
}

/* --- --map NAME=ADDR[,ADDR...] --- */

static int spec(fixture_t *fx, const char *s) {
  fx->err[0] = '\0';
  return dns_map_spec_parse(fx->map, s, fx->err, sizeof(fx->err));
}

static void assert_spec_error(fixture_t *fx, const char *s,
                              const char *message) {
  assert_int_equal(spec(fx, s), -1);
  assert_string_equal(fx->err, message);
}

static void test_spec_one_and_several_addresses(void **state) {
  fixture_t *fx = *state;

  assert_int_equal(spec(fx, "one.example=192.0.2.1"), 0);
  assert_int_equal(spec(fx, "Multi.Example.=192.0.2.1,2001:db8::1,192.0.2.2"),
                   0);
  assert_int_equal(spec(fx, "*.wild.example=192.0.2.3"), 0);
  assert_a(fx->map, "one.example", 0, (uint8_t[]){192, 0, 2, 1});
  const dns_map_entry_t *e = find(fx->map, "multi.example");
  assert_non_null(e);
  assert_int_equal(e->n_a, 2);
  assert_int_equal(e->n_aaaa, 1);
  assert_memory_equal(e->a[1], ((uint8_t[]){192, 0, 2, 2}), 4);
  assert_true(dns_map_entry_is_wildcard(dns_map_at(fx->map, 2)));
}

static void test_spec_errors_name_the_spec(void **state) {
  fixture_t *fx = *state;

  assert_spec_error(fx, "one.example",
                    "--map 'one.example': expected NAME=ADDR[,ADDR...]");
  assert_spec_error(fx, "=192.0.2.1",
                    "--map '=192.0.2.1': invalid name '': empty name");
  assert_spec_error(fx, "a=", "--map 'a=': empty address");
  assert_spec_error(fx, "a=192.0.2.1,", "--map 'a=192.0.2.1,': empty address");
  assert_spec_error(fx, "a=192.0.2.1,,192.0.2.2",
                    "--map 'a=192.0.2.1,,192.0.2.2': empty address");
  assert_spec_error(fx, "a=192.0.2.x",
                    "--map 'a=192.0.2.x': invalid address '192.0.2.x'");
  assert_spec_error(fx, "a= 192.0.2.1",
                    "--map 'a= 192.0.2.1': invalid address ' 192.0.2.1'");
  assert_spec_error(fx, "a=fe80::1%lo",
                    "--map 'a=fe80::1%lo': invalid address 'fe80::1%lo': a "
                    "scoped address (%zone) cannot be served");
  /* The name is checked before the addresses. */
  assert_spec_error(fx, "a..b=192.0.2.x",
                    "--map 'a..b=192.0.2.x': invalid name 'a..b': empty "
                    "label");
  assert_spec_error(fx, "x.*.y=192.0.2.1",
                    "--map 'x.*.y=192.0.2.1': invalid name 'x.*.y': '*' is "
                    "allowed only as the whole first label");
  assert_spec_error(fx, "a b=192.0.2.1",
                    "--map 'a b=192.0.2.1': invalid name 'a b': space or "
                    "control character");
  /* "a=b=c": the name is "a" and "b=c" is not an address. */
  assert_spec_error(fx, "a=b=c", "--map 'a=b=c': invalid address 'b=c'");
  assert_int_equal(dns_map_spec_parse(fx->map, NULL, fx->err,
                                      sizeof(fx->err)),
                   -1);
}

/* --- dns_load_zone --- */

typedef struct {
  char path[64];
} temp_file_t;

static void write_temp(temp_file_t *t, const char *text) {
  strcpy(t->path, "/tmp/dnsort-load-XXXXXX");
  int fd = mkstemp(t->path);
  assert_true(fd >= 0);
  size_t len = strlen(text);
  assert_int_equal(write(fd, text, len), (ssize_t)len);
  assert_int_equal(close(fd), 0);
}

/* The A answers a zone gives for name, as "a.b.c.d " strings. */
static void zone_a(const dns_zone_t *zone, const char *name, char *out,
                   size_t cap) {
  uint8_t q[300], reply[DNS_MAX_MESSAGE];
  const uint8_t header[] = {0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0};
  size_t n, qlen, len;

  memcpy(q, header, sizeof(header));
  qlen = sizeof(header) + to_wire(name, q + sizeof(header));
  memcpy(q + qlen, (uint8_t[]){0, DNS_TYPE_A, 0, DNS_CLASS_IN}, 4);
  qlen += 4;
  assert_int_equal(dns_zone_answer(zone, DNS_TRANSPORT_TCP, q, qlen, reply,
                                   sizeof(reply), &n),
                   DNS_REPLY_SEND);
  out[0] = '\0';
  len = 0;
  unsigned ancount = (unsigned)reply[6] << 8 | reply[7];
  for (unsigned i = 0; i < ancount; i++) {
    const uint8_t *rd = reply + qlen + i * 16 + 12;
    len += (size_t)snprintf(out + len, cap - len, "%u.%u.%u.%u ", rd[0], rd[1],
                            rd[2], rd[3]);
  }
}

static void test_load_zone_default_map_then_files_then_specs(void **state) {
  temp_file_t f1, f2;
  char err[512], got[256];
  (void)state;

  write_temp(&f1, "192.0.2.1 shared.example\n192.0.2.9 *.wild.example\n");
  write_temp(&f2, "192.0.2.2 shared.example facebook.com\n");
  const char *files[] = {f1.path, f2.path};
  const char *specs[] = {"shared.example=192.0.2.3,192.0.2.1"};
  dns_load_config_t cfg = {files, 2, specs, 1, true, {0}};
  dns_zone_options_default(&cfg.options);

  dns_zone_t *zone = dns_load_zone(&cfg, err, sizeof(err));
  assert_non_null(zone);
  /* 3 seed names + shared + the wildcard. */
  assert_int_equal(dns_zone_names(zone), 5);
  zone_a(zone, "shared.example", got, sizeof(got));
  assert_string_equal(got, "192.0.2.1 192.0.2.2 192.0.2.3 ");
  zone_a(zone, "facebook.com", got, sizeof(got));
  assert_string_equal(got, "173.252.120.6 192.0.2.2 ");
  zone_a(zone, "x.wild.example", got, sizeof(got));
  assert_string_equal(got, "192.0.2.9 ");
  zone_a(zone, "unknown.example", got, sizeof(got));
  assert_string_equal(got, "127.0.0.1 ");
  dns_zone_free(zone);

  /* Without the default map the seed names are unknown. */
  cfg.default_map = false;
  zone = dns_load_zone(&cfg, err, sizeof(err));
  assert_non_null(zone);
  assert_int_equal(dns_zone_names(zone), 3);
  zone_a(zone, "facebook.com", got, sizeof(got));
  assert_string_equal(got, "192.0.2.2 ");
  zone_a(zone, "yougov.com", got, sizeof(got));
  assert_string_equal(got, "127.0.0.1 ");
  dns_zone_free(zone);

  unlink(f1.path);
  unlink(f2.path);
}

static void test_load_zone_with_nothing_is_the_seed(void **state) {
  char err[64], got[64];
  dns_load_config_t cfg = {NULL, 0, NULL, 0, true, {0}};
  (void)state;

  dns_zone_options_default(&cfg.options);
  dns_zone_t *zone = dns_load_zone(&cfg, err, sizeof(err));
  assert_non_null(zone);
  assert_int_equal(dns_zone_names(zone), 3);
  zone_a(zone, "wipo.int", got, sizeof(got));
  assert_string_equal(got, "193.5.93.80 ");
  dns_zone_free(zone);
}

static void test_load_zone_error_on_line_n_of_the_second_file(void **state) {
  temp_file_t f1, f2;
  char err[512], expected[600];
  (void)state;

  write_temp(&f1, "192.0.2.1 fine.example\n");
  write_temp(&f2, "# ok\n192.0.2.2 also.fine\n\n192.0.2.3 bad..name\n");
  const char *files[] = {f1.path, f2.path};
  dns_load_config_t cfg = {files, 2, NULL, 0, true, {0}};
  dns_zone_options_default(&cfg.options);

  assert_null(dns_load_zone(&cfg, err, sizeof(err)));
  snprintf(expected, sizeof(expected),
           "%s:4: invalid name 'bad..name': empty label", f2.path);
  assert_string_equal(err, expected);
  unlink(f1.path);
  unlink(f2.path);
}

static void test_load_zone_missing_file(void **state) {
  temp_file_t f1;
  char err[512];
  (void)state;

  write_temp(&f1, "192.0.2.1 fine.example\n");
  const char *files[] = {f1.path, "/nonexistent/dnsort-hosts"};
  dns_load_config_t cfg = {files, 2, NULL, 0, false, {0}};
  dns_zone_options_default(&cfg.options);

  assert_null(dns_load_zone(&cfg, err, sizeof(err)));
  assert_string_equal(err,
                      "/nonexistent/dnsort-hosts: No such file or directory");
  unlink(f1.path);
}

static void test_load_zone_directory_is_an_error(void **state) {
  char err[512];
  const char *files[] = {"/tmp"};
  dns_load_config_t cfg = {files, 1, NULL, 0, false, {0}};
  (void)state;

  dns_zone_options_default(&cfg.options);
  assert_null(dns_load_zone(&cfg, err, sizeof(err)));
  assert_string_equal(err, "/tmp: Is a directory");
}

static void test_load_zone_file_over_64_mib_is_refused(void **state) {
  temp_file_t f;
  char err[512], expected[128];
  (void)state;

  /* Sparse: 64 MiB + 1 of zero bytes without writing them. */
  write_temp(&f, "");
  assert_int_equal(truncate(f.path, 64 * 1024 * 1024 + 1), 0);
  const char *files[] = {f.path};
  dns_load_config_t cfg = {files, 1, NULL, 0, false, {0}};
  dns_zone_options_default(&cfg.options);
  assert_null(dns_load_zone(&cfg, err, sizeof(err)));
  snprintf(expected, sizeof(expected), "%s: larger than 64 MiB", f.path);
  assert_string_equal(err, expected);
  unlink(f.path);
}

static void test_load_zone_spec_error_after_good_files(void **state) {
  temp_file_t f;
  char err[512];
  (void)state;

  write_temp(&f, "192.0.2.1 fine.example\n");
  const char *files[] = {f.path};
  const char *specs[] = {"ok=192.0.2.1", "bad"};
  dns_load_config_t cfg = {files, 1, specs, 2, false, {0}};
  dns_zone_options_default(&cfg.options);
  assert_null(dns_load_zone(&cfg, err, sizeof(err)));
  assert_string_equal(err, "--map 'bad': expected NAME=ADDR[,ADDR...]");
  unlink(f.path);
}

static void test_load_zone_bad_options(void **state) {
  char err[512];
  dns_load_config_t cfg = {NULL, 0, NULL, 0, true, {0}};
  (void)state;

  dns_zone_options_default(&cfg.options);
  cfg.options.ttl = 0x80000000u;
  assert_null(dns_load_zone(&cfg, err, sizeof(err)));
  assert_string_equal(err,
                      "zone options: TTL above 2147483647 (RFC 2181 8)");
  assert_null(dns_load_zone(NULL, err, sizeof(err)));
  assert_string_equal(err, "no configuration");
}

static void test_load_zone_applies_the_options(void **state) {
  char err[512], got[64];
  const char *specs[] = {"a.example=192.0.2.1"};
  dns_load_config_t cfg = {NULL, 0, specs, 1, false, {0}};
  uint8_t q[64], reply[512];
  size_t n;
  (void)state;

  dns_zone_options_default(&cfg.options);
  cfg.options.unknown = DNS_UNKNOWN_NXDOMAIN;
  cfg.options.ttl = 7;
  dns_zone_t *zone = dns_load_zone(&cfg, err, sizeof(err));
  assert_non_null(zone);
  zone_a(zone, "a.example", got, sizeof(got));
  assert_string_equal(got, "192.0.2.1 ");

  const uint8_t header[] = {0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0};
  memcpy(q, header, sizeof(header));
  size_t qlen = sizeof(header) + to_wire("b.example", q + sizeof(header));
  memcpy(q + qlen, (uint8_t[]){0, DNS_TYPE_A, 0, DNS_CLASS_IN}, 4);
  assert_int_equal(dns_zone_answer(zone, DNS_TRANSPORT_UDP, q, qlen + 4,
                                   reply, sizeof(reply), &n),
                   DNS_REPLY_SEND);
  assert_int_equal(reply[3] & 0x0f, DNS_RCODE_NXDOMAIN);
  dns_zone_free(zone);
}

#define MAP_TEST(f) cmocka_unit_test_setup_teardown(f, map_setup, map_teardown)

int main(void) {
  const struct CMUnitTest tests[] = {
      MAP_TEST(test_hosts_simple_lines),
      MAP_TEST(test_hosts_aliases_all_get_the_address),
      MAP_TEST(test_hosts_comments_and_blank_lines),
      MAP_TEST(test_hosts_tabs_spaces_and_no_final_newline),
      MAP_TEST(test_hosts_ipv6),
      MAP_TEST(test_hosts_duplicates_are_kept_once_in_file_order),
      MAP_TEST(test_hosts_crlf_line_endings),
      MAP_TEST(test_hosts_utf8_bom_is_skipped),
      MAP_TEST(test_hosts_wildcards),
      MAP_TEST(test_hosts_empty_text_is_fine),
      MAP_TEST(test_hosts_error_bad_address),
      MAP_TEST(test_hosts_error_scoped_ipv6),
      MAP_TEST(test_hosts_error_address_without_name),
      MAP_TEST(test_hosts_error_invalid_names),
      MAP_TEST(test_hosts_error_long_line),
      MAP_TEST(test_hosts_error_control_characters),
      MAP_TEST(test_hosts_error_names_source_or_a_default),
      MAP_TEST(test_hosts_too_many_addresses_for_a_name),
      MAP_TEST(test_spec_one_and_several_addresses),
      MAP_TEST(test_spec_errors_name_the_spec),
      cmocka_unit_test(test_load_zone_default_map_then_files_then_specs),
      cmocka_unit_test(test_load_zone_with_nothing_is_the_seed),
      cmocka_unit_test(test_load_zone_error_on_line_n_of_the_second_file),
      cmocka_unit_test(test_load_zone_missing_file),
      cmocka_unit_test(test_load_zone_directory_is_an_error),
      cmocka_unit_test(test_load_zone_file_over_64_mib_is_refused),
      cmocka_unit_test(test_load_zone_spec_error_after_good_files),
      cmocka_unit_test(test_load_zone_bad_options),
      cmocka_unit_test(test_load_zone_applies_the_options),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
