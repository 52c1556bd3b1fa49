"""Resolving apt names against a Debian index: dependency closure, alternatives, virtual
packages, Ubuntu's names, and errors with suggestions. A small index written here stands in for
Debian's (the real one is exercised by tests/build/test_debian_toolchain.py)."""

from __future__ import annotations

import pytest

from cognix.project import debian


def package(name: str, depends: str = "", **fields: str) -> tuple[str, dict[str, str]]:
    entry = {
        "Version": "1.0-1",
        "Architecture": "amd64",
        "Filename": f"pool/main/{name[0]}/{name}/{name}_1.0-1_amd64.deb",
        "Size": "100",
        "SHA256": "ab" * 32,
        "Depends": depends,
        **fields,
    }
    return name, entry


INDEX = debian.Index(
    suite="trixie",
    release="13.8",
    date="Sat, 21 Nov 2026 09:15:44 UTC",
    packages=dict(
        [
            package("git", "libc6 (>= 2.38), perl, libcurl3t64-gnutls (>= 7.56.1), git-man (>> 1:2.47.3)"),
            package("git-man"),
            package("perl", "perl-base (= 5.40.1-6), debconf (>= 0.5) | debconf-2.0"),
            package("perl-base", Essential="yes"),
            package("libcurl3t64-gnutls", "libc6, awk-impl | mawk"),
            package("mawk", Provides="awk-impl"),
            package("libc6", "libgcc-s1"),
            package("libgcc-s1", "libc6"),
            package("libgl1", "libglvnd0"),
            package("libglvnd0"),
            package("libssl3t64", "libc6"),
            package("debconf"),
            package("ca-certificates", "openssl (>= 1.1.1), debconf (>= 0.5) | debconf-2.0"),
            package("openssl", "libssl3t64"),
        ]
    ),
    provides={"awk-impl": ["mawk"], "libssl3": ["libssl3t64"]},
)


def names(pin: debian.DebianPin) -> list[str]:
    return [p.name for p in pin.packages]


def test_the_closure_follows_depends_and_skips_maintainer_script_packages() -> None:
    pin = debian.pin(INDEX, {"system": ["git"]})
    assert names(pin) == [
        "git",
        "git-man",
        "libc6",
        "libcurl3t64-gnutls",
        "libgcc-s1",
        "mawk",
        "perl",
        "perl-base",
    ]  # debconf serves only postinst scripts; awk-impl is provided by mawk
    git = pin.packages[0]
    assert git.url == "https://deb.debian.org/debian/pool/main/g/git/git_1.0-1_amd64.deb"
    assert (
        git.snapshot_url
        == "https://snapshot.debian.org/archive/debian/20261121T151544Z/pool/main/g/git/git_1.0-1_amd64.deb"
    )
    assert git.roles == ["system"] and git.sha256 == "ab" * 32


def test_a_package_both_roles_need_has_both_and_leaves_bring_no_dependencies() -> None:
    pin = debian.pin(INDEX, {"toolchain": ["libc6", "ca-certificates"], "system": ["git"]})
    roles = {p.name: p.roles for p in pin.packages}
    assert roles["libc6"] == roles["libgcc-s1"] == ["toolchain", "system"]  # git needs them too
    assert roles["ca-certificates"] == ["toolchain"] and roles["git"] == ["system"]
    assert "openssl" not in roles  # ca-certificates: its files only
    assert [p.name for p in pin.role("toolchain")] == ["ca-certificates", "libc6", "libgcc-s1"]


def test_ubuntu_names_are_mapped_and_said() -> None:
    said: list[str] = []
    pin = debian.pin(INDEX, {"system": ["libgl1-mesa-glx", "libssl3", "libcurl3-gnutls"]}, progress=said.append)
    assert pin.renames == {
        "libcurl3-gnutls": "libcurl3t64-gnutls",
        "libgl1-mesa-glx": "libgl1",
        "libssl3": "libssl3t64",
    }
    assert "apt name 'libgl1-mesa-glx' is 'libgl1' in Debian trixie" in said
    assert {"libgl1", "libglvnd0", "libssl3t64", "libcurl3t64-gnutls"} <= set(names(pin))


def test_an_apt_version_pin_must_be_the_suites_version() -> None:
    pin = debian.pin(INDEX, {"system": ["git=1.0-1", "mawk:amd64"]})
    assert {"git", "mawk"} <= set(names(pin)) and pin.renames == {}
    with pytest.raises(debian.DebianError) as raised:
        debian.pin(INDEX, {"system": ["git=2.39.5-0+deb12u2"]})
    assert raised.value.message == (
        "cog.yaml build.system_packages asks for git 2.39.5-0+deb12u2, and Debian trixie ships git 1.0-1"
    )


def test_an_unknown_name_is_an_error_with_suggestions() -> None:
    with pytest.raises(debian.DebianError) as raised:
        debian.pin(INDEX, {"system": ["gitt"]})
    assert (
        "cog.yaml build.system_packages: Debian trixie has no package 'gitt' (did you mean: git" in raised.value.message
    )
    assert "--toolchain nixpkgs" in (raised.value.hint or "")


def test_each_python_comes_from_one_suite_or_is_refused() -> None:
    assert debian.suite_for("3.11") == "bookworm" and debian.suite_for("3.13") == "trixie"
    for missing in ("3.10", "3.12"):
        with pytest.raises(debian.DebianError, match=f"no Debian suite ships Python {missing}"):
            debian.suite_for(missing)
