"""A model taking every JSON-expressible input kind Cog has, for schema fuzzing (tests/server/test_server_fuzz.py).

It touches each input so that a value the server let through but ``run()`` chokes on shows up as a failed
prediction, and returns a model output so that the response schema has fields to check. The secret is only
measured, never returned or printed.
"""

import hashlib
import tempfile
from typing import Any

from cog import BaseModel, BaseRunner, Input, Path, Secret


class Output(BaseModel):
    mode: str
    steps: int
    scale: float
    keys: list[str]
    tags: list[str]
    total: int
    file_bytes: list[int]
    secret_length: int
    note: str | None
    digest: Path


class Runner(BaseRunner):
    def run(
        self,
        options: dict[str, Any] = Input(description="Free-form JSON object"),
        tags: list[str] = Input(description="Words", default=["a", "b"]),
        counts: list[int] = Input(description="Numbers to add up", default=[1, 2, 3]),
        document: Path = Input(description="A file"),
        attachments: list[Path] = Input(description="More files", default=[]),
        api_key: Secret = Input(description="A credential", default=None),
        note: str | None = Input(description="Optional text", default=None),
        steps: int = Input(description="Bounded int", default=4, ge=1, le=50),
        scale: float = Input(description="Bounded float", default=0.5, ge=0.0, le=1.0),
        mode: str = Input(description="One of a few", default="fast", choices=["fast", "slow", "exact"]),
        level: int = Input(description="Int choices", default=2, choices=[1, 2, 3]),
    ) -> Output:
        files = [document, *attachments]
        sizes = [len(p.read_bytes()) for p in files]
        value = api_key.get_secret_value() if api_key is not None else None
        digest = Path(tempfile.mkdtemp()) / "digest.txt"
        h = hashlib.sha256()
        for p in files:
            h.update(p.read_bytes())
        digest.write_text(h.hexdigest())
        return Output(
            mode=mode,
            steps=steps * level,
            scale=scale,
            keys=sorted(str(k) for k in options),
            tags=[t.upper() for t in tags],
            total=sum(counts),
            file_bytes=sizes,
            secret_length=len(value or ""),
            note=note,
            digest=digest,
        )
