"""What every doctor check reads, loaded once: cog.yaml (valid or not) and the predictor files.

cog.yaml goes through :func:`cognix.project.config.load_project`, so its problems are the ones
every other command reports, in the same words. The files its ``run:``/``predict:`` and
``train:`` entries name are parsed with ``ast`` (Cog's doctor reads only those too); a file that
cannot be read or parsed becomes a finding of the check that reports predictor references.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from pathlib import Path

from cognix.project import config
from cognix.project.doctor.findings import Finding, Severity
from cognix.project.doctor.pysource import PySource
from cognix.project.doctor.yamltext import CogYaml

CANDIDATES = {"run": ("Runner", "Predictor"), "predict": ("Runner", "Predictor"), "train": ("Trainer", "train")}
METHODS = {"run": ("run", "predict"), "predict": ("run", "predict"), "train": ("train",)}


@dataclass(frozen=True)
class Entry:
    """A ``file.py:Name`` entry of cog.yaml under ``key`` (run, predict or train), at ``line``."""

    key: str
    file: str
    name: str  # "" when the entry names only the file: the loader then tries CANDIDATES
    line: int | None

    def names(self) -> tuple[str, ...]:
        return (self.name,) if self.name else CANDIDATES[self.key]

    def defined_name(self, src: PySource) -> str | None:
        """The name this entry finds in ``src`` (a class, function or other top-level name)."""
        return next((n for n in self.names() if n in defined_names(src)), None)


def definitions(src: PySource) -> list[str]:
    """The classes and functions the module defines at its top level."""
    return [s.name for s in src.top_level() if isinstance(s, (ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))]


def defined_names(src: PySource) -> list[str]:
    """Every name the module binds at its top level: definitions, assignments and imports."""
    bound = [*definitions(src), *src.bindings]
    for stmt in src.top_level():
        if isinstance(stmt, (ast.Assign, ast.AnnAssign)):
            targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]
            bound += [t.id for t in targets if isinstance(t, ast.Name)]
    return bound


@dataclass
class Context:
    dir: Path
    config_name: str  # as findings name it: "cog.yaml", or the file -f named
    project: config.Project | None  # None when cog.yaml does not validate
    error: config.ConfigError | None
    yaml: CogYaml | None = None
    entries: list[Entry] = field(default_factory=list)
    sources: dict[str, PySource] = field(default_factory=dict)  # the entries' files, parsed
    unreadable: dict[str, Finding] = field(default_factory=dict)  # those that could not be

    @classmethod
    def load(cls, config_path: Path) -> Context:
        """cog.yaml and its entries' files. Only a cog.yaml that cannot be read at all raises
        (:class:`~cognix.project.config.ConfigNotFound`, as every command does)."""
        try:
            project = config.load_project(config_path.parent, str(config_path))
        except config.ConfigError as error:
            return cls(config_path.parent, config_path.name, None, error)
        ctx = cls(project.dir, config_path.name, project, None, CogYaml(project.config_path.read_text()))
        cfg = project.config
        for key, ref in (("run" if cfg.run else "predict", cfg.runner), ("train", cfg.train)):
            if ref:
                file, _, name = ref.partition(":")
                ctx.entries.append(Entry(key, file, name, ctx.yaml.line(key) if ctx.yaml else None))
        for file in dict.fromkeys(e.file for e in ctx.entries):
            ctx._parse(file)
        return ctx

    def _parse(self, file: str) -> None:
        path = self.dir / file
        if not path.is_file():
            return  # the reference check says so, at cog.yaml's line
        try:
            self.sources[file] = PySource(file, path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError) as error:
            self.unreadable[file] = Finding(Severity.ERROR, f"cannot read {file}: {error}", "Save it as UTF-8", file)
        except SyntaxError as error:
            problem = f"cannot parse {file}: {error.msg}"
            self.unreadable[file] = Finding(Severity.ERROR, problem, f"Fix the syntax of {file}", file, error.lineno)
