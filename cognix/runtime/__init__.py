"""In the image (and in ``cognix predict``): read a predictor's signature, check and convert its
inputs, encode its outputs, and describe it as Cog's OpenAPI schema.

May import only the standard library, pydantic, ``cognix.sdk`` and ``cognix.errors``: it ships in
every image, which has none of the host's libraries (typer, rich, uv, jinja2, …)."""
