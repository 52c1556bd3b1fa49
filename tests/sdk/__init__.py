"""Tests of the SDK (cognix/sdk)."""
