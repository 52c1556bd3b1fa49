import asyncio

import cog
from cog import BaseRunner


class Runner(BaseRunner):
    @cog.concurrent(max=8)
    async def run(self, seconds: float = 0.1) -> str:
        await asyncio.sleep(seconds)
        return "done"
