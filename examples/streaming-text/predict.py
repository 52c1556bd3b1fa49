import time

import cog
from cog import BaseRunner, ConcatenateIterator, Input


class Runner(BaseRunner):
    @cog.streaming
    def run(
        self,
        prompt: str = Input(description="Text to stream back word by word"),
        delay: float = Input(description="Seconds between tokens", default=0.0, ge=0, le=1),
    ) -> ConcatenateIterator[str]:
        for i, word in enumerate(prompt.split()):
            time.sleep(delay)
            yield word if i == 0 else " " + word
