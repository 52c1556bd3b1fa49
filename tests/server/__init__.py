"""Tests of cognix/server."""
