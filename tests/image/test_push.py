"""``cognix push`` and ``cognix load`` against real software: Debian's ``docker-registry`` on
loopback (plain and with htpasswd basic auth), skopeo and podman reading what was pushed.

Images here are written by cognix's OCI writer (fast, no Nix); the end-to-end push of a
Nix-built model image that podman pulls and runs is in tests/build/test_build.py.
"""

from __future__ import annotations

import base64
import json
import re
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from cognix.image import registry
from cognix.nix.builders import oci
from tests.conftest import run_cli
from tests.server_helpers import free_port

pytestmark = pytest.mark.skipif(shutil.which("docker-registry") is None, reason="apt-get install docker-registry")


@dataclass
class Registry:
    host: str
    log: Path

    def uploads(self) -> list[str]:
        """Blob uploads the registry finished (its access log's PUTs to an upload session)."""
        return re.findall(r'"PUT /v2/([^ ]+)/blobs/uploads/[^ ]*digest=', self.log.read_text())


def start_registry(root: Path, htpasswd: Path | None = None) -> tuple[subprocess.Popen, Registry]:
    port = free_port()
    auth = f"auth:\n  htpasswd:\n    realm: test\n    path: {htpasswd}\n" if htpasswd else ""
    root.mkdir(parents=True)
    config = root / "config.yml"
    config.write_text(
        f"version: 0.1\nlog:\n  level: info\n  accesslog:\n    disabled: false\n"
        f"storage:\n  filesystem:\n    rootdirectory: {root / 'data'}\n  delete:\n    enabled: true\n"
        f"http:\n  addr: 127.0.0.1:{port}\n{auth}"
    )
    log = root / "registry.log"
    process = subprocess.Popen(
        ["docker-registry", "serve", str(config)], stdout=log.open("w"), stderr=subprocess.STDOUT
    )
    deadline = time.monotonic() + 20
    while True:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/v2/").status_code in (200, 401):
                break
        except httpx.TransportError:
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.1)
    return process, Registry(f"127.0.0.1:{port}", log)


@pytest.fixture
def plain_registry(tmp_path: Path) -> Iterator[Registry]:
    process, reg = start_registry(tmp_path / "registry")
    yield reg
    process.terminate()
    process.wait()


@pytest.fixture(autouse=True)
def own_push_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))


def image(root: Path, files: dict[str, str], shared: str = "shared base") -> Path:
    """An OCI archive with a shared base layer and a layer of ``files``."""
    (root / "src").mkdir(parents=True)
    for name, text in files.items():
        (root / "src" / name).write_text(text)
    (root / "base").mkdir()
    (root / "base" / "os-release").write_text(shared)
    layers = [oci.tree(root / "base", "etc"), oci.tree(root / "src", "src")]
    config = oci.ImageConfig(entrypoint=["/bin/true"], labels={"x": "y"})
    oci.write_image(root / "layout", layers, config, layer_names=["base", "src"])
    oci.write_archive(root / "layout", root / "image.tar")
    return root / "image.tar"


def skopeo_digest(reference: str, *extra: str) -> str:
    out = subprocess.run(
        ["skopeo", "inspect", "--tls-verify=false", *extra, f"docker://{reference}"], capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)["Digest"]


def test_push_then_repush_uploads_nothing(plain_registry: Registry, tmp_path: Path) -> None:
    archive = image(tmp_path / "a", {"predict.py": "v1"})
    target = f"{plain_registry.host}/models/a:v1"
    cache = {"XDG_CACHE_HOME": str(tmp_path / "cache")}
    first = run_cli("push", target, "--archive", str(archive), "--insecure", cwd=tmp_path, env=cache)
    assert first.returncode == 0, first.stderr
    assert "3 blobs uploaded" in first.stderr  # config + 2 layers
    digest = first.stdout.strip().rsplit("@", 1)[1]
    assert skopeo_digest(target) == digest == oci_digest(archive)
    before = len(plain_registry.uploads())
    again = run_cli("push", target, "--archive", str(archive), "--insecure", cwd=tmp_path, env=cache)
    assert again.returncode == 0, again.stderr
    assert "0 blobs uploaded (0.0 MB), 0 mounted, 3 already there" in again.stderr
    assert len(plain_registry.uploads()) == before == 3  # the registry saw no new upload


def oci_digest(archive: Path) -> str:
    from cognix.image.archive import read_image

    return read_image(archive).digest


