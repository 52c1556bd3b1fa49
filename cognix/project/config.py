"""``cog.yaml``: find it, parse it, validate it as Cog does, and report every problem at once.

Validation has Cog's two passes: a schema pass (types, unknown keys) done by the pydantic
model below, and a semantic pass (versions, formats, cross-field rules). Every problem is
a :class:`ConfigIssue` with the line it sits on, so the user fixes them all in one go.
"""

from __future__ import annotations

import difflib
import re
import typing
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import yaml
from packaging.version import InvalidVersion, Version
from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, StrictStr, ValidationError

from cognix.errors import CognixError

CONFIG_NAME = "cog.yaml"
MAX_SEARCH_DEPTH = 100
MIN_PYTHON = (3, 10)
DEFAULT_PYTHON = "3.13"
ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*=.*")  # Go's regexp, as Cog has it: no newline in a value
DIGITS = re.compile(r"[0-9]+")  # ASCII only: str.isdigit() takes "²", which int() refuses
# A YAML document may name a node twice (an alias); these bound what the aliases expand to and
# how deep the document nests, so an alias bomb or a cycle is an error, not a hang or a traceback
MAX_NODES, MAX_DEPTH = 100_000, 64
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

    @property
    def run_commands(self) -> list[RunCommand]:
        """``run``, then the deprecated ``pre_install`` (Cog appends them), each with its mounts."""
        steps = [*(self.run or []), *(self.pre_install or [])]
        return [RunCommand(command=step) if isinstance(step, str) else step for step in steps]


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

    def entry(self, key: str) -> str:
        """cog.yaml's ``run:`` (or ``predict:``) or ``train:``, checked before anything imports it:
        the file must exist, or the error points at cog.yaml's line (a config error, exit 2). A
        missing class is found by the import, after any error of the module's own, and reported
        at the same line (:meth:`entry_error`)."""
        ref = self.config.train if key == "train" else self.config.runner
        if ref is None and key == "train":
            raise CognixError("cog.yaml has no 'train:' entry", hint='add train: "train.py:train" to cog.yaml')
        if ref is None:  # Cog's words (pkg/schema/openapi) when cog.yaml names nothing to run at all
            problem = (
                "cog.yaml has no 'run:' (or 'predict:') entry"
                if self.config.train
                else "no predict or train reference found in cog.yaml"
            )
            raise CognixError(problem, hint='add run: "run.py:Runner" to cog.yaml (predict: is its deprecated name)')
        filename = ref.partition(":")[0]
        if not (self.dir / filename).is_file():
            hint = f"create {filename} next to cog.yaml, or fix {self._entry_key(key)}:"
            raise self.entry_error(key, f"file does not exist: {filename}", hint)
        return ref

    @property
    def entry_keys(self) -> list[str]:
        """The entries cog.yaml names, as :meth:`entry` takes them: "run" (or ``predict:``), "train"."""
        return [key for key, ref in (("run", self.config.runner), ("train", self.config.train)) if ref]

    def _entry_key(self, key: str) -> str:
        """The key cog.yaml spells: ``train``, or ``run`` or its deprecated alias ``predict``."""
        return key if key == "train" else ("run" if self.config.run else "predict")

    def entry_error(self, key: str, problem: str, hint: str | None) -> ConfigError:
        """``problem`` with cog.yaml's ``run:``/``predict:`` (key "run") or ``train:`` entry, at its line."""
        ref = self.config.train if key == "train" else self.config.runner
        key = self._entry_key(key)
        node = yaml.compose(self.config_path.read_text(), Loader=yaml.SafeLoader)
        lines = _line_index(node) if node is not None else {}
        issue = ConfigIssue(key, f'invalid {key} "{ref}": {problem}', _line_of(lines, (key,)), hint)
        return ConfigError(self.config_path, [issue])

    @property
    def requirements(self) -> list[str]:
        """Requirement lines from ``python_requirements`` or ``python_packages``."""
        build = self.config.build_or_default
        if build.python_requirements:
            path = self.dir / build.python_requirements
            try:
                return path.read_text(encoding="utf-8").splitlines()
            except (OSError, UnicodeDecodeError) as error:
                raise CognixError(
                    f"cannot read build.python_requirements ({build.python_requirements}): {error}",
                    hint="save it as UTF-8 text (pip reads requirements files as UTF-8 too)",
                ) from None
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
            named = not i.field or f"{i.field}" in i.message
            lines.append(f"{where}: {i.message}" if named else f"{where}: {i.field}: {i.message}")
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
            problem = "is not a file" if path.exists() else "does not exist"
            raise ConfigNotFound(f"{explicit} {problem}", hint="pass the path of your cog.yaml to -f/--file")
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
        f"{CONFIG_NAME} not found in {start.resolve()} (or in any parent directories)",
        hint="run 'cognix init' to create one, or pass -f PATH",
    )


