"""The image's exact closure as a CycloneDX 1.6 SBOM (cyclonedx-python-lib).

Components: every locked wheel (``pkg:pypi`` purl, the lock's sha256 and URL, the licence from
the installed wheel's metadata), the Python interpreter, every Debian package the image is made
of (``pkg:deb`` purl with the lock's version, sha256 and URL), CUDA and cuDNN on GPU images, every
Nix store path of the image (its NAR hash, as nixpkgs' ``nix:*`` property names have it), and
the model source (``/src``, by NAR hash); dependency edges come from the wheels' Requires-Dist.
The document is a pure function of those inputs: fixed timestamp, serial number derived from
the content, components sorted. ``cognix build`` writes it to ``.cognix/sbom.cdx.json`` and
labels the image with its digest (``io.cognix.sbom.sha256``).
"""

from __future__ import annotations

import email.parser
import hashlib
import json
import uuid
import warnings
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

from cognix._version import __version__
from cognix.build import nixcli
from cognix.project import debian
from cognix.project.pylock import Lock

LABEL = "io.cognix.sbom.sha256"
EPOCH = datetime(1970, 1, 1, 0, 0, 1, tzinfo=timezone.utc)  # as the image's `created`


def _metadata(env: Path) -> dict[str, Any]:
    """name → parsed METADATA of every distribution installed in the environment."""
    found: dict[str, Any] = {}
    for metadata in sorted(env.glob("lib/python*/site-packages/*.dist-info/METADATA")):
        message = email.parser.Parser().parsestr(metadata.read_text(errors="replace"), headersonly=True)
        found[canonicalize_name(message["Name"] or metadata.parent.name.split("-")[0])] = message
    return found


def _license(message: Any) -> str | None:
    if message is None:
        return None
    if expression := message.get("License-Expression"):
        return str(expression).strip()
    text = (message.get("License") or "").strip()
    if text and "\n" not in text and len(text) < 100 and text.upper() != "UNKNOWN":
        return text
    # the most specific licence classifier ("License :: OSI Approved :: MIT License", not "… :: OSI Approved")
    classifiers = [
        c.split("::")[-1].strip()
        for c in message.get_all("Classifier") or []
        if c.count("::") >= 2 and c.startswith("License ::")
    ]
    return classifiers[0] if classifiers else None


def _requires(message: Any, python: str) -> list[str]:
    environment = {
        "python_version": python,
        "python_full_version": f"{python}.0",
        "os_name": "posix",
        "sys_platform": "linux",
        "platform_system": "Linux",
        "platform_machine": "x86_64",
        "extra": "",
    }
    names: list[str] = []
    for line in message.get_all("Requires-Dist") or [] if message is not None else []:
        try:
            requirement = Requirement(line)
        except InvalidRequirement:
            continue
        if requirement.marker is None or requirement.marker.evaluate(environment):
            names.append(canonicalize_name(requirement.name))
    return names


