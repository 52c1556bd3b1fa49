from typing import Literal

from cog import BaseRunner, Input


class Runner(BaseRunner):
    def run(
        self,
        color: str = Input(choices=["red", "green", "blue"], description="A colour"),
        size: int = Input(choices=[256, 512, 1024], default=512),
        mode: Literal["fast", "slow"] = "fast",
        maybe_tone: str | None = Input(choices=["warm", "cold"], default=None),
    ) -> str:
        return ""
