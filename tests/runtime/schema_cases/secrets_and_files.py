from cog import BaseRunner, File, Input, Path, Secret


class Runner(BaseRunner):
    def run(
        self,
        token: Secret = Input(description="API token"),
        optional_token: Secret = Input(default=None),
        default_token: Secret = Input(default="hunter2"),
        image: Path = Input(accept="image/*,.png"),
        legacy: File = Input(description="Deprecated file type"),
    ) -> Path:
        return Path("x")
