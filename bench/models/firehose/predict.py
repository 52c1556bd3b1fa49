import time
from collections.abc import Iterator

import cog
from cog import BaseRunner


class Runner(BaseRunner):
    @cog.streaming
    def run(self, seconds: float = 10.0, size: int = 64) -> Iterator[str]:
        chunk = "x" * size
        end = time.monotonic() + seconds
        n = 0
        while True:
            n += 1
            if n % 1000 == 0 and time.monotonic() > end:
                return
            yield chunk
