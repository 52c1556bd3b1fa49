"""``cog.yaml``: find it, parse it, validate it as Cog does, and report every problem at once.

Validation has Cog's two passes: a schema pass (types, unknown keys) done by the pydantic
model below, and a semantic pass (versions, formats, cross-field rules). Every problem is
a :class:`ConfigIssue` with the line it sits on, so the user fixes them all in one go.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, StrictStr, ValidationError

from .errors import CognixError

CONFIG_NAME = "cog.yaml"
MAX_SEARCH_DEPTH = 100
MIN_PYTHON = (3, 10)
MAX_PYTHON = (3, 13)
DEFAULT_PYTHON = "3.13"
ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=.*$")
RESERVED_ENV = {
    "PATH",
    "LD_LIBRARY_PATH",
    "PYTHONPATH",
    "VIRTUAL_ENV",
    "PYTHONUNBUFFERED",
    "LIBRARY_PATH",
    "HF_ENDPOINT",
    "HF_HUB_ENABLE_HF_TRANSFER",
}
RESERVED_ENV_PREFIXES = ("R8_", "REPLICATE_", "CUDA_", "NVIDIA_", "NV_", "PGET_", "KUBERNETES_")
WEIGHT_NAME = re.compile(r"^[a-z0-9]+([._-][a-z0-9]+)*$")


# --- the model --------------------------------------------------------------------------


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class SecretMount(_Strict):
    type: Literal["secret"]
    id: StrictStr
    target: StrictStr


class RunCommand(_Strict):
    command: StrictStr
    mounts: list[SecretMount] = Field(default_factory=list)


class Build(_Strict):
    gpu: StrictBool = False
    python_version: StrictStr | float | int = DEFAULT_PYTHON
    python_requirements: StrictStr | None = None
    python_packages: list[StrictStr] | None = None
    system_packages: list[StrictStr] | None = None
    run: list[StrictStr | RunCommand] | None = None
    pre_install: list[StrictStr] | None = None
    cuda: StrictStr | None = None
    cudnn: StrictStr | None = None
    sdk_version: StrictStr | None = None


class Concurrency(_Strict):
    max: StrictInt
    default_target: StrictInt | None = None


class WeightSource(_Strict):
    uri: StrictStr
    include: list[StrictStr] = Field(default_factory=list)
    exclude: list[StrictStr] = Field(default_factory=list)


class Weight(_Strict):
    name: StrictStr
    target: StrictStr
    source: WeightSource | list[WeightSource]


class Config(_Strict):
    """A validated cog.yaml. ``runner`` is ``run:`` or its deprecated alias ``predict:``."""

    build: Build | None = None
    image: StrictStr | None = None
    model: StrictStr | None = None
    run: StrictStr | None = None
    predict: StrictStr | None = None
    train: StrictStr | None = None
    concurrency: Concurrency | None = None
    environment: list[StrictStr] | None = None
    weights: list[Weight] | None = None

    @property
    def build_or_default(self) -> Build:
        return self.build or Build()

    @property
    def runner(self) -> str | None:
        return self.run or self.predict

    @property
    def python_version(self) -> str:
        return _version_text(self.build_or_default.python_version)

    @property
    def environment_dict(self) -> dict[str, str]:
        return dict(item.split("=", 1) for item in self.environment or [])


@dataclass
class Project:
    """A loaded project: where it lives and its config."""

    dir: Path
    config_path: Path
    config: Config
    warnings: list[str]

    @property
    def requirements(self) -> list[str]:
        """Requirement lines from ``python_requirements`` or ``python_packages``."""
        build = self.config.build_or_default
        if build.python_requirements:
            return (self.dir / build.python_requirements).read_text().splitlines()
        return list(build.python_packages or [])


# --- errors -----------------------------------------------------------------------------


@dataclass(frozen=True)
class ConfigIssue:
    field: str
    message: str
    line: int | None = None
    hint: str | None = None


class ConfigError(CognixError):
    """cog.yaml is invalid; carries every issue found."""

    exit_code = 2

    def __init__(self, path: Path, issues: list[ConfigIssue]) -> None:
        self.path = path
        self.issues = sorted(issues, key=lambda i: (i.line or 0, i.field))
        lines = []
        for i in self.issues:
            where = f"{path.name}:{i.line}" if i.line else path.name
            lines.append(f"{where}: {i.field}: {i.message}" if i.field else f"{where}: {i.message}")
            if i.hint:
                lines.append(f"  hint: {i.hint}")
        super().__init__("\n".join(lines))


class ConfigNotFound(CognixError):
    exit_code = 2


# --- finding and parsing ----------------------------------------------------------------


def find_config(start: Path, explicit: str | None = None) -> Path:
    """``-f`` names the file; otherwise search upward from ``start`` as Cog does."""
    if explicit:
        path = (start / explicit).resolve()
        if not path.is_file():
            raise ConfigNotFound(f"{explicit} does not exist", hint="pass the path of your cog.yaml to -f/--file")
        return path
    here = start.resolve()
    for _ in range(MAX_SEARCH_DEPTH):
        candidate = here / CONFIG_NAME
        if candidate.is_file():
            return candidate
        if here.parent == here:
            break
        here = here.parent
    raise ConfigNotFound(
        f"{CONFIG_NAME} not found in {start.resolve()} or its parent directories",
        hint="run 'cognix init' to create one, or pass -f PATH",
    )


def _line_index(node: yaml.Node, path: tuple[Any, ...] = (), out: dict[tuple[Any, ...], int] | None = None) -> dict:
    """Map each key path (``("build", "gpu")``, ``("environment", 0)``) to its 1-based line."""
    out = {} if out is None else out
    out.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            child = (*path, key.value)
            out[child] = key.start_mark.line + 1
            _line_index(value, child, out)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            out[(*path, i)] = item.start_mark.line + 1
            _line_index(item, (*path, i), out)
    return out


def _line_of(lines: dict[tuple[Any, ...], int], loc: tuple[Any, ...]) -> int | None:
    while loc not in lines and loc:
        loc = loc[:-1]
    return lines.get(loc)


def _field_name(loc: tuple[Any, ...]) -> str:
    return ".".join(str(p) for p in loc)


# --- schema pass (pydantic errors in Cog's words) ----------------------------------------

_JSON_TYPE = {
    "string_type": "string",
    "bool_type": "boolean",
    "int_type": "integer",
    "float_type": "number",
    "list_type": "list",
    "dict_type": "mapping",
    "model_type": "mapping",
    "model_attributes_type": "mapping",
}


def _given(value: Any) -> str:
    if value is None:
        return "null"
    for py, name in ((bool, "boolean"), (int, "integer"), (float, "number"), (str, "string"), (list, "list")):
        if isinstance(value, py):
            return name
    return "mapping" if isinstance(value, dict) else type(value).__name__


def _expected_at(loc: tuple[Any, ...]) -> str | None:
    """The type the schema wants at ``loc`` (for messages about union fields)."""
    names = [p for p in loc if isinstance(p, str)]
    if names[-1:] == ["python_version"]:
        return "string or number"
    if names[-1:] == ["source"]:
        return "mapping or list"
    if len(names) >= 2 and names[-2:] == ["build", "run"] and isinstance(loc[-1], int):
        return "string or mapping"
    return None


_UNION_TAGS = {"str", "float", "int", "bool", "list", "dict"}


def _clean_loc(loc: tuple[Any, ...]) -> tuple[Any, ...]:
    """Drop the union-member tags pydantic puts in ``loc`` ("str", "RunCommand", "list[...]")."""
    return tuple(
        p for p in loc if isinstance(p, int) or not (p in _UNION_TAGS or p[:1].isupper() or "[" in p)
    )


def _schema_issues(err_list: list[dict[str, Any]]) -> list[tuple[tuple[Any, ...], str]]:
    """Pydantic errors as Cog's JSON-schema messages, one per location.

    Like Cog, the deepest error wins: a union value that matched one member's type is
    reported by that member's own errors, not by "wrong type" for the other members.
    """
    found: list[tuple[tuple[Any, ...], str, Any]] = []
    for err in err_list:
        loc, kind = _clean_loc(err["loc"]), err["type"]
        if kind == "extra_forbidden":
            found.append((loc, f"Additional property {loc[-1]} is not allowed", None))
        elif kind == "missing":
            found.append((loc[:-1], f"{loc[-1]} is required", None))
        elif kind == "literal_error":
            allowed = ", ".join(f'"{e.strip(chr(39))}"' for e in str(err["ctx"]["expected"]).split(" or "))
            found.append((loc, f"must be one of the following: {allowed}", None))
        elif kind in _JSON_TYPE:
            found.append((loc, "", err.get("input")))
        else:
            found.append((loc, err["msg"], None))
    deeper = [loc for loc, msg, _ in found if msg]
    by_loc: dict[tuple[Any, ...], str] = {}
    for loc, msg, given in found:
        if msg:
            by_loc.setdefault(loc, msg)
        elif not any(d[: len(loc)] == loc for d in deeper):
            expected = _expected_at(loc) or next(
                _JSON_TYPE[e["type"]] for e in err_list if _clean_loc(e["loc"]) == loc and e["type"] in _JSON_TYPE
            )
            by_loc.setdefault(loc, f"Invalid type. Expected: {expected}, given: {_given(given)}")
    return list(by_loc.items())


# --- semantic pass ----------------------------------------------------------------------


def _version_text(value: Any) -> str:
    return str(value)


def _check_python_version(value: Any) -> tuple[str, str | None] | None:
    text = _version_text(value)
    parts = text.split(".")
    if len(parts) < 2:
        return "must include major and minor version", 'write it as "3.X", e.g. "3.12"'
    try:
        major, minor = int(parts[0]), int(parts[1])
        if len(parts) > 2:
            int(parts[2])
    except ValueError:
        return "invalid major/minor version number", 'write it as "3.X" or "3.X.Y", e.g. "3.12"'
    if (major, minor) < MIN_PYTHON:
        hint = 'YAML reads 3.10 as the number 3.1: quote it ("3.10")' if isinstance(value, float) else None
        return "minimum supported Python version is 3.10", hint or 'use "3.10" or newer'
    if (major, minor) > MAX_PYTHON:
        return "maximum supported Python version is 3.13", 'use "3.10"–"3.13"'
    return None


def _check_cuda(value: str) -> str | None:
    parts = value.split(".")
    if len(parts) < 2:
        return "must include both major and minor versions"
    try:
        major = int(parts[0])
        [int(p) for p in parts[1:]]
    except ValueError:
        return "invalid version number"
    if major < 11:
        return "minimum supported CUDA version is 11"
    return None


def _semantic_issues(data: dict[str, Any], project_dir: Path) -> list[tuple[tuple[Any, ...], str, str | None]]:
    issues: list[tuple[tuple[Any, ...], str, str | None]] = []

    def add(loc: tuple[Any, ...], msg: str, hint: str | None = None) -> None:
        issues.append((loc, msg, hint))

    def invalid(loc: tuple[Any, ...], value: Any, msg: str, hint: str | None = None) -> None:
        add(loc, f'invalid {_field_name(loc)} "{value}": {msg}', hint)

    build = data.get("build")
    if isinstance(build, dict):
        if "python_version" not in build:
            add(
                ("build",),
                "python_version is required. Add it to the build section of cog.yaml, e.g. python_version: "
                f'"{DEFAULT_PYTHON}"',
                f'add python_version: "{DEFAULT_PYTHON}" under build:',
            )
        elif isinstance(build["python_version"], (str, int, float)) and not isinstance(build["python_version"], bool):
            problem = _check_python_version(build["python_version"])
            if problem:
                invalid(("build", "python_version"), _version_text(build["python_version"]), *problem)
        if build.get("python_packages") and build.get("python_requirements"):
            add(
                ("build", "python_packages"),
                "only one of python_packages or python_requirements can be set, not both",
                "move the packages into your requirements file and delete python_packages",
            )
        req = build.get("python_requirements")
        if isinstance(req, str) and not (project_dir / req).is_file():
            invalid(("build", "python_requirements"), req, "file does not exist", f"create {req} next to cog.yaml")
        for key in ("cuda",):
            value = build.get(key)
            if isinstance(value, str) and (problem := _check_cuda(value)):
                invalid(("build", key), value, problem, 'write it as "X.Y", e.g. "12.4"')
        cudnn = build.get("cudnn")
        if isinstance(cudnn, str) and not re.fullmatch(r"\d+(\.\d+)*", cudnn):
            invalid(("build", "cudnn"), cudnn, "must be a version number", 'e.g. "9"')
        for i, item in enumerate(build.get("run") or []):
            cmd = item.get("command") if isinstance(item, dict) else item
            if isinstance(cmd, str) and "\n" in cmd.strip():
                invalid(
                    ("build", "run", i),
                    cmd.strip().splitlines()[0] + "...",
                    "command contains a newline",
                    "create a new list item in cog.yaml prefixed with '-' for each command",
                )
        if isinstance(build.get("sdk_version"), str):
            _check_sdk_version(build["sdk_version"], invalid)
    for key, form in (("run", "run.py:Runner"), ("predict", "predict.py:Predictor"), ("train", "train.py:Trainer")):
        value = data.get(key)
        if isinstance(value, str) and len(value.split(".py:")) != 2:
            invalid((key,), value, f"must be in the form '{form}'", f"e.g. {key}: \"{form}\"")
    if data.get("run") and data.get("predict"):
        add(("predict",), "only one of run or predict can be set", "keep run: and delete predict:")
    concurrency = data.get("concurrency")
    if isinstance(concurrency, dict) and isinstance(concurrency.get("max"), int):
        cmax = concurrency["max"]
        if cmax < 1:
            invalid(("concurrency", "max"), cmax, "must be at least 1")
        elif cmax > 1 and isinstance(build, dict) and isinstance(build.get("python_version"), (str, float)):
            v = _version_text(build["python_version"]).split(".")
            if len(v) >= 2 and v[1].isdigit() and (int(v[0]), int(v[1])) < (3, 11):
                add(("concurrency", "max"), "concurrency.max > 1 requires python_version 3.11 or newer")
    seen: set[str] = set()
    for i, item in enumerate(data.get("environment") or []):
        if not isinstance(item, str):
            continue
        if not ENV_NAME.match(item):
            invalid(("environment", i), item, "not in the KEY=VALUE format", "write each entry as NAME=value")
            continue
        name = item.split("=", 1)[0]
        if name in seen:
            invalid(("environment", i), item, f"environment variable {name} already defined")
        seen.add(name)
        if name in RESERVED_ENV or name.startswith(RESERVED_ENV_PREFIXES):
            invalid(("environment", i), item, f"environment variable {name} is reserved for internal use")
    _weights_issues(data, add, invalid)
    return issues


def _check_sdk_version(value: str, invalid: Any) -> None:
    if value == "prerelease":
        return
    from packaging.version import InvalidVersion, Version

    try:
        if Version(value) < Version("0.16.0"):
            invalid(("build", "sdk_version"), value, "minimum supported SDK version is 0.16.0")
    except InvalidVersion:
        invalid(("build", "sdk_version"), value, "not a valid PEP 440 version", 'e.g. "0.23.1" or "prerelease"')


def _weights_issues(data: dict[str, Any], add: Any, invalid: Any) -> None:
    weights = data.get("weights")
    if not isinstance(weights, list) or not weights:
        return
    if data.get("image") and not data.get("model"):
        add(("image",), "weights require 'model', not 'image' — rename 'image' to 'model'")
    elif not data.get("model"):
        add(("weights",), "weights require 'model'", "add model: registry/repo")
    names: set[str] = set()
    targets: list[str] = []
    for i, w in enumerate(weights):
        if not isinstance(w, dict):
            continue
        name, target = w.get("name"), w.get("target")
        if isinstance(name, str):
            if not WEIGHT_NAME.match(name):
                invalid(("weights", i, "name"), name, "must be lowercase letters and digits separated by . _ or -")
            elif name in names:
                invalid(("weights", i, "name"), name, "duplicate weight name")
            names.add(name)
        if isinstance(target, str):
            if not target.startswith("/"):
                invalid(("weights", i, "target"), target, "must be an absolute path")
            elif target.rstrip("/") == "":
                invalid(("weights", i, "target"), target, "must not be /")
            else:
                t = target.rstrip("/")
                for other in targets:
                    if t == other:
                        invalid(("weights", i, "target"), target, "duplicate target")
                    elif t.startswith(other + "/") or other.startswith(t + "/"):
                        invalid(("weights", i, "target"), target, f"overlaps with target {other}")
                targets.append(t)
        sources = w.get("source")
        for j, src in enumerate(sources if isinstance(sources, list) else [sources]):
            if not isinstance(src, dict):
                continue
            for key in ("include", "exclude"):
                for k, pat in enumerate(src.get(key) or []):
                    if isinstance(pat, str) and (not pat or pat.startswith("!") or "\\" in pat):
                        loc = ("weights", i, "source", *((j,) if isinstance(sources, list) else ()), key, k)
                        invalid(loc, pat, "patterns must be non-empty, not start with '!' and not contain '\\'")


def _deprecations(config: Config) -> list[str]:
    out = []
    build = config.build_or_default
    if config.predict:
        out.append("'predict' in cog.yaml is deprecated; rename it to 'run'")
    if build.python_packages is not None:
        out.append("build.python_packages is deprecated; use build.python_requirements with a requirements.txt")
    if build.pre_install is not None:
        out.append("build.pre_install is deprecated; use build.run")
    if config.concurrency is not None:
        out.append("concurrency in cog.yaml is deprecated; use @cog.concurrent(max=N) on run()")
    return out


# --- entry points -----------------------------------------------------------------------


def parse(text: str, path: Path, project_dir: Path | None = None) -> tuple[Config, list[str]]:
    """Validate cog.yaml text; raise :class:`ConfigError` listing every issue."""
    project_dir = project_dir or path.parent
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        problem = getattr(e, "problem", None) or str(e)
        raise ConfigError(
            path,
            [ConfigIssue("", f"failed to parse cog.yaml: invalid YAML: {problem}", mark.line + 1 if mark else None)],
        ) from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(path, [ConfigIssue("", "failed to parse cog.yaml: the top level must be a mapping", 1)])
    lines = _line_index(node) if node is not None else {}
    issues: list[ConfigIssue] = []
    config: Config | None = None
    try:
        config = Config.model_validate(data)
    except ValidationError as e:
        for loc, msg in _schema_issues(e.errors(include_url=False)):
            name = _field_name(loc) or "(root)"
            issues.append(ConfigIssue(name, f'schema error in "{name}": {msg}', _line_of(lines, loc)))
    for loc, msg, hint in _semantic_issues(data, project_dir):
        issues.append(ConfigIssue(_field_name(loc), msg, _line_of(lines, loc), hint))
    if issues or config is None:
        raise ConfigError(path, issues)
    return config, _deprecations(config)


def load_project(cwd: Path, config_file: str | None = None) -> Project:
    """Find and validate the project's cog.yaml."""
    path = find_config(cwd, config_file)
    try:
        text = path.read_text()
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigNotFound(f"cannot read {path}: {e}") from None
    config, warnings = parse(text, path)
    return Project(dir=path.parent, config_path=path, config=config, warnings=warnings)
