#!/usr/bin/env python3
"""The container files agree with each other: docker/Dockerfile (EXPOSE,
the DNSORT_* environment, HEALTHCHECK, USER, the Debian 13 build stage and
the FROM scratch runtime), docker/compose.yaml and docker/k8s.yaml (ports,
the addresses dnsortd listens on once the environment and arguments are
combined, the /health and /ready probes, grace periods, the hosts
ConfigMap).

Python standard library only. The YAML files are read by a small reader
for the block-style subset they are written in (mappings, sequences, flow
sequences of scalars, literal blocks, comments); when PyYAML is importable,
the files are also parsed with yaml.safe_load_all and both readings must be
equal, which proves the files are valid YAML and the reader right.

Run by meson test (suite integration), or directly:
    python3 tests/test_container_files.py [--root REPO]
"""
import argparse
import json
import os
import posixpath
import re
import shlex
import sys
import unittest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

HEALTH_CHECK = "/usr/local/bin/dnsort-check"
SERVER = "/usr/local/bin/dnsortd"
DNS_PORT = 4343
SORT_PORT = 2015
# Every container file must offer these (port, protocol) pairs, and the
# metrics port (also /health and /ready).
REQUIRED = {(DNS_PORT, "udp"), (DNS_PORT, "tcp"), (SORT_PORT, "tcp")}
METRICS = (9153, "tcp")
DEFAULT_GRACE_S = 5.0          # dnsortd --grace default
DEFAULT_CHECK_TIMEOUT_S = 2.0  # dnsort-check --timeout default
# The runtime libraries' package names, Debian 12's and 13's: the
# Dockerfile must not name them (docker/runtime-rootfs finds them).
RUNTIME_LIB_NAMES = {"libuv1", "libuv1t64", "libc-ares2", "libcares2", "libcjson1", "libhttp-parser2.9"}
# The build stage's -dev packages for those.
BUILD_LIBS = {"libuv1-dev", "libc-ares-dev", "libcjson-dev", "libhttp-parser-dev"}


# ---------------------------------------------------------------- YAML ----

class YamlSubsetError(ValueError):
    pass


def _strip_comment(text):
    """Drop a trailing ' # comment' outside quotes."""
    quote = None
    for i, ch in enumerate(text):
        if quote:
            if ch == quote:
                quote = None
        elif ch in "\"'":
            quote = ch
        elif ch == "#" and (i == 0 or text[i - 1] in " \t"):
            return text[:i].rstrip()
    return text.rstrip()


def _scalar(text, where):
    text = text.strip()
    if text.startswith('"'):
        if not text.endswith('"') or len(text) < 2:
            raise YamlSubsetError("%s: unterminated string %r" % (where, text))
        return json.loads(text)
    if text.startswith("'"):
        if not text.endswith("'") or len(text) < 2:
            raise YamlSubsetError("%s: unterminated string %r" % (where, text))
        return text[1:-1].replace("''", "'")
    if text.startswith("["):
        return _flow_seq(text, where)
    if text[:1] in ("{", "&", "*", "!", ">", "|", "%", "@", "`"):
        raise YamlSubsetError("%s: unsupported YAML syntax %r" % (where, text))
    if text in ("", "~", "null", "Null", "NULL"):
        return None
    if text in ("true", "True", "TRUE"):
        return True
    if text in ("false", "False", "FALSE"):
        return False
    if re.fullmatch(r"[-+]?(0|[1-9][0-9]*)", text):
        return int(text)
    if re.fullmatch(r"[-+]?([0-9]+\.[0-9]*|\.[0-9]+)([eE][-+]?[0-9]+)?", text):
        return float(text)
    if text.lower() in ("yes", "no", "on", "off", "y", "n"):
        # YAML 1.1 booleans: ambiguous between readers, so not allowed.
        raise YamlSubsetError("%s: quote %r (YAML 1.1 reads it as a boolean)" % (where, text))
    return text


