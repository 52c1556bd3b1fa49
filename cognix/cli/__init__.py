"""On the host: the ``cognix`` command line. ``app`` holds the thin typer commands; ``in_process``
runs a predictor once in this Python (``cognix predict``), ``prediction_io`` turns ``-i``/``--json``
into inputs and outputs into files."""

from cognix.cli.app import app, main

__all__ = ["app", "main"]
