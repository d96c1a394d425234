"""What a backend package exports: the ops its kernel modules define, found, not listed.

Every backend has the same kernel modules (``MODULES``); an op is a public function the
reference's module of that name defines. A backend package calls :func:`export` from its
``__init__`` and gets, at package level, each op one of its modules implements — the op list is
written nowhere (the API's op table, ``fastmlp.ops``, derives from the same definitions).
"""

import importlib

MODULES = ("activations", "dense", "dropout", "losses", "norm", "optim", "rng", "whiten")
REFERENCE = __name__.rsplit(".", 1)[0] + ".reference"


def _defined_in(module):
    """Public functions (and compiled kernels) defined in ``module`` itself, by name, less the
    building blocks it shares with other kernels (its ``HELPERS``)."""
    helpers = getattr(module, "HELPERS", ())
    return {
        name: value
        for name, value in vars(module).items()
        if not name.startswith("_")
        and name not in helpers
        and callable(value)
        and getattr(value, "__module__", None) == module.__name__
    }


def reference_ops():
    """{op name: kernel module name} for every op of the contract."""
    found = {}
    for module_name in MODULES:
        module = importlib.import_module(f"{REFERENCE}.{module_name}")
        found.update(dict.fromkeys(_defined_in(module), module_name))
    return found


def export(namespace, package, modules=MODULES):
    """Copy into ``namespace`` (a package's globals) each op that the package's ``modules`` define;
    returns their names."""
    contract = reference_ops()
    names = []
    for module_name in modules:
        module = importlib.import_module(f"{package}.{module_name}")
        for name, fn in vars(module).items():
            if contract.get(name) == module_name and callable(fn):
                namespace[name] = fn
                names.append(name)
    return names
