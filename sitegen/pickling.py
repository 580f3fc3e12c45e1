"""How the model's slotted dataclasses are pickled (the build cache holds 100 000s of them).

dataclasses' own pickling of a class with slots looks its fields up again for every object it saves or loads:
at 100 000 articles that was 3.4 s of an addition's build. A class decorated here pickles as its constructor and
its field values instead, in field order, which its generated __init__ takes as they are.
"""

from __future__ import annotations

from dataclasses import fields
from typing import Any, TypeVar

T = TypeVar("T", bound=type)


def by_fields(cls: T) -> T:
    """Decorate (above @dataclass(frozen=True, slots=True)) a dataclass whose every field is an __init__ one."""
    names = tuple(f.name for f in fields(cls))
    assert all(f.init for f in fields(cls)), cls

    def __reduce__(self: Any) -> tuple[type, tuple]:
        return cls, tuple([getattr(self, n) for n in names])

    cls.__reduce__ = __reduce__  # type: ignore[assignment]
    return cls
