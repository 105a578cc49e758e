"""dabench: reproducible benchmarks for domain-adversarial adaptation (RevGrad / DANN).

The public Python API, loaded on first use so that `import dabench` (and `dabench list-tasks`)
stays light and torch-free:

- `dabench.run(tasks, methods=..., seeds=..., sets=..., ...)` -> result records
- `dabench.plan(...)` -> the runs `run` would do, resolved, without training
- `dabench.report(runs_dir=..., select=..., view=...)` -> the report's rows as plain data
- `dabench.list_tasks()`, `dabench.load_task(name)`, `dabench.load_task_file(path)`
- `dabench.load_plugins(*files)`; `dabench.Method` and `dabench.register_method` to write one
- `dabench.DabenchError`: every user error, with its one-line message

See docs/api.md. Everything else (modules and names starting with `_`, and the modules not
listed here) is internal and may change between versions.
"""

__version__ = "0.1.0"

_API = {"run": "dabench.api", "plan": "dabench.api", "report": "dabench.api",
        "list_tasks": "dabench.api", "load_task": "dabench.api",
        "load_task_file": "dabench.api", "load_plugins": "dabench.api",
        "Method": "dabench.methods", "register_method": "dabench.methods",
        "DabenchError": "dabench.errors"}
__all__ = ["__version__", *_API]


def __getattr__(name: str):
    if name in _API:
        import importlib

        return getattr(importlib.import_module(_API[name]), name)
    raise AttributeError(f"module 'dabench' has no attribute {name!r}")


def __dir__() -> list:
    return sorted([*globals(), *_API])
