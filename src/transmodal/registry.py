"""One generic registry per extension point.

Every extension point (encoders per modality, fusions, losses, loss weightings, transfer strategies,
metrics, ...) owns a :class:`Registry`. A method registers itself with a decorator in the file that
defines it; registering a name twice raises.
"""

from __future__ import annotations

import importlib
import pkgutil
from typing import Callable, Generic, Iterator, TypeVar

T = TypeVar("T")


class Registry(Generic[T]):
    """A name -> object mapping filled by a decorator.

    Args:
        kind: What the registry holds, used in error messages ("fusion", "image encoder", ...).
        package: Dotted name of the package (or a tuple of packages) whose modules define the
            entries. Their modules are imported on first lookup, so that every file that registers
            itself is seen without a central import list.
    """

    def __init__(self, kind: str, package: str | tuple[str, ...] | None = None) -> None:
        self.kind = kind
        self.packages = (package,) if isinstance(package, str) else tuple(package or ())
        self._entries: dict[str, T] = {}
        self._loaded = not self.packages

    def register(self, name: str) -> Callable[[T], T]:
        """Return a decorator that stores its argument under ``name``.

        Raises:
            ValueError: ``name`` is already registered.
        """

        def decorator(obj: T) -> T:
            if name in self._entries:
                raise ValueError(f"{self.kind} {name!r} is already registered")
            self._entries[name] = obj
            return obj

        return decorator

    def _load(self) -> None:
        if self._loaded:
            return
        self._loaded = True
        for name in self.packages:
            package = importlib.import_module(name)
            for info in pkgutil.iter_modules(package.__path__):
                if not info.name.startswith("_"):
                    importlib.import_module(f"{name}.{info.name}")

    def get(self, name: str) -> T:
        """Return the entry named ``name``.

        Raises:
            KeyError: with the list of known names when ``name`` is unknown.
        """
        self._load()
        if name not in self._entries:
            known = ", ".join(sorted(self._entries)) or "none"
            raise KeyError(f"unknown {self.kind} {name!r}; known: {known}")
        return self._entries[name]

    def names(self) -> list[str]:
        """Sorted names of all entries."""
        self._load()
        return sorted(self._entries)

    def __contains__(self, name: str) -> bool:
        self._load()
        return name in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())
