#!/usr/bin/env python3
"""`meson install --destdir` into a temporary directory: exactly the
programs (dnsortd, dnsort-load, dnsort-check), the systemd unit and, once
there is one, the man page are installed, where meson says; the installed
programs run; the unit has the hardening it promises and passes
`systemd-analyze verify` (skipped, with the reason, where systemd-analyze
is missing).

Python standard library only. Run by meson test:
    test_install.py --builddir DIR --meson PATH
"""
import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import unittest

BUILDDIR = None
MESON = None
PROGRAMS = ("dnsortd", "dnsort-load", "dnsort-check")
UNIT = "dnsortd.service"


def read_unit(path):
    """A unit file as {section: {key: [values...]}} (keys repeat)."""
    out, section = {}, None
    with open(path, encoding="utf-8") as f:
        for raw in f:
            line = raw.strip()
            if not line or line[0] in "#;":
                continue
            if line.startswith("[") and line.endswith("]"):
                section = out.setdefault(line[1:-1], {})
                continue
            key, sep, value = line.partition("=")
            if not sep or section is None:
                raise AssertionError("%s: not KEY=VALUE: %r" % (path, raw))
            section.setdefault(key.strip(), []).append(value.strip())
    return out


class Install(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="dnsort-install-")
        cls.dest = os.path.join(cls.tmp, "dest")
        r = subprocess.run([MESON, "install", "-C", BUILDDIR, "--destdir", cls.dest,
                            "--no-rebuild", "--quiet"],
                           capture_output=True, text=True, timeout=60)
        if r.returncode != 0:
            shutil.rmtree(cls.tmp)
            raise AssertionError("meson install failed:\n%s%s" % (r.stdout, r.stderr))
        r = subprocess.run([MESON, "introspect", "--installed", BUILDDIR],
                           capture_output=True, text=True, timeout=60, check=True)
        cls.installed = sorted(json.loads(r.stdout).values())
        cls.by_name = {os.path.basename(p): p for p in cls.installed}

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp)

    def staged(self, path):
        return os.path.join(self.dest, path.lstrip("/"))

    def test_what_is_installed(self):
        on_disk = sorted("/" + os.path.relpath(os.path.join(d, f), self.dest)
                         for d, _, files in os.walk(self.dest) for f in files)
        self.assertEqual(on_disk, self.installed, "meson's list and the files differ")
        names = set(self.by_name)
        self.assertTrue(set(PROGRAMS) | {UNIT} <= names, sorted(names))
        # Nothing else: no test programs, no static libraries. A man page
        # (section 8, for the daemon; 1 for the tools) may come with them.
        extra = [p for p in self.installed if os.path.basename(p) not in set(PROGRAMS) | {UNIT}
                 and not p.rsplit(".", 1)[-1] in ("1", "8")]
        self.assertEqual(extra, [])
        bindirs = {os.path.dirname(self.by_name[p]) for p in PROGRAMS}
        self.assertEqual(len(bindirs), 1, "the programs are in different directories")
        self.assertTrue(self.by_name[UNIT].endswith("/lib/systemd/system/" + UNIT), self.by_name[UNIT])

    def test_programs_run(self):
        for name in PROGRAMS:
            path = self.staged(self.by_name[name])
            st = os.stat(path)
            self.assertTrue(st.st_mode & 0o111, "%s is not executable" % path)
            with open(path, "rb") as f:
                self.assertEqual(f.read(4), b"\x7fELF", path)
            r = subprocess.run([path, "--version"], capture_output=True, text=True, timeout=20)
            self.assertEqual(r.returncode, 0, "%s --version: %s" % (path, r.stderr))
            self.assertTrue(r.stdout.startswith(name + " "), r.stdout)

    def test_unit_settings(self):
        unit = read_unit(self.staged(self.by_name[UNIT]))
        svc = unit["Service"]
        self.assertEqual(svc["ExecStart"], [self.by_name["dnsortd"]],
                         "ExecStart must run the installed dnsortd")
        want = {
            "Type": "exec",
            "DynamicUser": "yes",
            "AmbientCapabilities": "",
            "CapabilityBoundingSet": "",
            "ProtectSystem": "strict",
            "Restart": "on-failure",
            "ExecReload": "kill -HUP $MAINPID",
            "NoNewPrivileges": "yes",
            "ProtectHome": "yes",
            "PrivateDevices": "yes",
        }
        for key, value in want.items():
            self.assertEqual(svc.get(key), [value], key)
        self.assertEqual(unit["Install"]["WantedBy"], ["multi-user.target"])
        with open(self.staged(self.by_name[UNIT]), encoding="utf-8") as f:
            self.assertIsNone(re.search(r"@[a-z_]+@", f.read()), "an unreplaced @variable@")

    def test_systemd_analyze_verify(self):
        analyze = shutil.which("systemd-analyze")
        if analyze is None:
            self.skipTest("systemd-analyze is not installed (apt-get install systemd): "
                          "the unit's settings were checked, not verified by systemd")
        # The unit as installed, except that ExecStart points at the staged
        # dnsortd (systemd-analyze checks that the program exists).
        src = self.staged(self.by_name[UNIT])
        unit_dir = os.path.join(self.tmp, "verify")
        os.makedirs(unit_dir)
        with open(src, encoding="utf-8") as f:
            text = f.read()
        start = "ExecStart=" + self.by_name["dnsortd"] + "\n"
        self.assertIn(start, text)
        copy = os.path.join(unit_dir, UNIT)
        with open(copy, "w", encoding="utf-8") as f:
            f.write(text.replace(start, "ExecStart=" + self.staged(self.by_name["dnsortd"]) + "\n"))
        env = dict(os.environ)
        man = [p for p in self.installed if os.path.basename(p) == "dnsortd.8"]
        if man and shutil.which("man"):
            # Documentation=man:dnsortd(8) is looked up in the staged tree.
            env["MANPATH"] = os.path.dirname(os.path.dirname(self.staged(man[0])))
            args = ["--man=yes"]
        else:
            # No dnsortd.8 installed yet (or no man): only that lookup is off.
            args = ["--man=no"]
        r = subprocess.run([analyze, "verify", *args, copy], capture_output=True, text=True,
                           timeout=60, env=env)
        out = (r.stdout + r.stderr).strip()
        self.assertEqual(r.returncode, 0, out)
        # Warnings do not change the exit code: any line about the unit fails.
        self.assertEqual([l for l in out.splitlines() if UNIT in l], [], out)


def main():
    global BUILDDIR, MESON
    ap = argparse.ArgumentParser()
    ap.add_argument("--builddir", required=True)
    ap.add_argument("--meson", default="meson")
    args, rest = ap.parse_known_args()
    BUILDDIR, MESON = os.path.abspath(args.builddir), args.meson
    unittest.main(argv=[sys.argv[0], *rest], verbosity=2)


if __name__ == "__main__":
    main()
