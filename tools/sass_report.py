"""Instruction mix of the GEMM kernels in a built fastnn._C_cuda, from its SASS (no GPU needed).

    python tools/sass_report.py [path/to/_C_cuda*.so] [--arch sm_90]

Needs ``cuobjdump`` (CUDA toolkit, or ``pip install nvidia-cuda-cuobjdump``) on PATH. One line per
GEMM kernel instantiation: tensor-core (HMMA) and FMA instructions, shared-memory loads (all and
16-byte), 16-byte global loads, and local-memory traffic (LDL/STL, which must be 0: a spill).
"""
from __future__ import annotations

import argparse
import collections
import glob
import os
import re
import shutil
import subprocess
import sys

COLUMNS = ("HMMA", "FFMA", "DFMA", "LDS", "LDS.128", "LDG.E.128", "LDL", "STL")
_INSTR = re.compile(r"/\*[0-9a-f]{4,}\*/\s+(?:@!?U?P\w+\s+)?([A-Z][A-Z0-9_.]+)")


def kernel_mix(sass: str) -> list[tuple[str, collections.Counter]]:
    out = []
    for part in re.split(r"\n\s+Function : ", sass)[1:]:
        name = part.split("\n", 1)[0].strip()
        if "gemm_detail" in name:
            out.append((name, collections.Counter(_INSTR.findall(part))))
    return out


def _count(c: collections.Counter, prefix: str) -> int:
    if prefix == "LDS":
        return sum(v for k, v in c.items() if k.startswith("LDS"))
    return sum(v for k, v in c.items() if k == prefix or k.startswith(prefix + "."))


def _label(name: str) -> str:
    kind = re.search(r"gemm_detail\d+(gemm_\w+?)I", name)
    ops = re.findall(r"\d+([A-Z][A-Za-z0-9]+)I[fd]E", name)
    dtype = "double" if re.search(r"gemm_simtId", name) else "float"
    return f"{kind.group(1) if kind else '?'}<{dtype}> " + ",".join(dict.fromkeys(ops))


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("module", nargs="?", help="the _C_cuda extension (default: the one in python/fastnn)")
    p.add_argument("--arch", default="sm_90")
    args = p.parse_args(argv)
    module = args.module or next(iter(glob.glob(os.path.join(os.path.dirname(__file__), "..", "python", "fastnn",
                                                              "_C_cuda*.so"))), None)
    if module is None:
        print("no _C_cuda module found: build with FASTNN_CUDA=on, or pass its path", file=sys.stderr)
        return 2
    if shutil.which("cuobjdump") is None:
        print("cuobjdump not found on PATH (CUDA toolkit, or pip install nvidia-cuda-cuobjdump)", file=sys.stderr)
        return 2
    sass = subprocess.run(["cuobjdump", "-sass", "-arch", args.arch, module], capture_output=True, text=True,
                          check=True).stdout
    mix = kernel_mix(sass)
    if not mix:
        print(f"no GEMM kernels for {args.arch} in {module}", file=sys.stderr)
        return 1
    print(f"{'kernel':<62}" + "".join(f"{c:>10}" for c in COLUMNS) + f"{'total':>8}")
    for name, c in mix:
        print(f"{_label(name)[:61]:<62}" + "".join(f"{_count(c, col):>10}" for col in COLUMNS)
              + f"{sum(c.values()):>8}")
    spills = sum(_count(c, "LDL") + _count(c, "STL") for _, c in mix)
    print(f"local-memory instructions in GEMM kernels: {spills}")
    return 0 if spills == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
