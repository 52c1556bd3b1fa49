from __future__ import annotations

from cog import BaseRunner, Input, Path


class Runner(BaseRunner):
    def run(self, image: Path, scale: float = Input(default=1.5, ge=0, le=4)) -> list[Path]:
        return [image]
