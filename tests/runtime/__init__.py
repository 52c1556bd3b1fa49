"""Tests of cognix/runtime."""
