"""How long does a torch GPU image take to build, and to rebuild after a code change?

    python bench/torch_bench.py [--project DIR]

On a copy of bench/models/torch-gpu (torch 2.5.1 with CUDA 12.4 from PyPI, torchvision,
transformers; Python 3.11): ``cognix lock``, a cold ``cognix build`` (the wheels are fetched
unless an earlier run left them in the store), a rebuild with no change, and a rebuild after
editing only predict.py. Prints each time, the image's compressed and unpacked size, its layer
count and which layers the edit changed; then serves one CPU prediction from the image under
podman. The targets (issue 11): an edit rebuild within 15 s, a no-change rebuild within 5 s.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
MODEL = ROOT / "bench" / "models" / "torch-gpu"
# this machine's flags (docs/machines.md#podman); COGNIX_BENCH_PODMAN replaces them, e.g. with an
# overlay store of its own: vfs keeps a full copy per layer, which a 6 GB image makes ~90 GB
PODMAN = os.environ.get(
    "COGNIX_BENCH_PODMAN", "podman --storage-driver vfs --cgroup-manager cgroupfs --events-backend file"
).split()


def cognix(*args: str, cwd: Path) -> tuple[float, str]:
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "cognix", *args], cwd=cwd, capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"cognix {' '.join(args)} failed:\n{done.stderr[-3000:]}")
    return time.perf_counter() - started, done.stdout + done.stderr


def layers(project: Path) -> dict[str, str]:
    from cognix.image.archive import read_image

    return {layer.name: layer.digest for layer in read_image(project / "image.tar").layers}


def serve_once(archive: Path) -> tuple[float, dict]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    name = f"cognix-bench-{port}"
    run = [*PODMAN, "run", "-d", "--name", name, "--network", "host", "-e", f"PORT={port}"]
    run += ["--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1024:1024", f"oci-archive:{archive}"]
    started = time.perf_counter()
    subprocess.run(run, check=True, capture_output=True)
    try:
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/health-check").json()["status"] == "READY":
                    break
            except httpx.TransportError:
                time.sleep(0.5)
            if time.perf_counter() - started > 600:
                sys.exit("the image did not become ready in 10 minutes")
        ready = time.perf_counter() - started
        response = httpx.post(f"http://127.0.0.1:{port}/predictions", json={"input": {"text": "hi"}}, timeout=120)
        return ready, response.json()
    finally:
        image = subprocess.run([*PODMAN, "inspect", "--format", "{{.Image}}", name], capture_output=True, text=True)
        subprocess.run([*PODMAN, "rm", "-f", "-t", "1", name], capture_output=True)
        if image.returncode == 0:  # the imported copy (vfs storage keeps a full one)
            subprocess.run([*PODMAN, "rmi", "-f", image.stdout.strip()], capture_output=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--project", type=Path, help="work here instead of a temporary folder (kept)")
    args = parser.parse_args()
    project = args.project or Path(tempfile.mkdtemp(prefix="cognix-torch-bench-")) / "torch-gpu"
    if not project.exists():
        shutil.copytree(MODEL, project)
    lock_s, _ = cognix("lock", cwd=project)
    cold_s, out = cognix("build", cwd=project)
    before = layers(project)
    again_s, _ = cognix("build", cwd=project)
    predict = project / "predict.py"
    predict.write_text(predict.read_text() + f"\n# edited by the benchmark at {time.time()}\n")
    edit_s, _ = cognix("build", cwd=project)
    after = layers(project)
    closure = (project / ".cognix" / "image-closure").resolve()
    info = subprocess.run(
        ["nix", "--extra-experimental-features", "nix-command", "path-info", "-S", "--json", str(closure)],
        capture_output=True,
        text=True,
    )
    infos = json.loads(info.stdout) if info.returncode == 0 else []
    infos = list(infos.values()) if isinstance(infos, dict) else infos  # a map from Nix 2.19 on
    unpacked = infos[0]["closureSize"] if infos else 0
    compressed = (project / "image.tar").stat().st_size
    print(f"project                      {project}")
    print(f"cognix lock                  {lock_s:8.1f} s")
    print(f"cold build                   {cold_s:8.1f} s   {out.strip().splitlines()[-1]}")
    print(f"rebuild, nothing changed     {again_s:8.1f} s   (target 5 s)")
    print(f"rebuild after predict.py     {edit_s:8.1f} s   (target 15 s)")
    print(f"image                        {compressed / 1e9:8.2f} GB compressed, {unpacked / 1e9:.2f} GB unpacked")
    changed = [name for name in after if before.get(name) != after[name]]
    print(f"layers                       {len(after)}; changed by the edit: {changed}")
    if shutil.which("podman"):
        ready, prediction = serve_once(project / "image.tar")
        result = f"{prediction.get('status')}: {prediction.get('output')}"
        print(f"podman: ready after          {ready:8.1f} s; prediction {result}")
    print("GPU: run this image with --gpus all on a GPU host to see torch.cuda.is_available() (none lent here)")


if __name__ == "__main__":
    main()
