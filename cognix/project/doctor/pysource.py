"""A predictor file read with ``ast`` (never imported: doctor runs no user code) and edited as text.

Names are resolved through the module's top-level imports to what they mean, in Cog's spelling
(``from cognix import File`` and ``import cog; cog.File`` are both ``cog.File``). Edits replace the
characters an ast node covers, so the rest of the file (comments, layout) is left as it was.
"""

from __future__ import annotations

import ast
import bisect
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from cognix.project.doctor.findings import Unsafe

# cognix's own module names for Cog's (``cognix`` is also the SDK's name)
COG_SPELLINGS = (("cognix.sdk.types", "cog.types"), ("cognix.sdk", "cog"), ("cognix", "cog"))


def cog_name(dotted: str) -> str:
    """``cognix.X`` and ``cognix.sdk.types.X`` in Cog's spelling (``cog.X``, ``cog.types.X``)."""
    for theirs, ours in COG_SPELLINGS:
        if dotted == theirs or dotted.startswith(theirs + "."):
            return ours + dotted[len(theirs) :]
    return dotted


Located = ast.expr | ast.stmt | ast.alias | ast.arg | ast.keyword  # what ast gives a position
Function = ast.FunctionDef | ast.AsyncFunctionDef


@dataclass(frozen=True)
class Edit:
    start: int  # character offsets into the text
    end: int
    text: str


