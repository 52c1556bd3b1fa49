from cog import BaseRunner


class Runner(BaseRunner):
    def run(self, text: str) -> str:
        import torch

        return f"{text} (cuda: {torch.cuda.is_available()})"
