"""On the host: from a locked project to an image. ``generate`` writes ``flake.nix`` and ``.cognix/``
(with ``sources`` listing the model files and ``server_wheel`` packing the image's cognix),
``nixcli`` runs Nix, ``toolchain`` prepares the offline interpreter, ``pipeline`` drives a build,
``verify`` rebuilds from nothing, ``sbom`` describes the closure."""
