"""On the host: built images. ``reference`` is the one image-name grammar, ``archive`` reads the OCI
archives cognix writes, ``audit`` describes and compares them (``cognix inspect``/``diff``),
``registry`` pushes them, ``load`` hands them to podman or docker."""
