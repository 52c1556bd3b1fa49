from cog import BaseRunner, Input


class Runner(BaseRunner):
    def run(
        self,
        steps: int = Input(ge=1, le=100, default=50),
        guidance: float = Input(ge=0, le=20.5, default=7.5),
        name: str = Input(min_length=2, max_length=8, default="ada"),
        code: str = Input(regex=r"^[A-Z]{3}$", default="ABC"),
        old: str = Input(default="x", deprecated=True, description="Use name"),
    ) -> str:
        return ""
