from cog import BaseRunner, File, Input, Path


class Runner(BaseRunner):
    def run(
        self,
        seed: int = Input(default=None, description="Required: None is no default on int"),
        maybe: int | None = Input(default=None),
        bare_optional: str | None = Input(description="Optional without a default"),
        pep604: str | None = None,
        image: Path | None = Input(default=None),
        doc: File | None = None,
        paths: list[Path] | None = Input(default=None),
    ) -> str:
        return ""
