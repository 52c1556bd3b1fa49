"""Let ``import cog`` load cognix's SDK when the real ``cog`` package is not installed.

Loaded at interpreter start by ``cognix_cog_alias.pth`` (and again by cognix before it
imports user code), so existing Cog projects run unmodified. The rule:

* if a real ``cog`` distribution is importable, it always wins and nothing is aliased;
* otherwise ``cog`` is ``cognix.sdk`` and ``cog.X`` is ``cognix.sdk.X`` (same module
  objects, so ``cog.Path is cognix.Path``).

Kept outside the ``cognix`` package so that interpreter start-up imports nothing else.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import sys
from types import ModuleType

ALIAS = "cog"
TARGET = "cognix.sdk"


class _AliasLoader(importlib.abc.Loader):
    def __init__(self, target: str) -> None:
        self.target = target

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType:
        return importlib.import_module(self.target)

    def exec_module(self, module: ModuleType) -> None:
        """The target module is already executed."""


class CogAliasFinder(importlib.abc.MetaPathFinder):
    def find_spec(self, fullname, path=None, target=None):  # type: ignore[no-untyped-def]
        if fullname == ALIAS:
            if importlib.machinery.PathFinder.find_spec(ALIAS) is not None:
                return None  # the real cog is installed
            return importlib.util.spec_from_loader(ALIAS, _AliasLoader(TARGET), is_package=True)
        if fullname.startswith(ALIAS + "."):
            parent = sys.modules.get(ALIAS)
            if parent is None or parent.__name__ != TARGET:
                return None
            real = TARGET + fullname[len(ALIAS) :]
            if importlib.util.find_spec(real) is None:
                return None
            return importlib.util.spec_from_loader(fullname, _AliasLoader(real))
        return None


def install() -> None:
    """Put the alias finder first on ``sys.meta_path`` (idempotent)."""
    if not any(isinstance(f, CogAliasFinder) for f in sys.meta_path):
        sys.meta_path.insert(0, CogAliasFinder())
