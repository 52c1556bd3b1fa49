from cog import BaseModel, BaseRunner, Path, Secret


class Output(BaseModel):
    text: str
    score: float
    image: Path
    tags: list[str]
    note: str | None = None
    key: Secret = Secret("x")


class Runner(BaseRunner):
    def run(self, prompt: str) -> Output:
        return Output(text=prompt, score=1.0, image=Path("x"), tags=[])