def _flow_seq(text, where):
    if not text.endswith("]"):
        raise YamlSubsetError("%s: a flow sequence must end on its line: %r" % (where, text))
    inner = text[1:-1].strip()
    if not inner:
        return []
    items, cur, quote = [], "", None
    for ch in inner:
        if quote:
            cur += ch
            if ch == quote:
                quote = None
        elif ch in "\"'":
            quote = ch
            cur += ch
        elif ch in "[]{}":
            raise YamlSubsetError("%s: nested flow collections are not supported" % where)
        elif ch == ",":
            items.append(cur)
            cur = ""
        else:
            cur += ch
    items.append(cur)
    return [_scalar(i, where) for i in items]


def _split_key(content):
    """'key: rest' -> (key, rest), or None when content is not a mapping entry."""
    if content[:1] in ("'", '"'):
        end = content.find(content[0], 1)
        if end < 0 or content[end + 1:end + 2] != ":":
            return None
        key, rest = content[1:end], content[end + 2:]
        if rest and not rest.startswith(" "):
            return None
        return key, rest.strip()
    if content.startswith("["):
        return None
    m = re.match(r"([^\s:#][^:#]*?)\s*:(\s+|$)(.*)$", content)
    if not m:
        return None
    return m.group(1), m.group(3).strip()


class MiniYaml:
    """Reads the block-style YAML subset the container files use."""

    def __init__(self, text, name):
        self.name = name
        self.raw = text.split("\n")

    def documents(self):
        docs, start = [], 0
        for i, line in enumerate(self.raw + ["---"]):
            if line.rstrip() == "---" or i == len(self.raw):
                chunk = list(range(start, i))
                start = i + 1
                doc = self._document(chunk)
                if doc is not None or docs:
                    docs.append(doc)
        return [d for d in docs if d is not None]

    def _where(self, n):
        return "%s:%d" % (self.name, n + 1)

    def _document(self, numbers):
        self.lines = []  # [line number, indent, content]
        self.pos = 0
        self.numbers = numbers
        self.idx = 0
        # Significant lines are produced lazily, so that literal blocks can
        # take raw lines (comments included) first.
        if self._peek() is None:
            return None
        value = self._block(self._peek()[1])
        if self._peek() is not None:
            n, _, c = self._peek()
            raise YamlSubsetError("%s: unexpected %r" % (self._where(n), c))
        return value

    def _peek(self):
        while self.idx < len(self.numbers):
            n = self.numbers[self.idx]
            line = self.raw[n]
            if "\t" in line[:len(line) - len(line.lstrip())]:
                raise YamlSubsetError("%s: tab in indentation" % self._where(n))
            content = _strip_comment(line.strip())
            if content:
                return [n, len(line) - len(line.lstrip(" ")), content]
            self.idx += 1
        return None

    def _take(self):
        item = self._peek()
        self.idx += 1
        return item

    def _block(self, indent):
        n, ind, content = self._peek()
        if ind != indent:
            raise YamlSubsetError("%s: bad indentation" % self._where(n))
        if content == "-" or content.startswith("- "):
            return self._seq(indent)
        return self._map(indent)

    def _value_after_key(self, rest, indent, n):
        if rest in ("|", "|-", "|+"):
            return self._literal(indent, rest, n)
        if rest:
            return _scalar(rest, self._where(n))
        nxt = self._peek()
        if nxt is None:
            return None
        if nxt[1] > indent:
            return self._block(nxt[1])
        if nxt[1] == indent and (nxt[2] == "-" or nxt[2].startswith("- ")):
            return self._seq(indent)
        return None

    def _map(self, indent, first=None):
        out = {}
        while True:
            item = first if first is not None else self._peek()
            if item is None or item[1] < indent:
                return out
            n, ind, content = item
            if ind > indent:
                raise YamlSubsetError("%s: bad indentation" % self._where(n))
            if content == "-" or content.startswith("- "):
                return out
            kv = _split_key(content)
            if kv is None:
                raise YamlSubsetError("%s: expected 'key: value', got %r" % (self._where(n), content))
            if first is None:
                self.idx += 1
            first = None
            key, rest = kv
            if key in out:
                raise YamlSubsetError("%s: duplicate key %r" % (self._where(n), key))
            out[key] = self._value_after_key(rest, indent, n)

    def _seq(self, indent):
        out = []
        while True:
            item = self._peek()
            if item is None or item[1] != indent or not (item[2] == "-" or item[2].startswith("- ")):
                if item is not None and item[1] > indent:
                    raise YamlSubsetError("%s: bad indentation" % self._where(item[0]))
                return out
            n, ind, content = item
            self.idx += 1
            rest = content[1:].lstrip(" ")
            if not rest:
                nxt = self._peek()
                out.append(self._block(nxt[1]) if nxt is not None and nxt[1] > indent else None)
                continue
            inner = ind + (len(content) - len(rest))
            if _split_key(rest) is not None:
                out.append(self._map(inner, first=[n, inner, rest]))
            elif rest.startswith("- "):
                raise YamlSubsetError("%s: nested '- - ' is not supported" % self._where(n))
            else:
                out.append(_scalar(rest, self._where(n)))

    def _literal(self, indent, style, n):
        lines, block_indent = [], None
        while self.idx < len(self.numbers):
            line = self.raw[self.numbers[self.idx]]
            if line.strip():
                ind = len(line) - len(line.lstrip(" "))
                if ind <= indent:
                    break
                if block_indent is None:
                    block_indent = ind
                if ind < block_indent:
                    raise YamlSubsetError("%s: literal block less indented than its first line"
                                          % self._where(self.numbers[self.idx]))
                lines.append(line[block_indent:])
            else:
                lines.append("")
            self.idx += 1
        while lines and lines[-1] == "":
            lines.pop()
        text = "\n".join(lines)
        if style == "|-":
            return text
        if style == "|+":
            raise YamlSubsetError("%s: '|+' is not supported" % self._where(n))
        return text + "\n" if text else ""


