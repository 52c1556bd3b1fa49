from typing import Optional

from cog import BaseRunner, File, Input, Path


class Runner(BaseRunner):
    def run(
        self,
        seed: int = Input(default=None, description="Required: None is no default on int"),
        maybe: Optional[int] = Input(default=None),
        bare_optional: Optional[str] = Input(description="Optional without a default"),
        pep604: str | None = None,
        image: Path | None = Input(default=None),
        doc: Optional[File] = None,
        paths: list[Path] | None = Input(default=None),
    ) -> str:
        return ""
