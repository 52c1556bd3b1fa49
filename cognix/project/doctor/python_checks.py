"""Doctor's Python checks on the predictor files, read with ``ast`` and never imported: output
classes on pydantic's BaseModel, deprecated ``cog`` imports, and the concurrency run() declares.

Each rewrite takes one file as the earlier rewrites left it and re-parses it between steps.
It changes only what keeps the program's meaning (an output typed ``File`` is the same ``uri``
as a ``Path``; a ``File`` input read only with ``.read()`` reads the same bytes with
``.read_bytes()``), and says why when it cannot (:class:`~cognix.project.doctor.findings.Unsafe`).
"""

from __future__ import annotations

import ast
import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

from cognix.project.doctor.context import METHODS, Context
from cognix.project.doctor.findings import Finding, Rewrite, Severity, Unsafe, Workspace
from cognix.project.doctor.pysource import Edit, Function, PySource, cog_name, drop_imports

PYDANTIC_BASE = ("pydantic.BaseModel", "pydantic.main.BaseModel")
FILE = ("cog.File", "cog.types.File")
METRIC = "cog.emit_metric"
EXPERIMENTAL = ("cog.ExperimentalFeatureWarning", "cog.types.ExperimentalFeatureWarning")


# --- pydantic.BaseModel ----------------------------------------------------------------


def _arbitrary_types(cls: ast.ClassDef) -> ast.stmt | None:
    """``model_config = ConfigDict(arbitrary_types_allowed=True)`` (or the dict form) in ``cls``."""
    for stmt in cls.body:
        if not isinstance(stmt, (ast.Assign, ast.AnnAssign)):
            continue
        value, targets = stmt.value, stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]
        if not any(isinstance(t, ast.Name) and t.id == "model_config" for t in targets):
            continue
        pairs: list[tuple[object, ast.expr]]
        if isinstance(value, ast.Call):
            pairs = [(k.arg, k.value) for k in value.keywords]
        elif isinstance(value, ast.Dict):
            pairs = [
                (k.value if isinstance(k, ast.Constant) else None, v)
                for k, v in zip(value.keys, value.values, strict=True)
            ]
        else:
            continue
        if any(k == "arbitrary_types_allowed" and isinstance(v, ast.Constant) and v.value is True for k, v in pairs):
            return stmt
    return None


def _workarounds(src: PySource) -> list[tuple[ast.ClassDef, ast.stmt]]:
    """Top-level classes on pydantic's BaseModel that allow arbitrary types (Cog's criterion)."""
    found = []
    for cls in src.tree.body:
        if isinstance(cls, ast.ClassDef) and any(src.resolve(b) in PYDANTIC_BASE for b in cls.bases):
            if (config := _arbitrary_types(cls)) is not None:
                found.append((cls, config))
    return found


def _check_dataclass_shape(src: PySource, cls: ast.ClassDef, model_config: ast.stmt) -> None:
    """cog.BaseModel is a dataclass: the class may hold fields (plain defaults, none before a
    required one), a docstring and its model_config, which may say nothing else."""
    where = f"{cls.name} ({src.path}:{cls.lineno})"
    if len(cls.bases) != 1 or cls.keywords or cls.decorator_list:
        raise Unsafe(f"{where} has more than pydantic.BaseModel behind it: convert it by hand")
    value = model_config.value if isinstance(model_config, (ast.Assign, ast.AnnAssign)) else None
    settings = value.keywords if isinstance(value, ast.Call) else value.keys if isinstance(value, ast.Dict) else []
    if len(settings) != 1 or (isinstance(value, ast.Call) and value.args):
        raise Unsafe(f"the model_config of {where} sets more than arbitrary_types_allowed: convert it by hand")
    defaulted = False
    for stmt in cls.body:
        if stmt is model_config or isinstance(stmt, ast.Pass):
            continue
        if isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant) and isinstance(stmt.value.value, str):
            continue
        if isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name):
            plain = stmt.value is None or isinstance(stmt.value, ast.Constant)
            if plain and not (defaulted and stmt.value is None):
                defaulted = defaulted or stmt.value is not None
                continue
        raise Unsafe(
            f"{where} uses pydantic at line {stmt.lineno} in a way cog.BaseModel (a dataclass) does not: "
            "convert it by hand"
        )


