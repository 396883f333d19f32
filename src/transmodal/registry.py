"""One generic registry per extension point.

Every extension point (encoders per modality, fusions, losses, loss weightings, transfer strategies,
metrics, ...) owns a :class:`Registry`. A method registers itself with a decorator in the file that
defines it; registering a name twice raises. An entry registered with ``internal=True`` (used by
transmodal itself, e.g. the ``transfer_query`` encoder of knowledge transfer) works like any other
but is never offered to users: :meth:`Registry.public_names` and the "known: ..." of an unknown
name leave it out.
"""

from __future__ import annotations

import importlib
import pkgutil
from typing import Callable, Generic, Iterator, TypeVar

from transmodal.errors import ConfigError, did_you_mean

T = TypeVar("T")


class UnknownNameError(ConfigError, KeyError):
    """A name that is not in a registry (a ``ConfigError`` for users, a ``KeyError`` for lookups)."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


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
        self._internal: set[str] = set()
        self._loaded = not self.packages

    def register(self, name: str, internal: bool = False) -> Callable[[T], T]:
        """Return a decorator that stores its argument under ``name``.

        Args:
            internal: The entry is for transmodal's own use: hidden from :meth:`public_names`.

        Raises:
            ValueError: ``name`` is already registered.
        """

        def decorator(obj: T) -> T:
            if name in self._entries:
                raise ValueError(f"{self.kind} {name!r} is already registered")
            self._entries[name] = obj
            if internal:
                self._internal.add(name)
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
            UnknownNameError: (a ``KeyError`` and a ``ConfigError``) naming the closest and the
                known public names when ``name`` is unknown.
        """
        self._load()
        if name not in self._entries:
            raise UnknownNameError(self.unknown_message(name))
        return self._entries[name]

    def unknown_message(self, name: object, what: str | None = None) -> str:
        """``unknown fusion 'concta' (did you mean 'concat'?); known: concat, late, ...``.

        Args:
            what: How to name the thing (default: the registry's ``kind``).
        """
        known = self.public_names()
        return f"unknown {what or self.kind} {name!r}{did_you_mean(name, known)}; known: {', '.join(known) or 'none'}"

    def names(self) -> list[str]:
        """Sorted names of all entries (internal ones included: contract tests cover them)."""
        self._load()
        return sorted(self._entries)

    def public_names(self) -> list[str]:
        """Sorted names a user may choose (internal entries left out)."""
        return [name for name in self.names() if name not in self._internal]

    def __contains__(self, name: str) -> bool:
        self._load()
        return name in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())
