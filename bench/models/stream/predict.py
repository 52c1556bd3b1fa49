from collections.abc import Iterator

import cog
from cog import BaseRunner


class Runner(BaseRunner):
    @cog.streaming
    def run(self, n: int = 10) -> Iterator[str]:
        for i in range(n):
            yield f"token{i}"
