"""The deterministic OCI writer: same inputs, same bytes; one changed file, one changed layer."""

from __future__ import annotations

import gzip
import hashlib
import json
import shutil
import subprocess
import tarfile
from pathlib import Path

import pytest

from cognix.nix.builders import oci


def _project(root: Path, predict: str = "print('v1')\n") -> Path:
    (root / "app").mkdir(parents=True, exist_ok=True)
    (root / "app" / "predict.py").write_text(predict)
    (root / "app" / "run.sh").write_text("#!/bin/sh\necho hi\n")
    (root / "app" / "run.sh").chmod(0o755)
    (root / "lib").mkdir(exist_ok=True)
    (root / "lib" / "big.bin").write_bytes(bytes(range(256)) * 4096)
    (root / "lib" / "link").unlink(missing_ok=True)
    (root / "lib" / "link").symlink_to("big.bin")
    return root


def _image(src: Path, out: Path) -> oci.Descriptor:
    layers = [oci.tree(src / "lib", "nix/store/abc-lib"), oci.tree(src / "app", "src", uid=1000, gid=1000)]
    config = oci.ImageConfig(
        entrypoint=["/bin/server"],
        env={"B": "2", "A": "1"},
        working_dir="/src",
        user="1000:1000",
        exposed_ports=["5000/tcp"],
        labels={"run.cog.version": "x"},
    )
    return oci.write_image(out, layers, config, tag="model")


def _blob(layout: Path, digest: str) -> bytes:
    return (layout / "blobs" / "sha256" / digest.split(":")[1]).read_bytes()


def test_same_inputs_same_bytes(tmp_path: Path) -> None:
    src = _project(tmp_path / "src")
    first = _image(src, tmp_path / "one")
    (src / "app" / "predict.py").touch()  # a new mtime must not matter
    second = _image(src, tmp_path / "two")
    assert first.digest == second.digest
    oci.write_archive(tmp_path / "one", tmp_path / "one.tar")
    oci.write_archive(tmp_path / "two", tmp_path / "two.tar")
    assert (tmp_path / "one.tar").read_bytes() == (tmp_path / "two.tar").read_bytes()


def test_one_changed_file_changes_one_layer(tmp_path: Path) -> None:
    src = _project(tmp_path / "src")
    before = json.loads(_blob(tmp_path / "a", _image(src, tmp_path / "a").digest))
    _project(src, predict="print('v2')\n")
    after = json.loads(_blob(tmp_path / "b", _image(src, tmp_path / "b").digest))
    changed = [i for i, (x, y) in enumerate(zip(before["layers"], after["layers"], strict=True)) if x != y]
    assert changed == [1]


def test_layer_contents_are_normalised(tmp_path: Path) -> None:
    src = _project(tmp_path / "src")
    layout = tmp_path / "img"
    manifest = json.loads(_blob(layout, _image(src, layout).digest))
    config = json.loads(_blob(layout, manifest["config"]["digest"]))
    assert config["config"]["Env"] == ["A=1", "B=2"] and config["created"] == oci.CREATED
    for layer, diff_id in zip(manifest["layers"], config["rootfs"]["diff_ids"], strict=True):
        data = _blob(layout, layer["digest"])
        assert layer["size"] == len(data) and layer["mediaType"] == oci.MEDIA_LAYER
        plain = gzip.decompress(data)
        assert "sha256:" + hashlib.sha256(plain).hexdigest() == diff_id
        assert data[4:8] == b"\0\0\0\0"  # no timestamp in the gzip header
    app = tarfile.open(
        fileobj=__import__("io").BytesIO(gzip.decompress(_blob(layout, manifest["layers"][1]["digest"])))
    )
    members = app.getmembers()
    assert [m.name for m in members] == ["src", "src/predict.py", "src/run.sh"]
    assert {(m.mtime, m.uid, m.gid, m.uname) for m in members} == {(1, 1000, 1000, "")}
    assert [oct(m.mode) for m in members] == ["0o755", "0o644", "0o755"]
    lib = tarfile.open(
        fileobj=__import__("io").BytesIO(gzip.decompress(_blob(layout, manifest["layers"][0]["digest"])))
    )
    names = {m.name: m for m in lib.getmembers()}
    assert list(names)[:3] == ["nix", "nix/store", "nix/store/abc-lib"]
    assert names["nix/store/abc-lib/link"].issym() and names["nix/store/abc-lib/link"].linkname == "big.bin"
    index = json.loads((layout / "index.json").read_text())
    assert index["manifests"][0]["annotations"] == {"org.opencontainers.image.ref.name": "model"}


@pytest.mark.skipif(shutil.which("skopeo") is None, reason="skopeo is not installed (apt-get install skopeo)")
def test_skopeo_reads_the_archive(tmp_path: Path) -> None:
    src = _project(tmp_path / "src")
    manifest = _image(src, tmp_path / "img")
    oci.write_archive(tmp_path / "img", tmp_path / "img.tar")
    shown = json.loads(
        subprocess.run(
            ["skopeo", "inspect", f"oci-archive:{tmp_path / 'img.tar'}:model"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    )
    assert shown["Digest"] == manifest.digest
    assert len(shown["Layers"]) == 2 and shown["Labels"] == {"run.cog.version": "x"}


@pytest.mark.skipif(shutil.which("umoci") is None, reason="umoci is not installed (apt-get install umoci)")
def test_umoci_unpacks_the_files(tmp_path: Path) -> None:
    src = _project(tmp_path / "src")
    _image(src, tmp_path / "img")
    subprocess.run(
        ["umoci", "unpack", "--image", f"{tmp_path / 'img'}:model", str(tmp_path / "bundle")],
        check=True,
        capture_output=True,
    )
    rootfs = tmp_path / "bundle" / "rootfs"
    assert (rootfs / "src" / "predict.py").read_text() == "print('v1')\n"
    assert (rootfs / "src" / "run.sh").stat().st_mode & 0o111
    assert (rootfs / "nix/store/abc-lib/link").resolve().name == "big.bin"
    runtime = json.loads((tmp_path / "bundle" / "config.json").read_text())
    assert runtime["process"]["cwd"] == "/src" and runtime["process"]["args"] == ["/bin/server"]
