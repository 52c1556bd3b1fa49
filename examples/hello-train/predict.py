import json

from cog import BaseRunner, Input, Path


class Runner(BaseRunner):
    def setup(self, weights: Path | None = None) -> None:
        params = json.loads(Path(weights).read_text()) if weights else {"prefix": "hello", "repeat": 1}
        self.prefix, self.repeat = params["prefix"], params["repeat"]

    def run(self, name: str = Input(description="Who to greet")) -> str:
        return " ".join([f"{self.prefix} {name}"] * self.repeat)
