"""dabench: reproducible benchmarks for domain-adversarial adaptation (RevGrad / DANN).

Only the version lives here: `dabench list-tasks` must not import torch.
"""

__version__ = "0.1.0"
