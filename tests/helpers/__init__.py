"""Helpers shared by test modules: plain functions and classes, no tests and no fixtures
(fixtures live in tests/conftest.py).  Test modules import from here, never from one
another."""