def _pydantic_to_cog(path: str, ws: Workspace) -> None:
    """Put the flagged classes on cog.BaseModel, drop their model_config and the pydantic imports
    nothing uses any more, and import cog's BaseModel (as CogBaseModel if pydantic's stays)."""
    src = PySource(path, ws.read(path))
    flagged = _workarounds(src)
    for cls, model_config in flagged:
        _check_dataclass_shape(src, cls, model_config)
    bases = [cls.bases[0] for cls, _ in flagged]
    configs = [model_config for _, model_config in flagged]
    # the pydantic names only these classes use: their imports go
    unused = (
        []
        if any(isinstance(r, ast.Name) and r not in bases for r in src.references(*PYDANTIC_BASE))
        else [*PYDANTIC_BASE]
    )
    if all(any(src.within(r, c) for c in configs) for r in src.references("pydantic.ConfigDict")):
        unused.append("pydantic.ConfigDict")
    local = src.local("cog.BaseModel")
    if local is None:  # BaseModel, unless pydantic's keeps that name
        free = "pydantic.BaseModel" in unused and src.taken("BaseModel", "pydantic.BaseModel") is None
        local = "BaseModel" if free else "CogBaseModel"
        if not free and (line := src.taken(local, "cog.BaseModel")):
            raise Unsafe(f"CogBaseModel names something else in {path} (line {line}): convert it by hand")
    edits = [src.replace(base, local) for base in bases] + [src.remove_statement(c) for c in configs]
    src = drop_imports(PySource(path, src.apply(edits)), unused)
    module = next(
        (s for s in src.tree.body if isinstance(s, ast.Import) and [a.name for a in s.names] == ["pydantic"]), None
    )
    if module is not None and not module.names[0].asname and not src.references("pydantic"):
        src = PySource(path, src.apply([src.remove_statement(module)]))
    if src.local("cog.BaseModel") != local:
        src = PySource(path, src.apply([src.add_import("cog.BaseModel", local)]))
    ws.write(path, src.text)


def pydantic_basemodel(ctx: Context) -> list[Finding]:
    """Output classes that work around pydantic.BaseModel instead of using cog.BaseModel."""
    found = []
    for path, src in sorted(ctx.sources.items()):
        rewrite = partial(_pydantic_to_cog, path)
        for cls, _ in _workarounds(src):
            found.append(
                Finding(
                    Severity.ERROR,
                    f"{cls.name} inherits from pydantic.BaseModel with arbitrary_types_allowed; "
                    "use cog.BaseModel instead",
                    "Replace pydantic.BaseModel with cog.BaseModel and remove ConfigDict(arbitrary_types_allowed=True)",
                    path,
                    cls.lineno,
                    rewrite,
                )
            )
    return found


# --- deprecated imports ----------------------------------------------------------------


