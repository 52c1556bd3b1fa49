from cog import BaseRunner, Input


class Runner(BaseRunner):
    def run(
        self,
        value: str | int,
        number: int | float = Input(default=1),
        anything: str | list[str] | None = None,
    ) -> str:
        return ""
