"""Shared by the comparison scripts in nn-core/bench-compare and nn-train/bench-compare: the CPU
model line every script prints with its figures (`cpu_model`), and the Rust side's driver process
(`Driver`: one command per line on stdin, one answer `ok t1 t2 ...` per line on stdout)."""

import os
import re
import subprocess


def cpu_model():
    """'MODEL NAME (family F model M; AVX-512|AVX2; N CPUs)' from lscpu, or /proc/cpuinfo."""
    fields = {}
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout
        for line in out.splitlines():
            if ":" in line:
                k, v = line.split(":", 1)
                fields.setdefault(k.strip(), v.strip())
        name, fam, mod = fields.get("Model name"), fields.get("CPU family"), fields.get("Model")
        flags = fields.get("Flags", "")
    except (OSError, subprocess.CalledProcessError):
        name = fam = mod = None
        flags = ""
    if not name:
        try:
            info = open("/proc/cpuinfo").read()
        except OSError:
            info = ""
        get = lambda key: (re.search(rf"^{key}\s*:\s*(.*)$", info, re.M) or [None, None])[1]
        name, fam, mod, flags = get("model name"), get("cpu family"), get("model"), get("flags") or ""
    isa = "AVX-512" if "avx512f" in flags.split() else "AVX2" if "avx2" in flags.split() else "SSE"
    if "amx_tile" in flags.split():
        isa += " + AMX"
    return f"{name or 'unknown CPU'} (family {fam} model {mod}; {isa}; {os.cpu_count()} CPUs)"


class Driver:
    """A Rust driver example (`target/release/examples/NAME`) run on 2 rayon threads: `ask`
    sends one command and returns the figures of its `ok ...` answer."""

    def __init__(self, path):
        env = dict(os.environ, RAYON_NUM_THREADS="2")
        self.proc = subprocess.Popen(
            [path], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env
        )

    def ask(self, cmd):
        self.proc.stdin.write(cmd + "\n")
        self.proc.stdin.flush()
        words = self.proc.stdout.readline().split()
        assert words and words[0] == "ok", f"driver answered {words!r} to {cmd!r}"
        return [float(w) for w in words[1:]]

    def close(self):
        self.proc.stdin.write("quit\n")
        self.proc.stdin.flush()
        self.proc.wait()


if __name__ == "__main__":
    print(cpu_model())
