# Prediction interface for cognix (the same as Cog's): https://cog.run/python
from cog import BaseRunner, Input


class Runner(BaseRunner):
    def setup(self) -> None:
        """Load the model into memory once, so predictions are fast."""
        # self.model = torch.load("./weights.pth")

    def run(
        self,
        prompt: str = Input(description="Who to greet", default="world"),
        repeat: int = Input(description="How many times", ge=1, le=10, default=1),
    ) -> str:
        """Run a single prediction on the model."""
        return " ".join([f"hello {prompt}"] * repeat)
