"""The CPU model line every comparison script prints with its figures (shared by the scripts in
nn-core/bench-compare and nn-train/bench-compare)."""

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


if __name__ == "__main__":
    print(cpu_model())
