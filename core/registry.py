"""Registries filled through registrars at start-up, then frozen (STYLE.md)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Generic, TypeVar

from .errors import PluginError

__all__ = ["Registry"]

T = TypeVar("T")


class Registry(Generic[T]):
    """Named items, each tagged with the plugin that registered it.

    A second item under a taken name is a :class:`PluginError` naming both plugins;
    after :meth:`freeze` nothing can be added.
    """

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._items: dict[str, T] = {}
        self._owners: dict[str, str] = {}
        self._frozen = False

    def add(self, name: str, item: T, plugin: str) -> None:
        if self._frozen:
            raise PluginError(
                f"{self.kind} registry is frozen; {plugin!r} registered {name!r} late"
            )
        if name in self._items:
            raise PluginError(
                f"duplicate {self.kind} {name!r}: registered by {self._owners[name]!r} "
                f"and by {plugin!r}"
            )
        self._items[name] = item
        self._owners[name] = plugin

    def replace(self, name: str, item: T) -> None:
        """Swap a registered item for a new version of it (before freezing)."""
        if self._frozen:
            raise PluginError(f"{self.kind} registry is frozen")
        if name not in self._items:
            raise KeyError(name)
        self._items[name] = item

    def registrar(self, plugin: str, name_of: Callable[[T], str]) -> Callable[[T], None]:
        """A ``register(item)`` callable handed to one plugin's hook."""

        def register(item: T) -> None:
            self.add(name_of(item), item, plugin)

        return register

    def freeze(self) -> None:
        self._frozen = True

    @property
    def frozen(self) -> bool:
        return self._frozen

    def owner(self, name: str) -> str:
        return self._owners[name]

    def get(self, name: str) -> T | None:
        return self._items.get(name)

    def __getitem__(self, name: str) -> T:
        return self._items[name]

    def __contains__(self, name: object) -> bool:
        return name in self._items

    def __iter__(self) -> Iterator[T]:
        return iter(self._items.values())

    def __len__(self) -> int:
        return len(self._items)

    def names(self) -> list[str]:
        return list(self._items)
