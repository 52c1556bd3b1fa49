"""``Annotated[T, Opaque]`` marks a type cognix passes through without inspecting."""


class Opaque:
    """Marker: the value is an arbitrary JSON object (or list of them)."""