def build_sbom(
    *,
    name: str,
    lock: Lock,
    env: Path,
    python_version: str,
    store_paths: list[dict[str, Any]],
    source: dict[str, Any],
) -> str:
    """The CycloneDX 1.6 JSON document (see the module docstring)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        from cyclonedx.factory.license import LicenseFactory
        from cyclonedx.model import ExternalReference, ExternalReferenceType, HashAlgorithm, HashType, Property, XsUri
        from cyclonedx.model.bom import Bom, BomMetaData
        from cyclonedx.model.component import Component, ComponentType
        from cyclonedx.model.tool import ToolRepository
        from cyclonedx.output.json import JsonV1Dot6
        from packageurl import PackageURL

    tool = lock.cognix
    metadata = _metadata(env)
    licenses = LicenseFactory()
    wheels: dict[str, Any] = {}
    for package in lock.packages:
        key: str = canonicalize_name(package.name)
        artifact = package.wheel or package.sdist
        license_text = _license(metadata.get(key))
        wheels[key] = Component(
            type=ComponentType.LIBRARY,
            name=package.name,
            version=package.version,
            bom_ref=f"pypi:{key}",
            purl=PackageURL("pypi", name=key, version=package.version),
            hashes=[HashType(alg=HashAlgorithm.SHA_256, content=artifact.sha256)] if artifact else [],
            # a file of the project's (``path``) has no address but the image it is in
            external_references=[ExternalReference(type=ExternalReferenceType.DISTRIBUTION, url=XsUri(artifact.url))]
            if artifact and artifact.url
            else [],
            licenses=[licenses.make_from_string(license_text)] if license_text else [],
        )
    python = Component(
        type=ComponentType.APPLICATION,
        name="cpython",
        version=python_version,
        bom_ref="cpython",
        purl=PackageURL("generic", name="cpython", version=python_version),
    )
    suite = tool.debian.suite if tool.debian else ""
    debs = [
        Component(
            type=ComponentType.LIBRARY,
            name=deb.name,
            version=deb.version,
            bom_ref=f"deb:{deb.name}",
            purl=PackageURL("deb", "debian", deb.name, deb.version, {"arch": deb.architecture, "distro": suite}),
            hashes=[HashType(alg=HashAlgorithm.SHA_256, content=deb.sha256)],
            external_references=[ExternalReference(type=ExternalReferenceType.DISTRIBUTION, url=XsUri(deb.url))],
        )
        for deb in (tool.debian.packages if tool.debian else [])
        if not (deb.name in debian.BUILD_ONLY and deb.roles == ["toolchain"])  # run by the build only
    ]
    extra = [python, *debs]
    for key, value in (("cuda", tool.cuda), ("cudnn", tool.cudnn)):
        if value:
            version = str(value)
            purl = PackageURL("generic", namespace="nvidia", name=key, version=version)
            extra.append(Component(type=ComponentType.FRAMEWORK, name=key, version=version, bom_ref=key, purl=purl))
    nix_paths = [
        Component(
            type=ComponentType.FILE,
            name=Path(info["path"]).name.split("-", 1)[1],
            bom_ref=f"nix:{info['path']}",
            hashes=[HashType(alg=HashAlgorithm.SHA_256, content=nixcli.sha256_hex(info["narHash"]))],
            properties=[
                Property(name="nix:store_path", value=info["path"]),
                Property(name="nix:nar_size", value=str(info["narSize"])),
            ],
        )
        for info in store_paths
    ]
    model = Component(
        type=ComponentType.FILE,
        name="model-source",
        bom_ref="model-source",
        hashes=[HashType(alg=HashAlgorithm.SHA_256, content=nixcli.sha256_hex(source["narHash"]))],
        properties=[Property(name="cognix:path", value="/src")],
    )
    image = Component(type=ComponentType.CONTAINER, name=name, bom_ref="image")
    everything = [*wheels.values(), *extra, *nix_paths, model]
    digest_input = json.dumps([str(c.bom_ref.value) + repr([h.content for h in c.hashes]) for c in everything])
    bom = Bom(
        serial_number=uuid.uuid5(
            uuid.NAMESPACE_URL, "cognix-sbom:" + hashlib.sha256(digest_input.encode()).hexdigest()
        ),
        metadata=BomMetaData(
            timestamp=EPOCH,
            component=image,
            tools=ToolRepository(
                components=[Component(type=ComponentType.APPLICATION, name="cognix", version=__version__)]
            ),
        ),
        components=everything,
    )
    bom.register_dependency(image, [*wheels.values(), *extra, model])
    for key, component in wheels.items():
        depends = sorted({d for d in _requires(metadata.get(key), tool.python) if d in wheels and d != key})
        bom.register_dependency(component, [wheels[d] for d in depends])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the library warns that a component has no version (store paths)
        text = JsonV1Dot6(bom).output_as_string(indent=2)
    return text + "\n"


def validate(text: str) -> None:
    """Raise if ``text`` is not valid CycloneDX 1.6 JSON (needs cyclonedx-python-lib[json-validation])."""
    from cyclonedx.schema import SchemaVersion
    from cyclonedx.validation.json import JsonStrictValidator

    error = JsonStrictValidator(SchemaVersion.V1_6).validate_str(text)
    if error is not None:
        raise ValueError(str(error))
