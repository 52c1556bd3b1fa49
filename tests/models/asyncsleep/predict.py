import asyncio

import cog
from cog import BaseRunner


class Runner(BaseRunner):
    @cog.concurrent(max=32)
    async def run(self, text: str = "x", seconds: float = 0.1) -> str:
        print(f"start {text}")
        await asyncio.sleep(seconds)
        print(f"end {text}")
        return text
