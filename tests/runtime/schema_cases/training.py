from cog import BaseModel, Input, Path


class TrainingOutput(BaseModel):
    weights: Path


def train(
    data: Path = Input(description="Training data"),
    epochs: int = Input(default=1, ge=1, le=10),
    style: str = Input(choices=["a", "b"], default="a"),
) -> TrainingOutput:
    return TrainingOutput(weights=data)