def _file_to_path(path: str, ws: Workspace) -> None:
    """``File`` becomes ``Path`` where it types an output, or an input that is only ``.read()``
    (then ``.read_bytes()``) or compared with None; any other use is left to the user."""
    src = PySource(path, ws.read(path))
    edits: list[Edit] = []
    path_local = src.local("cog.Path") or src.local("cog.types.Path")
    for name in FILE:
        for _, alias in src.imported(name):
            if (
                alias.asname is None
                and path_local is None
                and (line := src.taken("Path", name[: -len("File")] + "Path"))
            ):
                raise Unsafe(f"Path names something else in {path} (line {line}): replace File by hand")
    unaliased = {a.name for name in FILE for _, a in src.imported(name) if a.asname is None}
    for ref in src.references(*FILE):
        edits += _path_for_file(src, ref)
        if isinstance(ref, ast.Attribute):
            edits.append(src.replace(ref, f"{src.segment(ref.value)}.Path"))
        elif isinstance(ref, ast.Name) and ref.id in unaliased:
            edits.append(src.replace(ref, path_local or "Path"))
    for node in ast.walk(src.tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and _names_file(src, node):
            raise Unsafe(f"a string annotation names File at {path}:{node.lineno}: replace it by hand")
    for name in FILE:
        for stmt, alias in src.imported(name):
            if alias.asname:
                edits.append(src.replace(alias, f"Path as {alias.asname}"))
            elif path_local is None:
                edits.append(src.replace(alias, "Path"))
                path_local = "Path"
            else:
                edits.append(src.drop_alias(stmt, alias))
    ws.write(path, src.apply(edits))


def _names_file(src: PySource, node: ast.Constant) -> bool:
    """A string annotation that mentions one of the file's names for File."""
    parent = src.parents.get(node)
    annotation = (isinstance(parent, ast.arg) and parent.annotation is node) or (
        isinstance(parent, (ast.FunctionDef, ast.AsyncFunctionDef)) and parent.returns is node
    )
    locals_ = {local for local, dotted in src.bindings.items() if cog_name(dotted) in FILE}
    return annotation and any(re.search(rf"\b{re.escape(local)}\b", str(node.value)) for local in locals_)


def _path_for_file(src: PySource, ref: ast.expr) -> list[Edit]:
    """What else must change for ``ref`` (a use of File) to become Path: nothing for an output
    type, the input's ``.read()`` calls for an input; :class:`Unsafe` for any other use."""
    annotation: ast.AST = ref
    parent = src.parents[ref]
    if isinstance(parent, ast.BinOp) and isinstance(parent.op, ast.BitOr):
        other = parent.right if parent.left is ref else parent.left
        if isinstance(other, ast.Constant) and other.value is None:
            annotation, parent = parent, src.parents[parent]
    elif isinstance(parent, ast.Subscript) and src.resolve(parent.value) == "typing.Optional":
        annotation, parent = parent, src.parents[parent]
    if isinstance(parent, ast.arg) and parent.annotation is annotation:
        return _read_bytes(src, parent)
    node: ast.AST = ref
    while node in src.parents:
        up = src.parents[node]
        if isinstance(up, (ast.FunctionDef, ast.AsyncFunctionDef)):
            if up.returns is node:
                return []
            break
        node = up
    raise Unsafe(f"File is used at {src.path}:{ref.lineno} other than as an input or output type: replace it by hand")


def _read_bytes(src: PySource, param: ast.arg) -> list[Edit]:
    fn = src.parents[src.parents[param]]
    assert isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
    edits = []
    for stmt in fn.body if isinstance(fn.body, list) else [fn.body]:
        for use in ast.walk(stmt):
            if not (isinstance(use, ast.Name) and use.id == param.arg):
                continue
            up = src.parents[use]
            call = src.parents.get(up)
            if isinstance(up, ast.Attribute) and up.attr == "read" and isinstance(call, ast.Call) and call.func is up:
                if not call.args and not call.keywords:
                    edits.append(src.replace(up, f"{use.id}.read_bytes"))
                    continue
            if isinstance(up, ast.Compare) and up.left is use and len(up.ops) == 1:
                if isinstance(up.ops[0], (ast.Is, ast.IsNot)) and isinstance(up.comparators[0], ast.Constant):
                    continue
            raise Unsafe(
                f"input {param.arg!r} is used as a file object at {src.path}:{use.lineno}; as a Path it arrives as "
                f"a path ({param.arg}.read_bytes(), {param.arg}.open('rb')): change that use by hand"
            )
    return edits


def _emit_metric_to_scope(path: str, ws: Workspace) -> None:
    """``emit_metric(name, value)`` becomes ``current_scope().record_metric(name, value)``."""
    src = PySource(path, ws.read(path))
    scope = src.local("cog.current_scope")
    imports = src.imported(METRIC)
    if scope is None and imports:
        if line := src.taken("current_scope", "cog.current_scope"):
            raise Unsafe(f"current_scope names something else in {path} (line {line}): rewrite emit_metric by hand")
    edits = []
    for ref in src.references(METRIC):
        call = src.parents.get(ref)
        if not (isinstance(call, ast.Call) and call.func is ref and len(call.args) == 2 and not call.keywords):
            raise Unsafe(
                f"emit_metric at {path}:{ref.lineno} is not a call with a name and a value: rewrite it by hand"
            )
        if any(isinstance(a, ast.Starred) for a in call.args):
            raise Unsafe(f"emit_metric at {path}:{ref.lineno} is called with *args: rewrite it by hand")
        head = f"{src.segment(ref.value)}.current_scope" if isinstance(ref, ast.Attribute) else scope or "current_scope"
        edits.append(src.replace(ref, f"{head}().record_metric"))
    for i, (stmt, alias) in enumerate(imports):
        keep = scope is None and i == 0
        edits.append(src.replace(alias, "current_scope") if keep else src.drop_alias(stmt, alias))
    ws.write(path, src.apply(edits))


def _drop_experimental_warning(path: str, ws: Workspace) -> None:
    """Remove ExperimentalFeatureWarning: its imports, the statements that use it (the
    ``warnings.filterwarnings(...)`` calls), and an ``import warnings`` they leave unused."""
    src = PySource(path, ws.read(path))
    statements: list[ast.stmt] = []
    for ref in src.references(*EXPERIMENTAL):
        stmt = src.statement_of(ref)
        if not isinstance(stmt, ast.Expr):
            raise Unsafe(f"ExperimentalFeatureWarning is used at {path}:{ref.lineno}: remove that use by hand")
        if stmt not in statements:
            statements.append(stmt)
    modules = {n.id for s in statements for n in ast.walk(s) if isinstance(n, ast.Name) and n.id in src.bindings}
    src = drop_imports(PySource(path, src.apply([src.remove_statement(s) for s in statements])), EXPERIMENTAL)
    orphans = [
        s
        for s in src.tree.body
        if isinstance(s, ast.Import) and len(s.names) == 1 and s.names[0].asname is None
        if s.names[0].name in modules and not src.references(s.names[0].name)
    ]
    ws.write(path, src.apply([src.remove_statement(s) for s in orphans]))


@dataclass(frozen=True)
class Deprecated:
    severity: Severity
    message: str
    remediation: str
    rewrite: Callable[[str, Workspace], None]


DEPRECATED = {
    "cog.types.ExperimentalFeatureWarning": Deprecated(  # Cog's doctor: it is gone from cog.types
        Severity.ERROR,
        "ExperimentalFeatureWarning was removed in cog 0.17; current_scope().record_metric() is no longer experimental",
        "Remove the import of ExperimentalFeatureWarning from cog.types",
        _drop_experimental_warning,
    ),
    "cog.ExperimentalFeatureWarning": Deprecated(  # Cog's SDK keeps a shim that says this
        Severity.WARNING,
        "ExperimentalFeatureWarning is deprecated and will be removed in a future release",
        "Remove `ExperimentalFeatureWarning` from your imports and any associated `warnings.filterwarnings(...)` calls",
        _drop_experimental_warning,
    ),
    "cog.emit_metric": Deprecated(
        Severity.WARNING,
        "emit_metric() is deprecated and will be removed in a future release",
        "Use current_scope().record_metric(name, value) instead",
        _emit_metric_to_scope,
    ),
    **dict.fromkeys(
        FILE,
        Deprecated(
            Severity.WARNING,
            "File is deprecated: use Path instead",
            "Type file inputs and outputs as Path (an input then arrives as a path: .read_bytes(), .open('rb'))",
            _file_to_path,
        ),
    ),
}


def deprecated_imports(ctx: Context) -> list[Finding]:
    """Names of ``cog`` that moved or are going, at each import (or ``cog.X`` use)."""
    found: dict[tuple[str, str, int], Finding] = {}
    for path, src in sorted(ctx.sources.items()):
        rewrites: dict[Callable[[str, Workspace], None], Rewrite] = {}
        uses = [(name, alias.lineno) for name in DEPRECATED for _, alias in src.imported(name)]
        uses += [(src.resolve(r) or "", r.lineno) for r in src.references(*DEPRECATED) if isinstance(r, ast.Attribute)]
        for name, line in sorted(uses, key=lambda u: u[1]):
            d = DEPRECATED[name]
            rewrite = rewrites.setdefault(d.rewrite, partial(d.rewrite, path))
            found.setdefault(
                (path, d.message, line), Finding(d.severity, d.message, d.remediation, path, line, rewrite)
            )
    return list(found.values())


# --- concurrency -----------------------------------------------------------------------


@dataclass(frozen=True)
class Declared:
    """What the run entry says about concurrency."""

    shown: str  # "Runner.run()"
    fn: Function
    decorator: tuple[ast.expr, int | None] | None  # @concurrent and its max
    configured: int | None  # cog.yaml's concurrency.max
    src: PySource

    @property
    def is_async(self) -> bool:
        return isinstance(self.fn, ast.AsyncFunctionDef)

    def describe(self) -> str:
        kind = "async" if self.is_async else "sync"
        if self.decorator:
            slots = self.decorator[1]
            said = f"@concurrent(max={'?' if slots is None else slots})"
        elif self.configured:
            said = f"concurrency.max {self.configured} in cog.yaml"
        else:
            said = "one prediction at a time"
        return f"{self.shown}: {kind}, {said}"


def declared(ctx: Context) -> Declared | None:
    entry = next((e for e in ctx.entries if e.key != "train"), None)
    src = ctx.sources.get(entry.file) if entry else None
    name = entry.defined_name(src) if entry and src else None
    fn = src.function(name, METHODS[entry.key]) if entry and src and name else None
    if fn is None or src is None:
        return None
    concurrency = ctx.project.config.concurrency if ctx.project else None
    shown = f"{name}.{fn.name}()" if fn.name != name else f"{fn.name}()"
    return Declared(shown, fn, src.concurrent(fn), concurrency.max if concurrency else None, src)


def concurrency(ctx: Context) -> list[Finding]:
    """What concurrency run() declares, and the combinations Cog refuses."""
    d = declared(ctx)
    if d is None:
        return []
    at_yaml = (ctx.config_name, ctx.yaml.line("concurrency.max") if ctx.yaml else None)
    slots = d.decorator[1] if d.decorator else None
    if d.decorator and slots is not None:
        at = (d.src.path, d.decorator[0].lineno)
        if slots < 1:
            return [Finding(Severity.ERROR, "concurrent max must be at least 1", "Set max to 1 or more", *at)]
        if slots > 1 and not d.is_async:
            fix = f"Make it async def {d.fn.name}(...), or use @concurrent(max=1)"
            return [Finding(Severity.ERROR, "concurrent max greater than 1 requires an async function", fix, *at)]
        if d.configured and d.configured != slots:
            problem = f"concurrency.max {d.configured} in cog.yaml overrides @concurrent(max={slots}) on {d.shown}"
            return [Finding(Severity.WARNING, problem, "Keep one of them", *at_yaml)]
    elif d.configured and d.configured > 1 and not d.is_async and not d.decorator:
        problem = "concurrency.max > 1 requires an async run() or predict() method"
        fix = f"Make {d.shown} async, or set concurrency.max to 1"
        return [Finding(Severity.ERROR, problem, fix, *at_yaml)]
    return []


def concurrency_title(ctx: Context) -> str | None:
    d = declared(ctx)
    return d.describe() if d else None
