"""Launchers: dispatch the runs of a plan to worker processes (local pool, Slurm array, shard).

They plan and dispatch only: each run is trained by `dabench worker` (dabench/cli/worker.py),
which calls the one training loop. Coordination goes through the runs folder alone (the run lock,
`done` markers, `ticket.json`), so launchers of any kind can share one runs folder.
"""
