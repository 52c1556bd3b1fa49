"""Tests of cognix/cli."""
