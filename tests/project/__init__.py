"""Tests of cognix/project."""
