"""Analyses of trained features: the proxy A-distance."""
