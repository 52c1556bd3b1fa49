"""``cognix sbom``: a CycloneDX 1.6 document of the built image's exact closure, validated
against the CycloneDX schema, reproducible, and tied to the image by a label."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
from pathlib import Path

import pytest
import tomllib
from packageurl import PackageURL

from cognix.build import nixcli, sbom
from cognix.image.archive import layer_files, read_image
from cognix.project.debian import BUILD_ONLY
from tests.conftest import copy_example, run_cli

needs_nix = pytest.mark.skipif(shutil.which("nix") is None, reason="Nix is not installed (apt-get install nix-bin)")


def test_nix_base32_hashes_read_as_hex() -> None:
    expected = "5ec0daf04de06ecdb47e7c1ca38cc1d4f68a60c70808b58a9fcf432139a90148"
    base32 = "0j01m4wj2hygky5ba208qxh8mxnlq66a673wgsscsvp09pqdmh2y"  # nix hash to-base32 of expected
    assert nixcli.nix32_to_hex(base32) == expected
    assert nixcli.sha256_hex(f"sha256:{base32}") == nixcli.sha256_hex(f"sha256:{expected}") == expected


@needs_nix
@pytest.mark.slow
@pytest.mark.network
def test_the_sbom_lists_the_exact_closure_and_validates(tmp_path: Path) -> None:
    project = tmp_path / "blur"
    copy_example("blur", project)
    result = run_cli("sbom", "--toolchain", "offline", "-o", str(tmp_path / "sbom.json"), cwd=project)
    assert result.returncode == 0, result.stderr
    text = (tmp_path / "sbom.json").read_text()
    sbom.validate(text)
    document = json.loads(text)
    assert document["specVersion"] == "1.6" and document["metadata"]["timestamp"] == "1970-01-01T00:00:01+00:00"
    components = {c["bom-ref"]: c for c in document["components"]}
    lock = tomllib.loads((project / "pylock.toml").read_text())
    for package in lock["packages"]:  # every wheel, with the lock's sha256, URL and version
        component = components[f"pypi:{package['name']}"]
        wheel = package["wheels"][0]
        assert component["version"] == package["version"]
        assert component["hashes"] == [{"alg": "SHA-256", "content": wheel["hashes"]["sha256"]}]
        assert component["externalReferences"][0]["url"] == wheel["url"]
    assert components["pypi:pillow"]["licenses"]  # read from the installed wheel's metadata
    debian = lock["tool"]["cognix"]["debian"]
    for deb in debian["packages"]:  # every Debian package of the image, but patchelf and bubblewrap
        if deb["name"] in BUILD_ONLY:
            assert f"deb:{deb['name']}" not in components  # runs in the build only
            continue
        component = components[f"deb:{deb['name']}"]
        purl = PackageURL.from_string(component["purl"])  # "+" is percent-encoded (libstdc++6)
        assert (purl.type, purl.namespace, purl.name, purl.version) == ("deb", "debian", deb["name"], deb["version"])
        assert purl.qualifiers == {"arch": deb["architecture"], "distro": debian["suite"]}
        assert component["version"] == deb["version"] and component["hashes"][0]["content"] == deb["hashes"]["sha256"]
    assert "deb:libc6" in components and "deb:libssl3" in components  # what scanners look for
    assert "deb:coreutils" in components  # the image's shell tools, a system package of every image
    store = [c for c in document["components"] if c["bom-ref"].startswith("nix:")]
    store_paths = {p["value"] for c in store for p in c["properties"] if p["name"] == "nix:store_path"}
    assert any(path.endswith("-python-3.11") for path in store_paths) and any("-pillow-" in p for p in store_paths)
    archive = project / ".cognix" / "image.tar"
    in_image = {
        "/" + "/".join(name.split("/")[:3])
        for layer in read_image(archive).layers
        for name in layer_files(archive, layer.digest)
        if name.startswith("nix/store/") and name.count("/") >= 2
    }
    assert store_paths == in_image  # exactly the store paths the image holds
    assert "model-source" in components and "cpython" in components
    edges = {d["ref"]: d.get("dependsOn", []) for d in document["dependencies"]}
    assert "pypi:pydantic-core" in edges["pypi:pydantic"]  # from Requires-Dist
    # tied to the image: its label is the document's sha256
    label = json.loads(
        subprocess.run(
            ["skopeo", "inspect", "--config", f"oci-archive:{archive}"], capture_output=True, text=True
        ).stdout
    )["config"]["Labels"][sbom.LABEL]
    assert label == hashlib.sha256(text.encode()).hexdigest()
    again = run_cli("sbom", "--toolchain", "offline", "-o", str(tmp_path / "again.json"), cwd=project)
    assert again.returncode == 0 and (tmp_path / "again.json").read_text() == text
