"""Reporting: pure functions from the runs folder to tables (aggregate), text (render), and figures (plots)."""
