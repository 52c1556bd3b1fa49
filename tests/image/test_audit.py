"""``cognix inspect`` and ``cognix diff`` on real locks and OCI archives (written by cognix's
OCI writer here; the Nix-built image is inspected in tests/build/test_build.py)."""

from __future__ import annotations

import json
from pathlib import Path

import tomli_w

from cognix.nix.builders import oci
from tests.conftest import run_cli


def lock(path: Path, packages: dict[str, str], **tool: object) -> Path:
    wheel = {"size": 1, "hashes": {"sha256": "0" * 64}}
    table = {
        "python": "3.11",
        "gpu": False,
        "platform": "x86_64-manylinux_2_28",
        "cognix-version": "0",
        "inputs-hash": "sha256:" + "0" * 64,
        "nixpkgs": {"url": "github:NixOS/nixpkgs/0", "nar-hash": "x"},
    }
    document = {
        "lock-version": "1.0",
        "requires-python": "==3.11.*",
        "packages": [
            {"name": n, "version": v, "wheels": [{"url": f"https://x/{n}-{v}.whl", **wheel}]}
            for n, v in packages.items()
        ],
        "tool": {"cognix": {**table, **tool}},
    }
    path.write_text(tomli_w.dumps(document))
    return path


def image(root: Path, packages: dict[str, str], code: str, cuda: str | None = None) -> Path:
    site = root / "env" / "lib" / "python3.11" / "site-packages"
    for name, version in packages.items():
        (site / f"{name}-{version}.dist-info").mkdir(parents=True)
        (site / f"{name}-{version}.dist-info" / "METADATA").write_text(f"Name: {name}\nVersion: {version}\n")
    (root / "env").mkdir(parents=True, exist_ok=True)
    (root / "src").mkdir()
    (root / "src" / "predict.py").write_text(code)
    build = {"python_version": "3.11", "gpu": cuda is not None, **({"cuda": cuda} if cuda else {})}
    config = oci.ImageConfig(labels={"run.cog.config": json.dumps({"build": build}), "run.cog.version": "0.1.0"})
    layers = [oci.tree(root / "env", "nix/store/" + "a" * 32 + "-python-env"), oci.tree(root / "src", "src")]
    oci.write_image(root / "layout", layers, config, tag="m:v1", layer_names=["site-packages", "src"])
    oci.write_archive(root / "layout", root / "image.tar")
    return root / "image.tar"


def test_diff_of_two_locks(tmp_path: Path) -> None:
    old = lock(tmp_path / "old.toml", {"torch": "2.4.1", "six": "1.16.0", "gone": "1"}, cuda="12.1")
    new = lock(tmp_path / "new.toml", {"torch": "2.5.1", "six": "1.16.0", "fresh": "2"}, cuda="12.4")
    result = run_cli("diff", str(old), str(new), "--json", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {
        "added": {"fresh": "2"},
        "removed": {"gone": "1"},
        "changed": {"torch": ["2.4.1", "2.5.1"]},
        "facts": {"cuda": ["12.1", "12.4"]},
    }
    text = run_cli("diff", str(old), str(new), cwd=tmp_path).stdout
    assert (
        "~ cuda: 12.1 → 12.4" in text and "+ fresh 2" in text and "- gone 1" in text and "~ torch 2.4.1 → 2.5.1" in text
    )


def test_diff_of_two_images_names_packages_and_layers(tmp_path: Path) -> None:
    old = image(tmp_path / "a", {"torch": "2.4.1", "six": "1.16.0"}, "v1")
    new = image(tmp_path / "b", {"torch": "2.4.1", "six": "1.17.0"}, "v1", cuda="12.4")
    changes = json.loads(run_cli("diff", str(old), str(new), "--json", cwd=tmp_path).stdout)
    assert changes["changed"] == {"six": ["1.16.0", "1.17.0"]}
    assert changes["facts"] == {"cuda": [None, "12.4"], "gpu": [False, True]}
    assert [(c["layer"], c["status"]) for c in changes["layers"]] == [("site-packages", "changed"), ("src", "same")]


def test_diff_refuses_a_lock_against_an_image(tmp_path: Path) -> None:
    result = run_cli("diff", str(lock(tmp_path / "l.toml", {})), str(image(tmp_path / "i", {}, "")), cwd=tmp_path)
    assert result.returncode == 1 and "compare two locks or two images" in result.stderr


def test_inspect_shows_config_labels_and_what_each_layer_holds(tmp_path: Path) -> None:
    archive = image(tmp_path / "a", {"six": "1.17.0"}, "print(1)")
    info = json.loads(run_cli("inspect", str(archive), "--json", cwd=tmp_path).stdout)
    assert info["name"] == "m:v1" and info["digest"].startswith("sha256:")
    assert info["labels"]["run.cog.version"] == "0.1.0" and info["labels"]["run.cog.config"].endswith("bytes of JSON")
    assert [(layer["name"], layer["holds"], layer["files"]) for layer in info["layers"]] == [
        ("site-packages", ["python-env"], 1),
        ("src", ["/src"], 1),
    ]
    readable = run_cli("inspect", str(archive), cwd=tmp_path)
    assert readable.returncode == 0 and "site-packages" in readable.stdout and "python-env" in readable.stdout
    missing = run_cli("inspect", str(tmp_path / "nope.tar"), cwd=tmp_path)
    assert missing.returncode == 1 and "does not exist" in missing.stderr


def test_images_not_built_by_cognix(tmp_path: Path) -> None:
    """Unnamed layers (other builders), no labels at all: matched by digest, nothing crashes."""

    def plain(root: Path, texts: list[str]) -> Path:
        layers = []
        for i, text in enumerate(texts):
            (root / str(i)).mkdir(parents=True)
            (root / str(i) / "f").write_text(text)
            layers.append(oci.tree(root / str(i), text))
        oci.write_image(root / "layout", layers, oci.ImageConfig())
        oci.write_archive(root / "layout", root / "image.tar")
        return root / "image.tar"

    old = plain(tmp_path / "a", ["base", "app", "top"])
    new = plain(tmp_path / "b", ["base", "inserted", "app", "top"])
    changes = json.loads(run_cli("diff", str(old), str(new), "--json", cwd=tmp_path).stdout)
    statuses = sorted(c["status"] for c in changes["layers"])
    assert statuses == ["added", "same", "same", "same"]  # one new layer, not four changed ones
    assert run_cli("inspect", str(new), cwd=tmp_path).returncode == 0