def _check_shape(root: yaml.Node, path: Path) -> None:
    """Refuse what yaml.safe_load would take and then expand: aliases beyond ``MAX_NODES`` nodes
    (a "billion laughs"), cycles, nesting beyond ``MAX_DEPTH``, and a key given twice in one
    mapping (Go's YAML refuses it; PyYAML keeps the last and drops the first silently)."""

    def fail(message: str, node: yaml.Node) -> ConfigError:
        return ConfigError(path, [ConfigIssue("", f"failed to parse cog.yaml: {message}", node.start_mark.line + 1)])

    visited = 0
    stack: list[tuple[yaml.Node, tuple[int, ...]]] = [(root, ())]
    while stack:
        node, ancestors = stack.pop()
        visited += 1
        if visited > MAX_NODES:
            raise fail(f"its aliases expand to more than {MAX_NODES:,} values (an alias bomb?)", node)
        if id(node) in ancestors:
            raise fail("an alias refers to a node that contains it", node)
        if len(ancestors) > MAX_DEPTH:
            raise fail(f"nested deeper than {MAX_DEPTH} levels", node)
        inside = (*ancestors, id(node))
        if isinstance(node, yaml.MappingNode):
            seen: dict[str, int] = {}
            for key, value in node.value:
                if isinstance(key, yaml.ScalarNode) and key.tag != "tag:yaml.org,2002:merge":
                    line = key.start_mark.line + 1
                    if key.value in seen:
                        raise fail(f'mapping key "{key.value}" already defined at line {seen[key.value]}', key)
                    seen[key.value] = line
                stack += [(key, inside), (value, inside)]
        elif isinstance(node, yaml.SequenceNode):
            stack += [(item, inside) for item in node.value]


def _line_index(
    node: yaml.Node, path: tuple[Any, ...] = (), out: dict[tuple[Any, ...], int] | None = None
) -> dict[tuple[Any, ...], int]:
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
    "list_type": "list or null",
    "dict_type": "mapping",
    "model_type": "mapping",
    "model_attributes_type": "mapping",
}
_UNION_TAGS = {"str", "float", "int", "bool", "list", "dict"}


def _expected_at(loc: tuple[Any, ...]) -> str | None:
    """The type the schema wants at ``loc`` where pydantic sees a union."""
    names = [p for p in loc if isinstance(p, str)]
    if names[-1:] == ["python_version"]:
        return "string or number"
    if names[-1:] == ["source"]:
        return "mapping or list"
    if names[-2:] == ["build", "run"] and isinstance(loc[-1], int):
        return "string or mapping"
    return None


def _clean_loc(loc: tuple[Any, ...]) -> tuple[Any, ...]:
    """Drop the union-member tags pydantic puts in ``loc`` ("str", "RunCommand", "list[...]")."""
    return tuple(p for p in loc if isinstance(p, int) or not (p in _UNION_TAGS or p[:1].isupper() or "[" in p))


def _model_at(loc: tuple[Any, ...]) -> type[BaseModel] | None:
    """The pydantic model describing the mapping at ``loc`` (for key suggestions)."""
    model: type[BaseModel] = Config
    for part in (p for p in loc if isinstance(p, str)):
        field = model.model_fields.get(part)
        if field is None:
            return None
        found = [t for t in _walk_types(field.annotation) if isinstance(t, type) and issubclass(t, BaseModel)]
        if not found:
            return None
        model = found[0]
    return model


def _walk_types(tpe: Any) -> list[Any]:
    return [tpe, *(t for arg in typing.get_args(tpe) for t in _walk_types(arg))]


