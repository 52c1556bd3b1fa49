import time
from pathlib import Path

import cog
from cog import BaseRunner, ConcatenateIterator


class Runner(BaseRunner):
    @cog.streaming
    def run(
        self, n: int = 5, delay: float = 0.0, pad: int = 0, quiet: bool = False, progress: str = ""
    ) -> ConcatenateIterator[str]:
        padding = "." * pad
        for i in range(n):
            if progress:  # how far it got, for a test to read while it runs
                Path(progress).write_text(str(i))
            if not quiet:
                print(f"token {i}")
                self.record_metric("count", 1, mode="incr")
            time.sleep(delay)
            yield f"t{i}{padding} "
