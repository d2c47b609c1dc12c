"""Helpers shared by the test suite: real servers and service processes."""