def _schema_hint(msg: str, loc: tuple[Any, ...]) -> str | None:
    if msg.startswith("Additional property "):
        key = msg.split()[2]
        model = _model_at(loc)
        known = sorted(model.model_fields) if model else []
        close = difflib.get_close_matches(key, known, n=1)
        return f"did you mean '{close[0]}'?" if close else f"remove it; allowed keys: {', '.join(known)}"
    if msg.startswith("must be a "):
        return f"write a {msg.removeprefix('must be a ')} here"
    if msg.endswith(" is required"):
        return f"add {msg.split()[0]}: to {_field_name(loc) or 'the top level'}"
    if "must be one of the following" in msg:
        return "use one of the allowed values"
    return None


def _schema_issues(err_list: Sequence[Mapping[str, Any]]) -> list[tuple[tuple[Any, ...], str, tuple[Any, ...]]]:
    """Pydantic errors as Cog's JSON-schema messages (gojsonschema wording), one per location.

    Like Cog, the deepest error wins: a union value that matched one member's type is
    reported by that member's own errors, not by "wrong type" for the other members.
    Unknown and missing keys are reported on the mapping that holds them (but located at
    the key itself). Returns ``(field, message, where)`` tuples.
    """
    found: list[tuple[tuple[Any, ...], str, tuple[Any, ...]]] = []
    wrong_type: dict[tuple[Any, ...], str] = {}
    for err in err_list:
        loc, kind = _clean_loc(err["loc"]), err["type"]
        if kind == "extra_forbidden":
            found.append((loc[:-1], f"Additional property {loc[-1]} is not allowed", loc))
        elif kind == "missing":
            found.append((loc[:-1], f"{loc[-1]} is required", loc[:-1]))
        elif kind == "literal_error":
            allowed = ", ".join(f'"{e.strip(chr(39))}"' for e in str(err["ctx"]["expected"]).split(" or "))
            found.append((loc, f"{_field_name(loc)} must be one of the following: {allowed}", loc))
        elif kind in _JSON_TYPE:
            wrong_type.setdefault(loc, _expected_at(loc) or _JSON_TYPE[kind])
        else:
            found.append((loc, err["msg"], loc))
    for loc, expected in wrong_type.items():
        if not any(f[: len(loc)] == loc for f, _, _ in found):
            found.append((loc, f"must be a {expected}", loc))
    return list(dict.fromkeys(found))


# --- semantic pass (Cog's validate.go wording) ------------------------------------------

Issue = tuple[str, str, tuple[Any, ...], "str | None"]  # field, message, where, hint


def _version_text(value: Any) -> str:
    return str(value).strip()


def _check_python_version(value: Any) -> tuple[str, str] | None:
    text = _version_text(value)
    parts = text.split(".")
    if len(parts) < 2:
        return "must include major and minor version (e.g., '3.11')", 'write it as "3.X", e.g. "3.12"'
    if not DIGITS.fullmatch(parts[0]):
        return "invalid major version number", 'write it as "3.X", e.g. "3.12"'
    if not DIGITS.fullmatch(parts[1]):
        return "invalid minor version number", 'write it as "3.X", e.g. "3.12"'
    if (int(parts[0]), int(parts[1])) < MIN_PYTHON:
        if isinstance(value, float):
            return "minimum supported Python version is 3.10", f'YAML reads {value} as a number: quote it, e.g. "3.10"'
        return "minimum supported Python version is 3.10", 'use "3.10" or newer'
    return None


def _check_cuda(value: str) -> str | None:
    parts = value.split(".")
    if len(parts) < 2:
        return "must include both major and minor versions (e.g., '11.8')"
    if not DIGITS.fullmatch(parts[0]):
        return "invalid major version number"
    if int(parts[0]) < 11:
        return "minimum supported CUDA version is 11"
    return None


def _python_minor(build: Any) -> tuple[int, int] | None:
    if not isinstance(build, dict) or isinstance(build.get("python_version"), (bool, list, dict)):
        return None
    parts = _version_text(build.get("python_version", DEFAULT_PYTHON)).split(".")
    numeric = len(parts) >= 2 and DIGITS.fullmatch(parts[0]) and DIGITS.fullmatch(parts[1])
    return (int(parts[0]), int(parts[1])) if numeric else None


