"""On the host: the ``cognix`` command line. ``app`` holds the thin typer commands; ``in_process``
runs a predictor once in this Python (``cognix predict``), ``prediction_io`` turns ``-i``/``--json``
into inputs and outputs into files."""

import gc

# The CLI's imports (pydantic, typer, rich: ~250 modules) allocate enough to trigger a dozen
# collections that find nothing to free; main() restores the default before any command runs.
_DEFAULT_GC_THRESHOLD = gc.get_threshold()
gc.set_threshold(100_000, 50, 100)

from cognix.cli.app import app, main  # noqa: E402

gc.freeze()  # what the imports made lives as long as the process: no collection need walk it
gc.set_threshold(*_DEFAULT_GC_THRESHOLD)

__all__ = ["app", "main"]
