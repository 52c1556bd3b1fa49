import json
import tempfile

from cog import BaseModel, Input, Path


class TrainingOutput(BaseModel):
    weights: Path


def train(
    prefix: str = Input(description="Greeting the trained model will use"),
    repeat: int = Input(description="How often to repeat it", default=1, ge=1, le=5),
) -> TrainingOutput:
    weights = Path(tempfile.mkdtemp()) / "weights.json"
    weights.write_text(json.dumps({"prefix": prefix, "repeat": repeat}))
    return TrainingOutput(weights=weights)
