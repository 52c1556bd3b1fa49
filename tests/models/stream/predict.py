import time

import cog
from cog import BaseRunner, ConcatenateIterator


class Runner(BaseRunner):
    @cog.streaming
    def run(self, n: int = 5, delay: float = 0.0) -> ConcatenateIterator[str]:
        for i in range(n):
            print(f"token {i}")
            self.record_metric("count", 1, mode="incr")
            time.sleep(delay)
            yield f"t{i} "
