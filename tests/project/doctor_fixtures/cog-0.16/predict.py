"""Reverse the bytes of a file (a Cog 0.16-style predictor: File in, File out)."""

import io

from cog import BasePredictor, File, Input


class Predictor(BasePredictor):
    def predict(self, data: File = Input(description="Any file")) -> File:
        return io.BytesIO(data.read()[::-1])
