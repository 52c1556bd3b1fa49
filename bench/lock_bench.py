"""Time ``cognix lock`` against bare ``uv pip compile`` resolving the same requirements.

    python bench/lock_bench.py [--runs 15] [--cold]

Both resolve, for Python 3.11 on x86_64 manylinux, a GPU project's requirements (torch with
CUDA 11.7 from PyPI, transformers, Pillow) plus the packages cognix adds to every image, from
PyPI, with a warm uv cache (``--cold``: an empty one each run). The difference is what cognix
adds: reading cog.yaml, choosing CUDA, picking one wheel per package and writing pylock.toml.
Target: at most 1.3x.

A warm uv still asks the index whether each page changed, so both times swing with the network.
The runs alternate, and the ratio is the median of each cognix run over the uv run just before
it, which the same network conditions hit. cognix's own time is measured apart from that: a
shim named ``uv`` first on its PATH times the uv it runs, and the rest is cognix's.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from cognix.project.lock import PLATFORM, runtime_requirements

REQUIREMENTS = ["torch==2.0.0", "transformers==4.40.0", "pillow==10.3.0"]


# the uv that cognix runs, timed: it appends uv's start and end (ns) to $COGNIX_BENCH_UV_TIMES
UV_SHIM = """#!/bin/sh
start=$(date +%s%N)
"$COGNIX_BENCH_UV" "$@"
status=$?
echo "$start $(date +%s%N)" >> "$COGNIX_BENCH_UV_TIMES"
exit $status
"""


def timed(cmd: list[str], cwd: Path, cold: bool, env: dict[str, str]) -> float:
    """One run, resolving from scratch."""
    for name in ("pylock.uv.toml", "pylock.toml"):
        (cwd / name).unlink(missing_ok=True)
    env = dict(env)
    if cold:  # an empty uv cache: every run fetches the index pages and metadata again
        env["UV_CACHE_DIR"] = tempfile.mkdtemp(prefix="uv-cold-")
    began = time.perf_counter()
    subprocess.run(cmd, cwd=cwd, check=True, capture_output=True, env=env)
    elapsed = time.perf_counter() - began
    if cold:
        shutil.rmtree(env["UV_CACHE_DIR"], ignore_errors=True)
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--cold", action="store_true", help="start every run with an empty uv cache")
    args = parser.parse_args()
    uv = shutil.which("uv") or sys.exit("uv is not installed (pip install uv)")
    with tempfile.TemporaryDirectory(prefix="cognix-lock-bench-") as tmp:
        work = Path(tmp)
        (work / "cog.yaml").write_text(
            'build:\n  gpu: true\n  cuda: "11.7"\n  python_version: "3.11"\n  python_requirements: requirements.txt\n'
        )
        (work / "requirements.txt").write_text("\n".join(REQUIREMENTS) + "\n")
        (work / "all.in").write_text("\n".join([*REQUIREMENTS, *runtime_requirements()]) + "\n")
        uv_cmd = [
            uv,
            "pip",
            "compile",
            "all.in",
            "--format",
            "pylock.toml",
            "-o",
            "pylock.uv.toml",
            "--python-version",
            "3.11",
            "--python-platform",
            PLATFORM,
            "--only-binary",
            ":all:",
            "--quiet",
        ]
        cognix_cmd = [sys.executable, "-m", "cognix", "lock"]
        shim, uv_spans = work / "shim" / "uv", work / "uv-spans"
        shim.parent.mkdir()
        shim.write_text(UV_SHIM)
        shim.chmod(0o755)
        shimmed = {
            **os.environ,
            "PATH": f"{shim.parent}{os.pathsep}{os.environ['PATH']}",
            "COGNIX_BENCH_UV": uv,
            "COGNIX_BENCH_UV_TIMES": str(uv_spans),
        }
        subprocess.run(uv_cmd, cwd=work, check=True, capture_output=True)  # warm the cache
        subprocess.run(cognix_cmd, cwd=work, check=True, capture_output=True, env=shimmed)

        uv_times, cognix_times, own_times = [], [], []
        for _ in range(args.runs):  # alternating, so a change in load or network hits both alike
            uv_times.append(timed(uv_cmd, work, args.cold, dict(os.environ)))
            uv_spans.write_text("")
            cognix_times.append(timed(cognix_cmd, work, args.cold, shimmed))
            in_uv = sum(int(end) - int(start) for start, end in map(str.split, uv_spans.read_text().splitlines()))
            own_times.append(cognix_times[-1] - in_uv / 1e9)
    ratio = statistics.median(c / u for c, u in zip(cognix_times, uv_times, strict=True))
    print(f"{'':24} {'median s':>9} {'min s':>7}")
    print(f"{'uv pip compile':24} {statistics.median(uv_times):9.3f} {min(uv_times):7.3f}")
    print(f"{'cognix lock':24} {statistics.median(cognix_times):9.3f} {min(cognix_times):7.3f}")
    print(f"{'  of it cognix, not uv':24} {statistics.median(own_times):9.3f} {min(own_times):7.3f}")
    cache = "cold" if args.cold else "warm"
    print(f"cognix/uv ({cache} uv cache): {ratio:.2f}x, the median of {args.runs} paired runs (target <= 1.3x)")


if __name__ == "__main__":
    main()
