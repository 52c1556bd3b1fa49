"""A union input and a TypedDict output with Required/NotRequired keys, as Cog's
``union_input_http`` and TypedDict-output cases have them (tests/server/test_server.py).

``from __future__ import annotations`` on purpose: Python then leaves the key qualifiers out of
``__required_keys__``, and the schema must still say which keys are required.
"""

from __future__ import annotations

from typing import NotRequired, Required, TypedDict

from cog import BaseRunner, Input


class Shown(TypedDict):
    kind: str  # required: the class is total
    shown: NotRequired[str]


class Output(Shown, total=False):
    note: str | None  # not required: total=False
    length: Required[int | None]  # required, and may be null


class Runner(BaseRunner):
    def run(self, value: str | float | None = Input(default=None)) -> Output:
        if value is None:
            return {"kind": "NoneType", "length": None}
        return {"kind": type(value).__name__, "shown": str(value), "length": len(str(value))}