def _build_issues(build: dict[str, Any], project_dir: Path, invalid: Any) -> None:
    if "python_version" not in build:
        invalid(
            ("build", "python_version"),
            None,
            "python_version is required. Add it to the build section of your cog.yaml, e.g. "
            f'`python_version: "{DEFAULT_PYTHON}"`',
            f'add python_version: "{DEFAULT_PYTHON}" under build:',
        )
    elif isinstance(build["python_version"], (str, int, float)) and not isinstance(build["python_version"], bool):
        if problem := _check_python_version(build["python_version"]):
            invalid(("build", "python_version"), _version_text(build["python_version"]), *problem)
    if build.get("python_packages") and build.get("python_requirements"):
        invalid(
            ("build",),
            None,
            "only one of python_packages or python_requirements can be set, not both",
            "move the packages into your requirements file and delete python_packages",
        )
    req = build.get("python_requirements")
    if isinstance(req, str) and not _inside(project_dir, req):
        invalid(
            ("build", "python_requirements"),
            req,
            "must be a file inside the project (the image holds only the project)",
            "move the file into the project folder and name it relative to cog.yaml",
        )
    elif isinstance(req, str) and not (project_dir / req).is_file():
        invalid(("build", "python_requirements"), req, "file does not exist", f"create {req} next to cog.yaml")
    cuda = build.get("cuda")
    if isinstance(cuda, str) and (cuda_problem := _check_cuda(cuda)):
        invalid(("build", "cuda"), cuda, cuda_problem, 'write it as "X.Y", e.g. "12.4"')
    run = build.get("run")
    for i, item in enumerate(run if isinstance(run, list) else []):  # the schema pass names a non-list
        cmd = item.get("command") if isinstance(item, dict) else item
        if isinstance(cmd, str) and "\n" in cmd.strip():
            invalid(
                ("build", "run", i),
                cmd.strip().splitlines()[0] + "...",
                "command contains a newline",
                "create a new list item in cog.yaml prefixed with '-' for each command",
            )
        mounts = item.get("mounts") if isinstance(item, dict) else None
        for j, mount in enumerate(mounts if isinstance(mounts, list) else []):
            _mount_issues(mount, ("build", "run", i, "mounts", j), invalid)
    sdk = build.get("sdk_version")
    if isinstance(sdk, str) and sdk != "prerelease":
        try:
            if Version(sdk) < Version("0.16.0"):
                invalid(("build", "sdk_version"), sdk, "minimum supported SDK version is 0.16.0", 'e.g. "0.23.1"')
        except InvalidVersion:
            invalid(("build", "sdk_version"), sdk, "not a valid PEP 440 version", 'e.g. "0.23.1" or "prerelease"')


SECRET_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")


def _mount_issues(mount: Any, where: tuple[Any, ...], invalid: Any) -> None:
    """A secret's id names a file (``--secret id=…``) and its target a path in the step's root:
    neither may lead anywhere else."""
    if not isinstance(mount, dict):
        return
    secret_id, target = mount.get("id"), mount.get("target")
    if isinstance(secret_id, str) and not SECRET_ID.fullmatch(secret_id):
        invalid((*where, "id"), secret_id, "a secret id is letters, digits, '.', '_' and '-'", "e.g. id: hf-token")
    if isinstance(target, str) and (
        not target.startswith("/") or target.rstrip("/") == "" or ".." in target.split("/") or " " in target
    ):
        invalid(
            (*where, "target"),
            target,
            "a secret's target is an absolute path without '..' or spaces",
            "e.g. /run/secrets/hf",
        )


def _env_issues(items: list[Any], invalid: Any) -> None:
    seen: set[str] = set()
    for i, item in enumerate(items):
        if not isinstance(item, str):
            continue
        name, sep, _ = item.partition("=")
        if not sep or not name or not ENV_NAME.fullmatch(item):
            invalid(
                ("environment", i),
                None,
                f'environment variable "{item}" is not in the KEY=VALUE format',
                "write each entry as NAME=value",
            )
        elif name in RESERVED_ENV or name.startswith(RESERVED_ENV_PREFIXES):
            invalid(
                ("environment", i),
                None,
                f'environment variable "{name}" is not allowed',
                "cognix sets this variable itself; use another name",
            )
        elif name in seen:
            invalid(
                ("environment", i),
                None,
                f'environment variable "{name}" is already defined',
                "remove the duplicate entry",
            )
        seen.add(name)


