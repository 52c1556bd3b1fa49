import cog
from cog import AsyncConcatenateIterator, BaseRunner, Input


class Runner(BaseRunner):
    @cog.streaming
    @cog.concurrent(max=4)
    async def run(self, prompt: str = Input(description="Prompt")) -> AsyncConcatenateIterator[str]:
        yield prompt