def load_yaml_documents(path):
    with open(path, encoding="utf-8") as f:
        return MiniYaml(f.read(), os.path.relpath(path, ROOT)).documents()


# ---------------------------------------------------------- Dockerfile ----

def dockerfile_instructions(path):
    """[(INSTRUCTION, arguments)], continuation lines joined, comments dropped."""
    out, cur = [], ""
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.rstrip("\n")
            stripped = line.strip()
            if stripped.startswith("#") or (not stripped and not cur):
                continue
            if line.rstrip().endswith("\\"):
                cur += line.rstrip()[:-1] + " "
                continue
            cur += line
            word, _, args = cur.strip().partition(" ")
            out.append((word.upper(), args.strip()))
            cur = ""
    if cur.strip():
        raise AssertionError("Dockerfile ends inside a continued line")
    return out


def stages(instructions):
    """Split at FROM: [(from arguments, [(INSTRUCTION, args)...])]."""
    result = []
    for ins, args in instructions:
        if ins == "FROM":
            result.append((args, []))
        elif not result:
            if ins != "ARG":
                raise AssertionError("%s before the first FROM" % ins)
        else:
            result[-1][1].append((ins, args))
    return result


def exec_form(args, what):
    try:
        value = json.loads(args)
    except ValueError:
        raise AssertionError("%s is not in exec (JSON array) form: %s" % (what, args))
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise AssertionError("%s is not a JSON array of strings: %s" % (what, args))
    return value


def option(argv, name):
    """Value of --name in argv (as '--name V' or '--name=V'), or None."""
    for i, a in enumerate(argv):
        if a == name and i + 1 < len(argv):
            return argv[i + 1]
        if a.startswith(name + "="):
            return a[len(name) + 1:]
    return None


def split_addr(text, what):
    m = re.fullmatch(r"(\[[0-9a-fA-F:.]+\]|[0-9.]+):([0-9]{1,5})", text or "")
    if not m:
        raise AssertionError("%s: %r is not ADDR:PORT" % (what, text))
    return m.group(1).strip("[]"), int(m.group(2))