def test_a_second_model_uploads_only_its_new_layers(plain_registry: Registry, tmp_path: Path) -> None:
    a = image(tmp_path / "a", {"predict.py": "model a"})
    b = image(tmp_path / "b", {"predict.py": "model b"})
    first = registry.push(a, f"{plain_registry.host}/models/a:v1", insecure=True)
    second = registry.push(b, f"{plain_registry.host}/models/b:v1", insecure=True)
    assert len(first.uploaded) == 3
    assert len(second.uploaded) == 2 and len(second.mounted) == 1  # its config and src; the base layer is mounted
    assert [name for name in plain_registry.uploads()].count("models/b") == 2
    assert skopeo_digest(f"{plain_registry.host}/models/b:v1") == second.digest


def test_large_blobs_go_up_in_chunks_intact(plain_registry: Registry, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(registry, "CHUNK", 4096)  # so that a small test layer takes the chunked path
    archive = image(tmp_path / "a", {"weights.bin": "w" * 50_000 + "".join(map(str, range(20_000)))})
    report = registry.push(archive, f"{plain_registry.host}/models/big:v1", insecure=True)
    assert "PATCH /v2/models/big/blobs/uploads/" in plain_registry.log.read_text()
    copied = subprocess.run(
        [
            "skopeo",
            "copy",
            "--quiet",
            "--src-tls-verify=false",
            f"docker://{plain_registry.host}/models/big:v1",
            f"oci:{tmp_path / 'pulled'}:v1",
        ],
        capture_output=True,
        text=True,
    )
    assert copied.returncode == 0, copied.stderr
    for blob in report.uploaded:  # skopeo verified each digest while copying; and the bytes are ours
        assert (tmp_path / "pulled" / "blobs" / "sha256" / blob.digest[7:]).stat().st_size == blob.size


@pytest.mark.skipif(shutil.which("htpasswd") is None, reason="apt-get install apache2-utils")
def test_basic_auth_from_the_environment_or_docker_config(tmp_path: Path) -> None:
    htpasswd = tmp_path / "htpasswd"
    subprocess.run(["htpasswd", "-Bbc", str(htpasswd), "alice", "s3cret"], check=True, capture_output=True)
    process, reg = start_registry(tmp_path / "registry", htpasswd)
    try:
        archive = image(tmp_path / "a", {"predict.py": "private"})
        target = f"{reg.host}/private/a:v1"
        env = {"XDG_CACHE_HOME": str(tmp_path / "cache"), "DOCKER_CONFIG": str(tmp_path / "docker")}
        refused = run_cli("push", target, "--archive", str(archive), "--insecure", cwd=tmp_path, env=env)
        assert refused.returncode == 1 and "refused the credentials" in refused.stderr
        assert "COGNIX_REGISTRY_USERNAME" in refused.stderr and "Traceback" not in refused.stderr
        with_env = run_cli(
            "push",
            target,
            "--archive",
            str(archive),
            "--insecure",
            cwd=tmp_path,
            env={**env, "COGNIX_REGISTRY_USERNAME": "alice", "COGNIX_REGISTRY_PASSWORD": "s3cret"},
        )
        assert with_env.returncode == 0, with_env.stderr
        (tmp_path / "docker").mkdir()
        auth = base64.b64encode(b"alice:s3cret").decode()
        (tmp_path / "docker" / "config.json").write_text(json.dumps({"auths": {reg.host: {"auth": auth}}}))
        with_config = run_cli(
            "push", f"{reg.host}/private/b:v1", "--archive", str(archive), "--insecure", cwd=tmp_path, env=env
        )
        assert with_config.returncode == 0, with_config.stderr
        assert skopeo_digest(f"{reg.host}/private/b:v1", "--creds", "alice:s3cret") == oci_digest(archive)
    finally:
        process.terminate()
        process.wait()


def test_unreachable_registry_and_bad_reference_are_clear(tmp_path: Path) -> None:
    archive = image(tmp_path / "a", {"predict.py": ""})
    gone = run_cli("push", f"127.0.0.1:{free_port()}/x:v1", "--archive", str(archive), "--insecure", cwd=tmp_path)
    assert gone.returncode == 1 and "cannot reach 127.0.0.1" in gone.stderr and "Traceback" not in gone.stderr
    bad = run_cli("push", "Bad/Name:v1", "--archive", str(archive), cwd=tmp_path)
    assert bad.returncode == 1 and "invalid image name 'Bad/Name:v1'" in bad.stderr


def test_references_parse_as_docker_reads_them() -> None:
    parse = registry.Reference.parse
    assert parse("ghcr.io/me/model:v1") == registry.Reference("ghcr.io", "me/model", "v1")
    assert parse("localhost:5000/model") == registry.Reference("localhost:5000", "model", "latest")
    assert parse("me/model:2") == registry.Reference(registry.DOCKER_HUB, "me/model", "2")
    assert parse("model") == registry.Reference(registry.DOCKER_HUB, "library/model", "latest")


def token_front(upstream: str, may: Callable[[str, str], bool], seen: list[str]) -> type:
    """Registries such as ghcr.io and Docker Hub answer 401 with a Bearer challenge and hand out
    tokens, scoped per repository, from a separate service. Debian's registry can only do that
    with a JWT token service, so this loopback front (said plainly: a test stand-in for such a
    service) issues tokens listing the scopes ``may(user_password, scope)`` grants, checks them
    on every request, as a mount's source repository too, and forwards to the real registry."""
    from urllib.parse import parse_qs, urlsplit

    from tests.server_helpers import QuietHandler

    class Front(QuietHandler):
        def handle_one(self) -> None:
            url = urlsplit(self.path)
            query = parse_qs(url.query)
            if url.path == "/token":
                seen.append(self.path)
                basic = base64.b64decode(self.headers.get("Authorization", "Basic ")[6:]).decode()
                granted = [scope for scope in query.get("scope", []) if may(basic, scope)]
                return self.reply(
                    200, json.dumps({"token": base64.b64encode(json.dumps(granted).encode()).decode()}).encode()
                )
            token = self.headers.get("Authorization", "")
            granted = json.loads(base64.b64decode(token[7:])) if token.startswith("Bearer ") else []
            repo = url.path.split("/v2/", 1)[-1].rsplit("/blobs/", 1)[0].rsplit("/manifests/", 1)[0]
            needed = [f"repository:{repo}:pull,push"] if repo and url.path != "/v2/" else []
            needed += [f"repository:{source}:pull" for source in query.get("from", [])]
            if url.path != "/v2/" and any(n not in granted for n in needed) or not token:
                challenge = (
                    f'Bearer realm="http://{self.headers["Host"]}/token",service="test",scope="{" ".join(needed)}"'
                )
                return self.reply(401, headers={"WWW-Authenticate": challenge})
            forwarded = {k: v for k, v in self.headers.items() if k.lower() in ("content-type", "content-range")}
            answer = httpx.request(
                self.command, f"http://{upstream}{self.path}", headers=forwarded, content=self.body() or None
            )
            keep = ("location", "docker-content-digest", "content-type", "range")
            headers = {
                k: v.replace(upstream, self.headers["Host"]) for k, v in answer.headers.items() if k.lower() in keep
            }
            self.reply(answer.status_code, answer.content, headers)

        do_GET = do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = handle_one

    return Front


def alice_may(credentials: str, scope: str) -> bool:
    """alice (password s3cret) may pull and push models/*, nothing else."""
    return credentials == "alice:s3cret" and scope.startswith("repository:models/")


def test_bearer_token_challenge_is_answered(plain_registry: Registry, tmp_path: Path) -> None:
    from tests.server_helpers import loopback_http

    seen: list[str] = []
    archive = image(tmp_path / "a", {"predict.py": "bearer"})
    with loopback_http(token_front(plain_registry.host, alice_may, seen)) as base:
        env = {
            "XDG_CACHE_HOME": str(tmp_path / "cache"),
            "DOCKER_CONFIG": str(tmp_path / "none"),
            "COGNIX_REGISTRY_USERNAME": "alice",
            "COGNIX_REGISTRY_PASSWORD": "s3cret",
        }
        target = f"{base.removeprefix('http://')}/models/t:v1"
        pushed = run_cli("push", target, "--archive", str(archive), "--insecure", cwd=tmp_path, env=env)
    assert pushed.returncode == 0, pushed.stderr
    assert seen and "scope=repository%3Amodels%2Ft%3Apull%2Cpush" in seen[-1] and "service=test" in seen[-1]
    assert skopeo_digest(f"{plain_registry.host}/models/t:v1") == oci_digest(archive)


def test_a_mount_the_token_does_not_allow_falls_back_to_uploading(plain_registry: Registry, tmp_path: Path) -> None:
    """This machine pushed the shared layer to another team's repository before; alice may not
    read that one, so the mount is refused and the layer is uploaded instead of the push failing."""
    from tests.server_helpers import loopback_http

    first = registry.push(
        image(tmp_path / "a", {"predict.py": "team"}), f"{plain_registry.host}/team/x:v1", insecure=True
    )
    assert len(first.uploaded) == 3  # the shared base layer is now remembered under team/x
    archive = image(tmp_path / "b", {"predict.py": "mine"})
    seen: list[str] = []
    with loopback_http(token_front(plain_registry.host, alice_may, seen)) as base:
        front = base.removeprefix("http://")
        cache = json.loads(registry.cache_path().read_text())
        registry.PushedCache(registry.cache_path()).add(front, "team/x", list(cache))  # same blobs, via the front
        monkeypatch_env = {"COGNIX_REGISTRY_USERNAME": "alice", "COGNIX_REGISTRY_PASSWORD": "s3cret"}
        with pytest.MonkeyPatch.context() as patch:
            for key, value in monkeypatch_env.items():
                patch.setenv(key, value)
            report = registry.push(archive, f"{front}/models/y:v1", insecure=True)
    assert any("team%2Fx%3Apull" in request for request in seen)  # the mount was tried, and refused
    assert report.mounted == [] and len(report.uploaded) == 3
    assert skopeo_digest(f"{plain_registry.host}/models/y:v1") == oci_digest(archive)


def test_broken_credential_and_cache_files_are_named(plain_registry: Registry, tmp_path: Path) -> None:
    archive = image(tmp_path / "a", {"predict.py": ""})
    (tmp_path / "docker").mkdir()
    (tmp_path / "docker" / "config.json").write_text("{not json")
    env = {"XDG_CACHE_HOME": str(tmp_path / "cache"), "DOCKER_CONFIG": str(tmp_path / "docker")}
    broken = run_cli(
        "push", f"{plain_registry.host}/x:v1", "--archive", str(archive), "--insecure", cwd=tmp_path, env=env
    )
    assert broken.returncode == 1 and "cannot read the registry credentials in" in broken.stderr
    assert "Traceback" not in broken.stderr
    helper = {"auths": {plain_registry.host: {}}, "credsStore": "desktop"}
    (tmp_path / "docker" / "config.json").write_text(json.dumps(helper))
    stored = run_cli(
        "push", f"{plain_registry.host}/x:v1", "--archive", str(archive), "--insecure", cwd=tmp_path, env=env
    )
    assert stored.returncode == 1 and "docker-credential-desktop, which cognix does not call" in stored.stderr
    (tmp_path / "docker" / "config.json").unlink()
    (tmp_path / "cache" / "cognix").mkdir(parents=True)
    (tmp_path / "cache" / "cognix" / "pushed-blobs.json").write_text("{trunc")  # a torn write: treated as empty
    fine = run_cli(
        "push", f"{plain_registry.host}/x:v1", "--archive", str(archive), "--insecure", cwd=tmp_path, env=env
    )
    assert fine.returncode == 0, fine.stderr


def lossy_front(upstream: str, drop: Callable[[int], str | None], dropped: list[str]) -> type:
    """A loopback front for the real registry that forwards every request and passes the answer
    back, except for PUTs that complete a blob upload (``?digest=``): ``drop(n)`` for the n-th
    such PUT (from 1) says ``"after"`` (forward it, so the registry stores the blob and closes the
    upload session, read the registry's answer, then close the client's connection without
    answering: a response lost on the way back), ``"before"`` (close the connection without
    forwarding: lost on the way there) or None (forward it). Each dropped path goes in ``dropped``."""
    from urllib.parse import urlsplit

    from tests.server_helpers import QuietHandler

    completing = [0]

    class Front(QuietHandler):
        def handle_one(self) -> None:
            body = self.body()
            what = None
            if self.command == "PUT" and "/blobs/uploads/" in self.path and "digest=" in urlsplit(self.path).query:
                completing[0] += 1
                what = drop(completing[0])
            if what == "before":
                dropped.append(self.path)
                self.close_connection = True
                return
            forwarded = {k: v for k, v in self.headers.items() if k.lower() in ("content-type", "content-range")}
            answer = httpx.request(self.command, f"http://{upstream}{self.path}", headers=forwarded, content=body)
            if what == "after":
                assert answer.status_code == 201, answer.text  # the registry stored the blob ...
                dropped.append(self.path)
                self.close_connection = True  # ... and its answer never reaches the client
                return
            self.send_response(answer.status_code)
            keep = ("location", "docker-content-digest", "docker-upload-uuid", "content-type", "range")
            for key, value in answer.headers.items():
                if key.lower() in keep:
                    self.send_header(key, value.replace(upstream, self.headers["Host"]))
            self.send_header("Content-Length", answer.headers.get("content-length", "0"))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(answer.content)

        do_GET = do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = handle_one

    return Front


def pulled_intact(host: str, reference: str, into: Path, report: registry.PushReport) -> None:
    """skopeo pulls the image from the registry itself, verifying every blob's digest on the way."""
    copied = subprocess.run(
        ["skopeo", "copy", "--quiet", "--src-tls-verify=false", f"docker://{host}/{reference}", f"oci:{into}:v1"],
        capture_output=True,
        text=True,
    )
    assert copied.returncode == 0, copied.stderr
    for blob in report.uploaded:
        assert (into / "blobs" / "sha256" / blob.digest[7:]).stat().st_size == blob.size


@pytest.mark.parametrize("chunked", [False, True], ids=["one-put", "chunked"])
def test_a_lost_answer_to_the_put_that_completes_an_upload_is_not_a_failure(
    plain_registry: Registry, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, chunked: bool
) -> None:
    """The registry stores a blob, and the answer to the PUT that completed its upload is lost
    (a dropped connection, a proxy's timeout). Re-sending that PUT gets 404 BLOB_UPLOAD_UNKNOWN:
    the registry closed the upload session when it stored the blob. The push must see that the
    registry has the blob (HEAD by digest) and go on. A real registry cannot be made to lose its
    own answer, so a loopback front forwards the first completing PUT, reads the registry's 201,
    and closes the connection without passing it on; everything else is real HTTP to the real
    registry."""
    from tests.server_helpers import loopback_http

    if chunked:
        monkeypatch.setattr(registry, "CHUNK", 4096)  # the layer goes up in PATCHes, then a PUT without a body
    archive = image(tmp_path / "a", {"weights.bin": "".join(map(str, range(5_000)))})
    dropped: list[str] = []
    with loopback_http(lossy_front(plain_registry.host, lambda n: "after" if n == 1 else None, dropped)) as base:
        report = registry.push(archive, f"{base.removeprefix('http://')}/models/lost:v1", insecure=True)
    assert len(dropped) == 1 and len(report.uploaded) == 3
    assert len(plain_registry.uploads()) == 3  # the blob whose answer was lost was not uploaded again
    assert skopeo_digest(f"{plain_registry.host}/models/lost:v1") == report.digest == oci_digest(archive)
    pulled_intact(plain_registry.host, "models/lost:v1", tmp_path / "pulled", report)


def test_an_upload_lost_on_the_way_starts_over_once_then_fails_clearly(
    plain_registry: Registry, tmp_path: Path
) -> None:
    """The completing PUT never reaches the registry (the front closes the connection without
    forwarding it): the blob is not there, so the upload starts over from a new session; when
    that one is lost too, the push fails naming the blob and the registry, with no traceback."""
    from tests.server_helpers import loopback_http

    archive = image(tmp_path / "a", {"predict.py": "lost on the way"})
    dropped: list[str] = []
    with loopback_http(lossy_front(plain_registry.host, lambda n: "before" if n == 1 else None, dropped)) as base:
        report = registry.push(archive, f"{base.removeprefix('http://')}/models/again:v1", insecure=True)
    assert len(dropped) == 1 and len(report.uploaded) == 3 and len(plain_registry.uploads()) == 3
    assert plain_registry.log.read_text().count('"POST /v2/models/again/blobs/uploads/') == 4  # 3 blobs, 1 restart
    assert skopeo_digest(f"{plain_registry.host}/models/again:v1") == oci_digest(archive)

    dropped.clear()
    with loopback_http(lossy_front(plain_registry.host, lambda n: "before", dropped)) as base:
        target = f"{base.removeprefix('http://')}/models/never:v1"
        failed = run_cli("push", target, "--archive", str(archive), "--insecure", cwd=tmp_path)
    assert failed.returncode == 1 and "Traceback" not in failed.stderr, failed.stderr
    config = json.loads(registry.Archive(archive).image().manifest)["config"]["digest"]  # the first blob pushed
    assert f"did not store {config}" in failed.stderr and base.removeprefix("http://") in failed.stderr
    assert len(dropped) == 2  # the upload and one fresh start, no more
