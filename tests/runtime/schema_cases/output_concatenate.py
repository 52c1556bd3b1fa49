from cog import BasePredictor, ConcatenateIterator


class Predictor(BasePredictor):
    def predict(self, prompt: str, max_tokens: int = 16) -> ConcatenateIterator[str]:
        yield prompt