def duration_s(value, what):
    """Compose/Docker duration ('10s', '1m30s', '500ms') or a number of seconds."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    m = re.fullmatch(r"((?:\d+(?:\.\d+)?(?:h|ms|m|s|us|ns))+)", str(value))
    if not m:
        raise AssertionError("%s: %r is not a duration" % (what, value))
    scale = {"h": 3600, "m": 60, "s": 1, "ms": 1e-3, "us": 1e-6, "ns": 1e-9}
    return sum(float(n) * scale[u] for n, u in re.findall(r"(\d+(?:\.\d+)?)(h|ms|m|s|us|ns)", str(value)))


def port_proto(text, what):
    m = re.fullmatch(r"(\d{1,5})(?:/(tcp|udp|sctp))?", text.lower())
    if not m:
        raise AssertionError("%s: bad port %r" % (what, text))
    return int(m.group(1)), m.group(2) or "tcp"


class Image:
    """What the runtime stage of docker/Dockerfile promises."""

    def __init__(self, path):
        self.stages = stages(dockerfile_instructions(path))
        if not self.stages:
            raise AssertionError("Dockerfile has no FROM")
        self.runtime = self.stages[-1][1]

    def last(self, name):
        found = [args for ins, args in self.runtime if ins == name]
        return found[-1] if found else None

    def all(self, name):
        return [args for ins, args in self.runtime if ins == name]


def options(argv, name):
    """Every value of --name in argv, in order."""
    out = []
    for i, a in enumerate(argv):
        if a == name and i + 1 < len(argv):
            out.append(argv[i + 1])
        elif a.startswith(name + "="):
            out.append(a[len(name) + 1:])
    return out


def env_pairs(args, what):
    """An ENV instruction's KEY=VALUE pairs (or the old 'ENV KEY VALUE')."""
    words = shlex.split(args)
    if words and "=" not in words[0]:
        return {words[0]: " ".join(words[1:])}
    out = {}
    for w in words:
        if "=" not in w:
            raise AssertionError("%s: %r is not KEY=VALUE" % (what, w))
        k, _, v = w.partition("=")
        out[k] = v
    return out


def effective(env, argv, what):
    """What dnsortd serves, given its environment and arguments: an option
    on the command line wins over its DNSORT_<NAME> variable (issue 12's
    precedence; repeatable options are comma-separated in a variable).
    Returns {"dns": [(host, port)...], "sort": (host, port) or None,
    "metrics": (host, port) or None, "grace": seconds}."""
    def pick(name):
        given = options(argv, "--" + name)
        if given:
            return given
        var = env.get("DNSORT_" + name.upper().replace("-", "_"))
        return [v.strip() for v in var.split(",")] if var else []
    dns = [split_addr(a, what + " dns") for a in pick("dns")]
    sort = pick("sort")
    metrics = pick("metrics")
    grace = pick("grace")
    return {
        "dns": dns,
        "sort": split_addr(sort[-1], what + " sort") if sort else None,
        "metrics": split_addr(metrics[-1], what + " metrics") if metrics else None,
        "grace": float(grace[-1]) if grace else DEFAULT_GRACE_S,
    }


# Addresses that take connections from outside the container: every IPv4
# address, or every IPv6 one (which on Linux takes IPv4 too).
ANY_HOSTS = ("0.0.0.0", "::")


def check_serves_everywhere(test, eff, what):
    """DNS on 4343, sort on 2015, metrics on 9153, all reachable from
    outside the container."""
    test.assertTrue(eff["dns"], "%s: no DNS address" % what)
    for host, port in eff["dns"]:
        test.assertIn(host, ANY_HOSTS, "%s: DNS on %s is not reachable from outside" % (what, host))
        test.assertEqual(port, DNS_PORT, "%s: DNS port" % what)
    for name, port in (("sort", SORT_PORT), ("metrics", METRICS[0])):
        test.assertIsNotNone(eff[name], "%s: no %s address" % (what, name))
        test.assertIn(eff[name][0], ANY_HOSTS, "%s: %s on %s" % (what, name, eff[name][0]))
        test.assertEqual(eff[name][1], port, "%s: %s port" % (what, name))


def check_health_argv(test, argv, eff, what):
    """dnsort-check --http 127.0.0.1:9153/health: the liveness endpoint on
    the metrics port the server listens on. Returns dnsort-check's own
    deadline."""
    test.assertTrue(argv and argv[0] == HEALTH_CHECK,
                    "%s must run %s, runs %s" % (what, HEALTH_CHECK, argv))
    http = option(argv, "--http")
    test.assertIsNotNone(http, "%s: no --http" % what)
    addr, _, path = http.partition("/")
    host, port = split_addr(addr, what + " --http")
    test.assertEqual(("/" + path, host, port), ("/health", "127.0.0.1", eff["metrics"][1]),
                     "%s must ask /health on the metrics port" % what)
    test.assertEqual(options(argv, "--dns") + options(argv, "--sort"), [],
                     "%s: the DNS and sort checks are the opt-in deeper probe" % what)
    t = option(argv, "--timeout")
    return float(t) if t is not None else DEFAULT_CHECK_TIMEOUT_S


