from cog import BasePredictor, Input, Path


class Predictor(BasePredictor):
    def predict(
        self,
        no_default: str,
        default_value: str = "default",
        count: int = Input(default=20),
        ratio: float = Input(default=0.0, description="Zero as a float"),
        enabled: bool = Input(default=True),
        weights: Path = Input(default="https://example.com/w.bin"),
    ) -> str:
        return ""
