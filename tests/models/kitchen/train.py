from cog import BaseModel, Input


class TrainingOutput(BaseModel):
    steps: int


def train(steps: int = Input(default=1, ge=1)) -> TrainingOutput:
    return TrainingOutput(steps=steps * 2)
