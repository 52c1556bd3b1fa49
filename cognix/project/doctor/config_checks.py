"""Doctor's Config checks: cog.yaml parses and validates, its deprecated fields (and the rewrites
that retire them), and the predictor each entry names exists.

The messages are Cog's (``pkg/doctor/check_config_*.go``); cog.yaml's own problems keep the
words and hints every other command gives them. A deprecated field's rewrite edits cog.yaml's
text in place (:mod:`~cognix.project.doctor.yamltext`), so the user's comments stay.
"""

from __future__ import annotations

import ast
from collections.abc import Callable
from functools import partial

from cognix.project import config
from cognix.project.doctor.context import METHODS, Context, Entry, definitions
from cognix.project.doctor.findings import Finding, Severity, Unsafe, Workspace
from cognix.project.doctor.pysource import Edit, PySource
from cognix.project.doctor.yamltext import CogYaml

PARSE_FAILURE = "failed to parse cog.yaml"
REQUIREMENTS = "requirements.txt"


def _issues(ctx: Context, parse_failures: bool) -> list[Finding]:
    issues = ctx.error.issues if ctx.error else []
    generic = "Fix the YAML syntax in" if parse_failures else "Fix the configuration errors in"
    return [
        Finding(Severity.ERROR, i.message, i.hint or f"{generic} {ctx.config_name}", ctx.config_name, i.line)
        for i in issues
        if i.message.startswith(PARSE_FAILURE) == parse_failures
    ]


def parsing(ctx: Context) -> list[Finding]:
    """cog.yaml is YAML whose top level is a mapping."""
    return _issues(ctx, parse_failures=True)


def schema(ctx: Context) -> list[Finding]:
    """cog.yaml passes Cog's schema and semantic rules (``run:`` and ``predict:`` both set, …)."""
    return _issues(ctx, parse_failures=False)


# --- deprecated fields -----------------------------------------------------------------


def _rename(field: str, new: str, name: str, ws: Workspace) -> None:
    ws.write(name, CogYaml(ws.read(name)).rename_key(field, new))


def _packages_to_requirements(name: str, ws: Workspace) -> None:
    """``build.python_packages`` becomes requirements.txt (its comments too) and a
    ``python_requirements`` entry naming it."""
    doc = CogYaml(ws.read(name))
    try:
        ws.create(REQUIREMENTS, "".join(line + "\n" for line in doc.list_lines("build.python_packages")))
    except Unsafe as error:
        raise Unsafe(f"{error}: add the packages to it and set build.python_requirements by hand") from None
    ws.write(name, doc.replace_entry("build.python_packages", f"python_requirements: {REQUIREMENTS}"))


def _pre_install_to_run(name: str, ws: Workspace) -> None:
    doc = CogYaml(ws.read(name))
    if doc.entry("build.run"):
        raise Unsafe("build.run is set too: move the pre_install commands to the end of build.run by hand")
    ws.write(name, doc.rename_key("build.pre_install", "run"))


def _concurrency_to_decorator(
    concurrency: config.Concurrency | None, entry: Entry | None, name: str, ws: Workspace
) -> None:
    """``concurrency.max: N`` becomes ``@cog.concurrent(max=N)`` on the entry's run(), when that
    says the same: no other concurrency key, an async run() for N > 1, no other ``max`` there."""
    if concurrency is None:
        return
    if concurrency.default_target is not None:
        raise Unsafe("@cog.concurrent has no equivalent of concurrency.default_target: keep concurrency: as it is")
    slots = concurrency.max
    if entry is None:
        raise Unsafe("cog.yaml has no run: entry to put @cog.concurrent on")
    src = PySource(entry.file, ws.read(entry.file))
    target = entry.defined_name(src)
    fn = src.function(target, METHODS[entry.key]) if target else None
    if fn is None:
        raise Unsafe(f"cannot find the run() of {entry.file}:{entry.name or '…'} to decorate")
    shown = f"{target}.{fn.name}()" if fn.name != target else f"{fn.name}()"
    declared = src.concurrent(fn)
    if declared is not None:
        if declared[1] != slots:
            raise Unsafe(f"{shown} has its own @concurrent: keep the one you mean and delete the other")
    elif slots > 1 and not isinstance(fn, ast.AsyncFunctionDef):
        raise Unsafe(f"{shown} is not async: @cog.concurrent(max={slots}) needs async def {fn.name}()")
    else:
        ws.write(entry.file, src.apply(_decorate(src, fn, slots)))
    ws.write(name, CogYaml(ws.read(name)).delete_entry("concurrency"))


