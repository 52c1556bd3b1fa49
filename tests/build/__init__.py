"""Tests of cognix/build."""
