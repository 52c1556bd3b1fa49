"""Tests of cognix/image."""
