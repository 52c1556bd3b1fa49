import pydantic
from cog import BaseRunner


class Detection(pydantic.BaseModel):
    label: str
    confidence: float
    box: list[int]


class Runner(BaseRunner):
    def run(self, threshold: float = 0.5) -> list[Detection]:
        return []
