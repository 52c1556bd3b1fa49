"""On the host: a Cog project as cognix reads it. ``cog.yaml`` (``config``), the CUDA/cuDNN/framework
choice (``compat``, with ``compat.toml``), the lock (``lock``, the only reader and writer of
``pylock.toml``) and ``cognix init``'s template (``scaffold``)."""
