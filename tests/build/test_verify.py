"""``cognix verify``'s comparison: equal images say so; different ones name the first layer and
the first file that differ. Real OCI archives written by cognix's writer, no Nix needed."""

from __future__ import annotations

from pathlib import Path

from cognix.build.verify import compare
from cognix.image.archive import read_image
from cognix.nix.builders import oci


def archive(root: Path, files: dict[str, str]) -> Path:
    source = root / "src"
    source.mkdir(parents=True)
    for name, text in files.items():
        (source / name).write_text(text)
    base = [oci.Entry("etc", "dir", mode=0o755)]
    oci.write_image(root / "layout", [base, oci.tree(source, "src")], oci.ImageConfig(), layer_names=["base", "src"])
    oci.write_archive(root / "layout", root / "image.tar")
    return root / "image.tar"


def test_identical_images_are_reported_identical(tmp_path: Path) -> None:
    a = read_image(archive(tmp_path / "a", {"predict.py": "x = 1\n"}))
    b = read_image(archive(tmp_path / "b", {"predict.py": "x = 1\n"}))
    report = compare(a, b)
    assert report.identical and a.digest in report.lines[0]


def test_the_first_differing_layer_and_file_are_named(tmp_path: Path) -> None:
    a = read_image(archive(tmp_path / "a", {"a.py": "", "predict.py": "x = 1\n", "z.py": ""}))
    b = read_image(archive(tmp_path / "b", {"a.py": "", "predict.py": "x = 2\n", "z.py": ""}))
    report = compare(a, b)
    assert not report.identical
    assert report.lines[1].startswith("  layer 1 (src) differs")
    assert report.lines[2] == "  first differing file: src/predict.py"
