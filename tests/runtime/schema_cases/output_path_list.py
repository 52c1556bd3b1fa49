from cog import BasePredictor, Path


class Predictor(BasePredictor):
    def predict(self, count: int = 2) -> list[Path]:
        return []