def apt_installs(stage):
    """The packages a stage's RUN lines apt-get install."""
    out = set()
    for name, args in stage:
        if name == "RUN" and "apt-get install" in args:
            part = args.split("apt-get install", 1)[1].split("&&")[0]
            out |= {w for w in shlex.split(part) if not w.startswith("-")}
    return out


# --------------------------------------------------------------- tests ----

class ContainerFiles(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        d = os.path.join(ROOT, "docker")
        cls.dockerfile = os.path.join(d, "Dockerfile")
        cls.compose_path = os.path.join(d, "compose.yaml")
        cls.k8s_path = os.path.join(d, "k8s.yaml")
        cls.image = Image(cls.dockerfile)
        cls.expose = set()
        for args in cls.image.all("EXPOSE"):
            for tok in args.split():
                cls.expose.add(port_proto(tok, "EXPOSE"))
        ep = cls.image.last("ENTRYPOINT")
        cmd = cls.image.last("CMD")
        cls.entrypoint = exec_form(ep, "ENTRYPOINT") if ep else []
        cls.cmd = exec_form(cmd, "CMD") if cmd else []
        cls.env = {}
        for args in cls.image.all("ENV"):
            cls.env.update(env_pairs(args, "ENV"))
        cls.eff = effective(cls.env, cls.cmd, "the image")
        compose_docs = load_yaml_documents(cls.compose_path)
        if len(compose_docs) != 1:
            raise AssertionError("compose.yaml must hold one document")
        cls.compose = compose_docs[0]
        cls.k8s = load_yaml_documents(cls.k8s_path)

    # ---- Dockerfile ----

    def test_dockerfile_expose(self):
        self.assertEqual(self.expose, REQUIRED | {METRICS})

    def test_dockerfile_bases(self):
        self.assertGreaterEqual(len(self.image.stages), 2, "multi-stage build expected")
        for base, _ in self.image.stages[:-1]:
            self.assertEqual(base.split()[0], "debian:trixie-slim", "Debian 13 build stage: %s" % base)
        # The runtime stage is the build stage's files and nothing else.
        self.assertEqual(self.image.stages[-1][0], "scratch")
        self.assertEqual([n for n, _ in self.image.runtime if n in ("RUN", "ADD")], [],
                         "a FROM scratch stage has no shell to RUN")
        copies = [a for n, a in self.image.runtime if n == "COPY"]
        self.assertTrue(copies and all(a.startswith("--from=") for a in copies), copies)

    def test_dockerfile_apt(self):
        for base, ins in self.image.stages:
            for name, args in ins:
                if name != "RUN" or "apt-get" not in args:
                    continue
                if "apt-get install" in args:
                    self.assertIn("--no-install-recommends", args)
                    self.assertRegex(args, r"apt-get install[^&;|]*\s-y\b")
                if "apt-get update" in args:
                    self.assertIn("rm -rf /var/lib/apt/lists/*", args)
        build = set()
        for _, ins in self.image.stages[:-1]:
            build |= apt_installs(ins)
        self.assertTrue(BUILD_LIBS <= build, "the build stage lacks %s" % sorted(BUILD_LIBS - build))
        # The runtime libraries are found from the binaries (ldd, dpkg -S in
        # docker/runtime-rootfs), never named: Debian 13 renamed them.
        runs = " ".join(a for _, ins in self.image.stages for n, a in ins if n == "RUN")
        self.assertIn("docker/runtime-rootfs", runs)
        for pkg in RUNTIME_LIB_NAMES:
            self.assertNotRegex(runs, r"(^|\s)%s(\s|$)" % re.escape(pkg), "hard-coded runtime package")

    def test_dockerfile_entrypoint_and_environment(self):
        self.assertEqual(self.entrypoint, [SERVER])
        # No CMD: arguments after the image name are added to what the
        # environment sets, instead of replacing the listen addresses.
        self.assertEqual(self.cmd, [], "the listen addresses belong in ENV, not CMD")
        check_serves_everywhere(self, self.eff, "the image")
        self.assertEqual({h for h, _ in self.eff["dns"]} | {self.eff["sort"][0], self.eff["metrics"][0]},
                         {"::"}, "[::] takes IPv4 and IPv6 on one socket")
        self.assertTrue({(DNS_PORT, "udp"), (DNS_PORT, "tcp"), (SORT_PORT, "tcp"), METRICS} <= self.expose)

    def test_dockerfile_healthcheck(self):
        hc = self.image.last("HEALTHCHECK")
        self.assertIsNotNone(hc, "no HEALTHCHECK")
        opts, sep, cmd = hc.partition("CMD ")
        self.assertTrue(sep, "HEALTHCHECK without CMD")
        argv = exec_form(cmd.strip(), "HEALTHCHECK CMD")
        check_timeout = check_health_argv(self, argv, self.eff, "HEALTHCHECK")
        flags = dict(re.findall(r"--([a-z-]+)=(\S+)", opts))
        for f in ("interval", "timeout", "retries"):
            self.assertIn(f, flags, "HEALTHCHECK --%s missing" % f)
        self.assertGreater(duration_s(flags["timeout"], "HEALTHCHECK --timeout"), check_timeout)
        # The health check binary is built and installed by the build stage.
        build_runs = " ".join(a for _, ins in self.image.stages[:-1] for n, a in ins if n == "RUN")
        self.assertIn("dnsort-check", build_runs)

    def test_dockerfile_user(self):
        user = self.image.last("USER")
        self.assertIsNotNone(user, "no USER: the server would run as root")
        uid = user.split(":")[0]
        self.assertNotIn(uid, ("root", "0"))
        self.assertRegex(uid, r"^[0-9]+$", "a numeric USER lets Kubernetes' runAsNonRoot verify it")

    def test_dockerfile_stopsignal(self):
        self.assertEqual(self.image.last("STOPSIGNAL"), "SIGTERM")

    def test_dockerignore(self):
        with open(os.path.join(ROOT, ".dockerignore"), encoding="utf-8") as f:
            pats = [l.strip().rstrip("/") for l in f if l.strip() and not l.startswith("#")]
        self.assertIn(".git", pats)
        self.assertTrue({"build*", "build"} & set(pats), "build directories are not ignored")
        # docker/ is left out of the context, so what the build runs from
        # it must be let back in, after the exclusion.
        self.assertIn("docker", pats)
        self.assertIn("!docker/runtime-rootfs", pats)
        self.assertGreater(pats.index("!docker/runtime-rootfs"), pats.index("docker"))
        self.assertTrue(os.access(os.path.join(ROOT, "docker", "runtime-rootfs"), os.R_OK))

    # ---- compose.yaml ----

    def service(self):
        services = self.compose.get("services")
        self.assertIsInstance(services, dict)
        self.assertEqual(len(services), 1, "one service expected")
        return next(iter(services.values()))

    def compose_ports(self, svc):
        out = set()
        for p in svc.get("ports", []):
            if isinstance(p, dict):
                out.add((int(p["target"]), p.get("protocol", "tcp")))
                continue
            m = re.fullmatch(r"(?:(?:\[[^\]]+\]|[0-9.]+):)?(?:(\d+(?:-\d+)?):)?(\d+)(?:/(tcp|udp))?", str(p))
            self.assertIsNotNone(m, "compose port %r" % p)
            out.add((int(m.group(2)), m.group(3) or "tcp"))
        return out

    def compose_effective(self, svc):
        env = dict(self.env)
        extra = svc.get("environment", {})
        if isinstance(extra, list):
            extra = dict(e.partition("=")[::2] for e in extra)
        env.update({k: str(v) for k, v in extra.items()})
        cmd = svc.get("command", self.cmd)
        self.assertIsInstance(cmd, list, "command in exec (list) form")
        return effective(env, cmd, "compose")

    def test_compose_build(self):
        svc = self.service()
        build = svc.get("build")
        self.assertIsInstance(build, dict)
        ctx = posixpath.normpath(posixpath.join("docker", build.get("context", ".")))
        self.assertEqual(ctx, ".", "the build context must be the repository root")
        self.assertEqual(posixpath.normpath(build.get("dockerfile")), "docker/Dockerfile")

    def test_compose_ports(self):
        svc = self.service()
        ports = self.compose_ports(svc)
        self.assertTrue(REQUIRED | {METRICS} <= ports, "compose publishes %s" % sorted(ports))
        self.assertTrue(ports <= self.expose, "compose publishes ports the image does not EXPOSE")
        check_serves_everywhere(self, self.compose_effective(svc), "compose")

    def test_compose_healthcheck(self):
        svc = self.service()
        hc = svc.get("healthcheck")
        self.assertIsInstance(hc, dict)
        test = hc.get("test")
        self.assertIsInstance(test, list)
        self.assertEqual(test[0], "CMD")
        t = check_health_argv(self, test[1:], self.compose_effective(svc), "compose healthcheck")
        self.assertGreater(duration_s(hc["timeout"], "healthcheck.timeout"), t)
        duration_s(hc["interval"], "healthcheck.interval")
        self.assertIsInstance(hc.get("retries"), int)

    def test_compose_stop(self):
        svc = self.service()
        self.assertEqual(svc.get("stop_signal", "SIGTERM"), "SIGTERM")
        grace = self.compose_effective(svc)["grace"]
        self.assertIn("stop_grace_period", svc)
        self.assertGreater(duration_s(svc["stop_grace_period"], "stop_grace_period"), grace)

    def test_compose_read_only(self):
        svc = self.service()
        if svc.get("read_only"):
            self.assertIn("/tmp", svc.get("tmpfs", []))

    # ---- k8s.yaml ----

    def kind(self, kind):
        found = [d for d in self.k8s if isinstance(d, dict) and d.get("kind") == kind]
        self.assertEqual(len(found), 1, "one %s expected" % kind)
        return found[0]

    def container(self):
        dep = self.kind("Deployment")
        containers = dep["spec"]["template"]["spec"]["containers"]
        self.assertEqual(len(containers), 1)
        return dep, containers[0]

    def k8s_effective(self, c):
        env = dict(self.env)
        for e in c.get("env", []):
            env[e["name"]] = str(e.get("value", ""))
        self.assertNotIn("command", c, "command replaces the image's ENTRYPOINT")
        return effective(env, c.get("args", self.cmd), "k8s")

    def test_k8s_kinds(self):
        kinds = sorted(d.get("kind") for d in self.k8s)
        self.assertEqual(kinds, ["ConfigMap", "Deployment", "Service"])
        for d in self.k8s:
            self.assertIn("apiVersion", d)
            self.assertIn("name", d.get("metadata", {}))

    def test_k8s_container_ports(self):
        dep, c = self.container()
        check_serves_everywhere(self, self.k8s_effective(c), "k8s")
        ports = {(p["containerPort"], p.get("protocol", "TCP").lower()) for p in c["ports"]}
        self.assertTrue(REQUIRED | {METRICS} <= ports, "containerPorts %s" % sorted(ports))
        self.assertTrue(ports <= self.expose, "containerPorts the image does not EXPOSE")
        names = [p.get("name") for p in c["ports"]]
        self.assertEqual(len(names), len(set(names)), "container port names must be unique")
        # The prometheus.io annotations, if any, point at the metrics port.
        notes = dep["spec"]["template"]["metadata"].get("annotations", {})
        if "prometheus.io/port" in notes:
            self.assertEqual(int(notes["prometheus.io/port"]), METRICS[0])
            self.assertEqual(notes.get("prometheus.io/path", "/metrics"), "/metrics")

    def test_k8s_probes(self):
        _, c = self.container()
        metrics_port = self.k8s_effective(c)["metrics"][1]
        by_name = {p["name"]: p["containerPort"] for p in c["ports"] if "name" in p}
        for probe, path in (("livenessProbe", "/health"), ("readinessProbe", "/ready")):
            p = c.get(probe)
            self.assertIsInstance(p, dict, "%s missing" % probe)
            get = p.get("httpGet")
            self.assertIsInstance(get, dict, "%s: httpGet expected" % probe)
            self.assertEqual(get.get("path"), path, probe)
            port = get.get("port")
            self.assertEqual(by_name.get(port, port), metrics_port, "%s port" % probe)
            self.assertEqual(get.get("scheme", "HTTP"), "HTTP")
            self.assertGreaterEqual(p.get("timeoutSeconds", 1), 1)

    def test_k8s_security_and_resources(self):
        dep, c = self.container()
        pod_sc = dep["spec"]["template"]["spec"].get("securityContext", {})
        sc = dict(pod_sc)
        sc.update(c.get("securityContext", {}))
        self.assertIs(sc.get("runAsNonRoot"), True)
        uid = self.image.last("USER").split(":")[0]
        if "runAsUser" in sc:
            self.assertEqual(str(sc["runAsUser"]), uid, "runAsUser differs from the image's USER")
        res = c.get("resources", {})
        for part in ("requests", "limits"):
            self.assertIn("cpu", res.get(part, {}), part)
            self.assertIn("memory", res.get(part, {}), part)

    def test_k8s_grace(self):
        dep, c = self.container()
        spec = dep["spec"]["template"]["spec"]
        pre_stop = c.get("lifecycle", {}).get("preStop", {})
        # The image has no shell or /bin/sleep: only the sleep action
        # (Kubernetes 1.30+) can pause.
        self.assertNotIn("exec", pre_stop, "the image has no programs for a preStop exec")
        pre = float(pre_stop.get("sleep", {}).get("seconds", 0))
        self.assertGreater(spec.get("terminationGracePeriodSeconds", 30),
                           pre + self.k8s_effective(c)["grace"])

    def test_k8s_hosts_configmap(self):
        dep, c = self.container()
        cm = self.kind("ConfigMap")
        hosts = option(c.get("args", []), "--hosts")
        self.assertEqual(hosts, "/etc/dnsort/hosts")
        mounts = [m for m in c.get("volumeMounts", []) if m["mountPath"] == posixpath.dirname(hosts)]
        self.assertEqual(len(mounts), 1, "no volumeMount at %s" % posixpath.dirname(hosts))
        self.assertNotIn("subPath", mounts[0], "a subPath mount never sees ConfigMap updates")
        vols = {v["name"]: v for v in dep["spec"]["template"]["spec"].get("volumes", [])}
        vol = vols.get(mounts[0]["name"])
        self.assertIsNotNone(vol)
        self.assertEqual(vol["configMap"]["name"], cm["metadata"]["name"])
        items = {i["path"]: i["key"] for i in vol["configMap"].get("items", [])}
        key = items.get(posixpath.basename(hosts), posixpath.basename(hosts))
        text = cm["data"][key]
        for line in text.splitlines():
            line = line.split("#", 1)[0].split()
            if line:
                self.assertGreaterEqual(len(line), 2, "hosts line %r" % line)


class YamlReader(unittest.TestCase):
    def test_reader_subset(self):
        doc = MiniYaml('a: 1\nb: "x: y"  # c\nc:\n- 1\n- k: v\n  j: [a, "b c", 3]\n'
                       'd: |\n  # kept\n  two\n\ne: {}\n', "t").documents
        with self.assertRaises(YamlSubsetError):
            doc()
        d = MiniYaml('a: 1\nb: "x: y"  # c\nc:\n- 1\n- k: v\n  j: [a, "b c", 3]\n'
                     'd: |\n  # kept\n  two\n\ne: true\n', "t").documents()
        self.assertEqual(d, [{"a": 1, "b": "x: y", "c": [1, {"k": "v", "j": ["a", "b c", 3]}],
                              "d": "# kept\ntwo\n", "e": True}])

    def test_matches_pyyaml(self):
        try:
            import yaml
        except ImportError:
            self.skipTest("PyYAML is not importable (apt-get install python3-yaml): "
                          "the built-in reader alone checked the files")
        for name in ("compose.yaml", "k8s.yaml"):
            path = os.path.join(ROOT, "docker", name)
            with open(path, encoding="utf-8") as f:
                real = [d for d in yaml.safe_load_all(f) if d is not None]
            self.assertEqual(load_yaml_documents(path), real, name)


def main():
    global ROOT
    ap = argparse.ArgumentParser()
    ap.add_argument("--root", default=ROOT)
    args, rest = ap.parse_known_args()
    ROOT = os.path.abspath(args.root)
    unittest.main(argv=[sys.argv[0], *rest], verbosity=2)


if __name__ == "__main__":
    main()
