from cog import BasePredictor


class Predictor(BasePredictor):
    def predict(self, flag: bool, ratio: float, count: int, text: str) -> str:
        return ""
