"""``python -m cognix``: the command line."""

from cognix.cli import main

main()
