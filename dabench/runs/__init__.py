"""The runs folder: what to run (plan) and the run directories themselves (store)."""
