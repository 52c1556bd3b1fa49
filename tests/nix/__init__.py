"""Tests of the Nix library (cognix/nix)."""