def _semantic_issues(data: dict[str, Any], project_dir: Path) -> list[Issue]:
    issues: list[Issue] = []

    def invalid(loc: tuple[Any, ...], value: Any, msg: str, hint: str | None = None) -> None:
        """Cog's ValidationError: ``invalid <field> "<value>": <msg>`` (field without list index)."""
        field = _field_name(tuple(p for p in loc if not isinstance(p, int)))
        head = f"invalid {field}" if value is None else f'invalid {field} "{value}"'
        issues.append((field, f"{head}: {msg}", loc, hint))

    build = data.get("build")
    if isinstance(build, dict):
        _build_issues(build, project_dir, invalid)
    forms = (("run", "run.py:Runner"), ("predict", "predict.py:Predictor"), ("train", "train.py:Trainer"))
    for key, form in forms:
        value = data.get(key)
        if isinstance(value, str) and len(value.split(".py:")) != 2:
            invalid((key,), value, f"must be in the form '{form}'", f'e.g. {key}: "{form}"')
        elif isinstance(value, str) and not _inside(project_dir, value.split(":", 1)[0]):
            invalid(
                (key,),
                value,
                "must name a file inside the project (the image holds only the project)",
                "move the file into the project folder and name it relative to cog.yaml",
            )
    if data.get("run") and data.get("predict"):
        issues.append(
            ("predict", "only one of run or predict can be set", ("predict",), "keep run: and delete predict:")
        )
    concurrency = data.get("concurrency")
    if isinstance(concurrency, dict) and isinstance(concurrency.get("max"), int):
        cmax = concurrency["max"]
        minor = _python_minor(build) if isinstance(build, dict) else None
        if cmax < 1:
            invalid(("concurrency", "max"), cmax, "must be at least 1")
        elif cmax > 1 and minor is not None and minor < (3, 11):
            invalid(
                ("concurrency", "max"),
                cmax,
                "concurrency requires Python 3.11 or higher",
                'set build.python_version to "3.11" or newer',
            )
    if isinstance(data.get("environment"), list):
        _env_issues(data["environment"], invalid)
    _model_issues(data, invalid)
    return issues


def _inside(project_dir: Path, name: str) -> bool:
    """Whether a path cog.yaml names stays in the project (no ``..`` out, not absolute)."""
    return not Path(name).is_absolute() and (project_dir / name).resolve().is_relative_to(project_dir.resolve())


def _model_issues(data: dict[str, Any], invalid: Any) -> None:
    model, image, weights = data.get("model"), data.get("image"), data.get("weights")
    if isinstance(model, str):
        if model and image:
            invalid(("model",), model, "'model' and 'image' cannot both be set", "keep only model:")
        elif ":" in model.rsplit("/", 1)[-1] or "@" in model:
            invalid(
                ("model",),
                model,
                "must be a bare repository (no :tag or @digest)",
                "e.g. model: registry/acme/my-model",
            )
        elif model != model.lower():
            invalid(("model",), model, "invalid repository: names must be lowercase")
    if not isinstance(weights, list) or not weights:
        return
    if not model:
        if image:
            invalid(("image",), None, "weights require 'model', not 'image' — rename 'image' to 'model'")
        else:
            invalid(("weights",), None, "weights require 'model' in cog.yaml", "add model: registry/repo")
    names: set[str] = set()
    targets: list[str] = []
    for i, w in enumerate(weights):
        if not isinstance(w, dict):
            continue
        name, target = w.get("name"), w.get("target")
        if name == "":
            invalid(("weights", i, "name"), None, "name is required")
        elif isinstance(name, str) and not WEIGHT_NAME.match(name):
            invalid(
                ("weights", i, "name"),
                name,
                "must contain only lowercase letters and digits, separated by '.', '_' or '-'",
            )
        elif isinstance(name, str) and name in names:
            invalid(("weights", i, "name"), name, "duplicate weight name")
        if isinstance(name, str):
            names.add(name)
        if target == "":
            invalid(("weights", i, "target"), None, "target is required")
        elif isinstance(target, str):
            t = target.rstrip("/")
            if not target.startswith("/") or not t:
                invalid(("weights", i, "target"), target, "target must be an absolute path (and not /)")
            elif t in targets:
                invalid(("weights", i, "target"), target, "duplicate weight target")
            else:
                for other in targets:
                    if t.startswith(other + "/") or other.startswith(t + "/"):
                        invalid(("weights", i, "target"), target, f"target overlaps with {other}")
                targets.append(t)
        sources = w.get("source")
        for j, src in enumerate(sources if isinstance(sources, list) else [sources]):
            for key in ("include", "exclude"):
                patterns = src.get(key) if isinstance(src, dict) else None
                for k, pat in enumerate(patterns if isinstance(patterns, list) else []):
                    loc = ("weights", i, "source", *((j,) if isinstance(sources, list) else ()), key, k)
                    if not isinstance(pat, str):
                        continue
                    if not pat.strip():
                        invalid(loc, pat, "pattern must not be empty")
                    elif pat.startswith("!"):
                        invalid(loc, pat, "negation patterns are not supported; use exclude")
                    elif "\\" in pat:
                        invalid(loc, pat, "patterns must use forward slashes")


