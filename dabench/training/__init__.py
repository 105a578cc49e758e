"""Training: the one loop, the methods it drives, schedules, checkpoints, device and evaluation."""
