"""``cognix verify``: proof that the image rebuilds bit for bit.

The second build runs in a fresh, empty Nix store (``--store DIR``): every wheel is fetched and
installed again, the toolchain rebuilt, the image packed again, so nothing is reused from the
first build. The two archives are then compared by manifest digest, layer by layer, and for the
first layer that differs, file by file.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from cognix.build import nixcli, sources, steps
from cognix.build.pipeline import stream_to_oci
from cognix.image.archive import Image, layer_files, read_image
from cognix.project.config import Project


@dataclass
class Report:
    identical: bool
    lines: list[str] = field(default_factory=list)


def rebuild_and_compare(
    project: Project,
    first: Image,
    *,
    offline: bool,
    tag: str,
    progress: Callable[[str], None],
    secrets: dict[str, Path] | None = None,
) -> Report:
    """Build ``first`` again from nothing and compare. Offline, in an empty store (``--store``),
    where Nix runs the build.run steps itself (with ``secrets`` in its sandbox); with nixpkgs
    (whose streamer runs from the store) cognix's own derivations of the image are rebuilt in
    place with ``nix-store --check`` (nixpkgs' are inputs), and the image streamed again."""
    scratch = Path(tempfile.mkdtemp(prefix="cognix-verify-"))
    try:
        if offline:
            path = nixcli.build(
                project.dir,
                "image",
                offline=True,
                out_link=scratch / "result",
                extra=["--store", str(scratch / "root"), *steps.sandbox_options(secrets or {})],
                progress=progress,
            )
            second = read_image(scratch / "root" / str(path).lstrip("/"))
        else:
            script = project.dir / sources.GENERATED / "stream-image"
            nixcli.check_closure(script, progress)
            second = read_image(stream_to_oci(script.resolve(), scratch / "image.tar", tag))
        return compare(first, second)
    finally:
        _remove(scratch)


def _remove(folder: Path) -> None:
    """Delete the scratch store: its paths are read-only (0555), which stops a non-root rmtree."""
    for path in [folder, *folder.rglob("*")]:
        if path.is_dir() and not path.is_symlink():
            path.chmod(0o755)
    shutil.rmtree(folder, ignore_errors=True)


def compare(first: Image, second: Image) -> Report:
    if first.digest == second.digest:
        return Report(True, [f"identical: {first.digest} ({len(first.layers)} layers, rebuilt from an empty store)"])
    lines = [f"DIFFERENT: {first.digest} vs {second.digest}"]
    for index, (a, b) in enumerate(zip(first.layers, second.layers, strict=False)):
        if a.digest != b.digest:
            lines.append(f"  layer {index} ({a.name}) differs: {a.digest} vs {b.digest}")
            lines.append(f"  first differing file: {first_difference(first, second, a.digest, b.digest)}")
            break
    if len(first.layers) != len(second.layers):
        lines.append(f"  layer count differs: {len(first.layers)} vs {len(second.layers)}")
    return Report(False, lines)


def first_difference(first: Image, second: Image, digest_a: str, digest_b: str) -> str:
    """The first path (in archive order) whose metadata or contents differ between two layers."""
    a, b = layer_files(first.path, digest_a), layer_files(second.path, digest_b)
    for name in sorted(a.keys() | b.keys()):
        if a.get(name) != b.get(name):
            return name
    return "(none: the files are equal, the tar/gzip framing differs)"