@dataclass(frozen=True)
class Deprecation:
    """A deprecated cog.yaml field in use: its dotted name, what replaces it, and Cog's reason."""

    field: str
    replacement: str
    reason: str

    def __str__(self) -> str:
        return f'deprecated field "{self.field}": use "{self.replacement}" instead'


def deprecations(config: Config) -> list[Deprecation]:
    """The deprecated fields ``config`` uses, in Cog's words (``checkDeprecatedFields``)."""
    build = config.build_or_default
    out = []
    if config.predict:
        out.append(Deprecation("predict", "run", "use run to point at run.py:Runner"))
    if build.python_packages:
        out.append(
            Deprecation("build.python_packages", "build.python_requirements", "use a requirements.txt file instead")
        )
    if build.pre_install:
        out.append(Deprecation("build.pre_install", "build.run", "use build.run commands instead"))
    if config.concurrency is not None:
        reason = "configure prediction concurrency with @cog.concurrent on your async run() method instead"
        out.append(Deprecation("concurrency.max", "@cog.concurrent(max=...)", reason))
    return out


# --- entry points -----------------------------------------------------------------------


def parse(text: str, path: Path, project_dir: Path | None = None) -> tuple[Config, list[str]]:
    """Validate cog.yaml text; raise :class:`ConfigError` listing every issue."""
    project_dir = project_dir or path.parent
    try:
        loader = yaml.SafeLoader(text)
        try:
            node = loader.get_single_node()  # kept for line numbers
            if node is not None:
                _check_shape(node, path)
            data = loader.construct_document(node) if node is not None else None
        finally:
            loader.dispose()
    except RecursionError:  # PyYAML composes nested nodes recursively
        raise ConfigError(
            path, [ConfigIssue("", f"failed to parse cog.yaml: nested deeper than {MAX_DEPTH} levels", None)]
        ) from None
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
        for loc, msg, where in _schema_issues(e.errors(include_url=False)):
            name = _field_name(loc) or CONFIG_NAME
            issues.append(
                ConfigIssue(name, f'schema error in "{name}": {msg}', _line_of(lines, where), _schema_hint(msg, loc))
            )
    for field, msg, where, hint in _semantic_issues(data, project_dir):
        issues.append(ConfigIssue(field, msg, _line_of(lines, where), hint))
    if issues or config is None:
        raise ConfigError(path, issues)
    return config, [str(d) for d in deprecations(config)]


def load_project(cwd: Path, config_file: str | None = None) -> Project:
    """Find and validate the project's cog.yaml."""
    path = find_config(cwd, config_file)
    try:
        text = path.read_text()
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigNotFound(f"cannot read {path}: {e}") from None
    config, warnings = parse(text, path)
    return Project(dir=path.parent, config_path=path, config=config, warnings=warnings)