class PySource:
    """One Python file: its text, its tree, and what its top-level imports bind."""

    def __init__(self, path: str, text: str) -> None:
        self.path = path
        self.text = text
        self.tree = ast.parse(text, filename=path)  # SyntaxError is the caller's to report
        self._line_starts = [0] + [i + 1 for i, c in enumerate(text) if c == "\n"]
        self.parents = {child: node for node in ast.walk(self.tree) for child in ast.iter_child_nodes(node)}
        self.bindings: dict[str, str] = {}  # local name → dotted name it was imported as
        for stmt in self.tree.body:
            if isinstance(stmt, ast.Import):
                for a in stmt.names:
                    self.bindings[a.asname or a.name.split(".")[0]] = a.name if a.asname else a.name.split(".")[0]
            elif isinstance(stmt, ast.ImportFrom) and stmt.module and not stmt.level:
                for a in stmt.names:
                    self.bindings[a.asname or a.name] = f"{stmt.module}.{a.name}"

    # --- positions ---------------------------------------------------------------------

    def offset(self, line: int, col: int) -> int:
        """The character offset of ast's (1-based line, UTF-8 byte column)."""
        start = self._line_starts[line - 1]
        return start + len(self.text[start : start + col].encode()[:col].decode(errors="ignore"))

    def span(self, node: Located) -> tuple[int, int]:
        assert node.end_lineno is not None and node.end_col_offset is not None
        return self.offset(node.lineno, node.col_offset), self.offset(node.end_lineno, node.end_col_offset)

    def segment(self, node: Located) -> str:
        start, end = self.span(node)
        return self.text[start:end]

    @property
    def newline(self) -> str:
        return "\r\n" if "\r\n" in self.text else "\n"

    def _line_of(self, offset: int) -> int:
        return bisect.bisect_right(self._line_starts, offset)

    # --- names -------------------------------------------------------------------------

    def resolve(self, node: ast.AST) -> str | None:
        """The dotted name an expression means, through the top-level imports, in Cog's spelling."""
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load) and node.id in self.bindings:
            return cog_name(self.bindings[node.id])
        if isinstance(node, ast.Attribute) and (base := self.resolve(node.value)):
            return f"{base}.{node.attr}"
        return None

    def references(self, *names: str) -> list[ast.expr]:
        """Every expression (``File``, ``cog.File``) that means one of ``names``, in file order."""
        found = [node for node in ast.walk(self.tree) if isinstance(node, ast.expr) and self.resolve(node) in names]
        return sorted(found, key=lambda n: (n.lineno, n.col_offset))

    def imported(self, name: str) -> list[tuple[ast.ImportFrom, ast.alias]]:
        """The top-level ``from M import N [as L]`` entries that bind ``name`` (``cog.File``)."""
        return [
            (stmt, a)
            for stmt in self.tree.body
            if isinstance(stmt, ast.ImportFrom) and stmt.module and not stmt.level
            for a in stmt.names
            if cog_name(f"{stmt.module}.{a.name}") == name
        ]

    def local(self, name: str) -> str | None:
        """A top-level name bound to ``name`` by an import (``P`` for ``from cog import Path as P``)."""
        return next((local for local, dotted in self.bindings.items() if cog_name(dotted) == name), None)

    def taken(self, local: str, meaning: str) -> int | None:
        """The line where ``local`` names something other than ``meaning``, if it does anywhere."""
        for node in ast.walk(self.tree):
            if isinstance(node, ast.Name) and node.id == local and self.resolve(node) != meaning:
                return node.lineno
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and node.name == local:
                return node.lineno
            if isinstance(node, ast.arg) and node.arg == local:
                return node.lineno
            if isinstance(node, (ast.Global, ast.Nonlocal)) and local in node.names:
                return node.lineno
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                for a in node.names:
                    bound = a.asname or a.name.split(".")[0]
                    dotted = a.name if isinstance(node, ast.Import) else f"{node.module}.{a.name}"
                    if bound == local and cog_name(dotted) != meaning:
                        return node.lineno
        return None

    def statement_of(self, node: ast.AST) -> ast.stmt:
        while not isinstance(node, ast.stmt):
            node = self.parents[node]
        return node

    def within(self, node: ast.AST, ancestor: ast.AST) -> bool:
        while node is not ancestor and node in self.parents:
            node = self.parents[node]
        return node is ancestor

    def top_level(self) -> Iterator[ast.stmt]:
        """The module's statements, and those under its top-level ``if``/``try``/``with`` blocks."""
        pending = list(self.tree.body)
        while pending:
            stmt = pending.pop(0)
            yield stmt
            if isinstance(stmt, (ast.If, ast.Try, ast.With)):
                blocks = [stmt.body, getattr(stmt, "orelse", []), getattr(stmt, "finalbody", [])]
                pending += [s for block in blocks for s in block]
                pending += [s for h in getattr(stmt, "handlers", []) for s in h.body]

    # --- edits -------------------------------------------------------------------------

    def apply(self, edits: list[Edit]) -> str:
        """The text with ``edits`` made; edits may not overlap."""
        out, at = [], 0
        for edit in sorted(edits, key=lambda e: (e.start, e.end)):
            if edit.start < at:
                raise Unsafe(f"two changes to {self.path} overlap at line {self._line_of(edit.start)}")
            out += [self.text[at : edit.start], edit.text]
            at = edit.end
        return "".join([*out, self.text[at:]])

    def replace(self, node: Located, text: str) -> Edit:
        return Edit(*self.span(node), text)

    def remove_statement(self, stmt: ast.stmt) -> Edit:
        """Delete a statement with its lines (``pass`` when it is all its block holds); it must
        have its lines to itself."""
        start, end = self.span(stmt)
        line_start = self._line_starts[self._line_of(start) - 1]
        line_end = self.text.find("\n", end)
        line_end = len(self.text) if line_end < 0 else line_end
        after = self.text[end:line_end].strip()
        if self.text[line_start:start].strip() or (after and not after.startswith("#")):
            raise Unsafe(f"{self.path}:{stmt.lineno} shares its line with other code")
        parent = self.parents[stmt]
        block = next(value for _, value in ast.iter_fields(parent) if isinstance(value, list) and stmt in value)
        if len(block) == 1 and not isinstance(parent, ast.Module):
            return Edit(start, end, "pass")
        end = min(line_end + 1, len(self.text))
        blank_before = self.text[:line_start].endswith("\n\n") or line_start == 0
        if blank_before and self.text[end:].startswith("\n"):
            end += 1  # the blank lines around it close up as one gap, not two
        return Edit(line_start, end, "")

    def drop_alias(self, stmt: ast.ImportFrom, alias: ast.alias) -> Edit:
        """Take one name out of a ``from … import``; the whole statement when it is the last one."""
        names = stmt.names
        if len(names) == 1:
            return self.remove_statement(stmt)
        i = names.index(alias)
        if i + 1 < len(names):
            return Edit(self.span(alias)[0], self.span(names[i + 1])[0], "")
        return Edit(self.span(names[i - 1])[1], self.span(alias)[1], "")

    def add_import(self, name: str, local: str) -> Edit:
        """Import ``name`` (``cog.BaseModel``) as ``local``: into the file's ``from cog import``,
        or on a line of its own after the docstring and ``__future__`` imports."""
        module, _, attr = name.rpartition(".")
        fragment = attr if attr == local else f"{attr} as {local}"
        for stmt in self.tree.body:
            if isinstance(stmt, ast.ImportFrom) and stmt.module and not stmt.level and cog_name(stmt.module) == module:
                if stmt.names[0].name == "*":
                    continue
                return Edit(self.span(stmt.names[-1])[1], self.span(stmt.names[-1])[1], f", {fragment}")
        at = 0
        for i, stmt in enumerate(self.tree.body):
            docstring = i == 0 and isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant)
            if not (docstring or (isinstance(stmt, ast.ImportFrom) and stmt.module == "__future__")):
                break
            end = self.text.find("\n", self.span(stmt)[1])
            at = len(self.text) if end < 0 else end + 1
        return Edit(at, at, f"from {module} import {fragment}{self.newline}")

    # --- the predictor -----------------------------------------------------------------

    def function(self, name: str, methods: Iterable[str]) -> Function | None:
        """The function a ``file.py:name`` entry runs: ``name`` itself, or its method of ``methods``."""
        for stmt in self.top_level():
            if isinstance(stmt, ast.ClassDef) and stmt.name == name:
                return next((s for s in stmt.body if isinstance(s, Function) and s.name in methods), None)
            if isinstance(stmt, Function) and stmt.name == name:
                return stmt
        return None

    def concurrent(self, fn: Function) -> tuple[ast.expr, int | None] | None:
        """``fn``'s ``@cog.concurrent`` and its ``max`` (1 when not given, None when not a literal)."""
        for decorator in fn.decorator_list:
            call = decorator if isinstance(decorator, ast.Call) else None
            if self.resolve(call.func if call else decorator) != "cog.concurrent":
                continue
            given = next((k.value for k in call.keywords if k.arg == "max"), None) if call else None
            if given is None:
                return decorator, 1
            if isinstance(given, ast.Constant) and type(given.value) is int:
                return decorator, given.value
            return decorator, None
        return None


def drop_imports(src: PySource, names: Iterable[str]) -> PySource:
    """``src`` without the ``from … import`` entries that bind ``names``, one at a time (two
    entries of one statement would overlap as edits)."""
    names = tuple(names)
    while found := next((entry for name in names for entry in src.imported(name)), None):
        src = PySource(src.path, src.apply([src.drop_alias(*found)]))
    return src
