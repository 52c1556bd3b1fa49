from typing import Annotated, Any, TypedDict

from cog import BaseRunner, Input, Opaque


class Options(TypedDict):
    depth: int
    label: str


class Runner(BaseRunner):
    def run(
        self,
        config: dict,
        typed: dict[str, Any] = Input(description="String keys"),
        options: Options = Input(description="A TypedDict"),
        raw: Any = None,
        blob: Annotated[dict, Opaque] = Input(description="Passed through"),
        blobs: Annotated[list, Opaque] = Input(description="Passed through"),
    ) -> dict:
        return {}
