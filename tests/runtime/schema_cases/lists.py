from cog import BaseRunner, Input, Path


class Runner(BaseRunner):
    def run(
        self,
        words: list[str],
        numbers: list[int] = Input(default=[1, 2, 3]),
        ratios: list[float] = Input(default=[0.5, 1]),
        images: list[Path] = Input(description="Several images"),
        flags: list[bool] = Input(default=[]),
    ) -> list[str]:
        return []
