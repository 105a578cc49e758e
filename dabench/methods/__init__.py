"""Methods: one module per method in this folder, found by a package walk.

Each module defines a `Method` subclass (see `base.py`) and registers it with
`@register_method(name, label=..., order=..., config={section: dataclass})`: the label is how
tables name it, `order` places its rows, and the config section (its hyper-parameters, kept
beside it as DomainBed does) becomes `--set section.key=...`. Nothing else needs editing to add
a method: `RunConfig`, the CLI's method list and the report all read `METHODS`.

Method modules stay torch-free at import (torch is imported inside the functions that compute),
so the config keys, `list-tasks` and `report` can read the registry without loading torch.
"""

from dabench.methods.base import (  # noqa: F401  (the public API)
    METHODS, Batch, Method, config_sections, method_label, method_order, method_role,
    register_method)