def _decorate(src: PySource, fn: ast.FunctionDef | ast.AsyncFunctionDef, slots: int) -> list[Edit]:
    """Edits that put ``@concurrent(max=slots)`` above ``fn``, spelled as the file imports cog."""
    edits = []
    if local := src.local("cog.concurrent"):
        decorator = local
    elif module := src.local("cog"):
        decorator = f"{module}.concurrent"
    elif line := src.taken("concurrent", "cog.concurrent"):
        raise Unsafe(f"concurrent names something else in {src.path} (line {line}): add @cog.concurrent by hand")
    else:
        decorator = "concurrent"
        edits.append(src.add_import("cog.concurrent", "concurrent"))
    start = src.offset(min([d.lineno for d in fn.decorator_list] + [fn.lineno]), 0)  # its first decorator's line
    text = src.text[start : src.text.find("\n", start)]
    indent = text[: len(text) - len(text.lstrip())]
    return [*edits, Edit(start, start, f"{indent}@{decorator}(max={slots}){src.newline}")]


REWRITES: dict[str, Callable[[str, Workspace], None]] = {
    "predict": partial(_rename, "predict", "run"),
    "build.python_packages": _packages_to_requirements,
    "build.pre_install": _pre_install_to_run,
}


def deprecated_fields(ctx: Context) -> list[Finding]:
    """Cog's deprecation warnings, each at its line, with the rewrite that retires it."""
    if ctx.project is None or ctx.yaml is None:
        return []
    cfg = ctx.project.config
    runner = next((e for e in ctx.entries if e.key != "train"), None)
    found = []
    for d in config.deprecations(cfg):
        rewrite = REWRITES.get(d.field) or partial(_concurrency_to_decorator, cfg.concurrency, runner)
        found.append(
            Finding(
                Severity.WARNING,
                f'"{d.field}" is deprecated: {d.reason}',
                f'Use "{d.replacement}" instead',
                ctx.config_name,
                ctx.yaml.line(d.field),
                partial(rewrite, ctx.config_name),
            )
        )
    return found


# --- predictor references --------------------------------------------------------------


def predictor_reference(ctx: Context) -> list[Finding]:
    """Each entry's file exists, parses, and defines the name the entry gives."""
    found: list[Finding] = []
    for entry in ctx.entries:
        src = ctx.sources.get(entry.file)
        if entry.file in ctx.unreadable:
            if ctx.unreadable[entry.file] not in found:  # run: and train: may name the same file
                found.append(ctx.unreadable[entry.file])
        elif src is None:
            fix = f"Create {entry.file} or update the {entry.key} field in {ctx.config_name}"
            found.append(Finding(Severity.ERROR, f"{entry.file} not found", fix, ctx.config_name, entry.line))
        elif entry.defined_name(src) is None:
            there = definitions(src)
            if entry.name:
                problem = f'class "{entry.name}" not found in {entry.file}'
                fix = f"Add class {entry.name} to {entry.file} or update the {entry.key} field in {ctx.config_name}"
            else:
                problem = f"no {' or '.join(entry.names())} found in {entry.file}"
                fix = f'Name it in cog.yaml, e.g. {entry.key}: "{entry.file}:{there[0] if there else entry.names()[0]}"'
            problem += f"; found: {', '.join(there)}" if there else ""
            found.append(Finding(Severity.ERROR, problem, fix, ctx.config_name, entry.line))
    return found
