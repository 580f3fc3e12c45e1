"""What a page's template read, recorded while it renders: the dependencies of incremental builds.

Nothing here lists what a page depends on. Jinja compiles `a.b` to `environment.getattr(a, "b")`, `a[k]` to
`environment.getitem(a, k)`, a context variable to `context.resolve_or_missing(name)` and a call to
`context.call(f, ...)`; `TrackingEnvironment` and `TrackingContext` hook those four and note each read in the
`Recorder` of the page being rendered. A build then renders a page again exactly when something it read has
changed (see `dependencies`), which holds for any template a site writes, not only the default theme.

What is recorded:
- a read on a *tracked* object: one whose class has `TRACK` (a one-letter kind) and an instance `track_id`
  stable across builds (an entry and its article by source file, a category, tag or menu item by slug, the
  site view, the configuration). The key is (kind, id, field); `field` is the attribute, followed for a
  collection by what was done with it (`tags|len`, `entries|s:0:5:`, `categories|k:thoi-su`, `|all`):
  adding an article then changes the membership of a few lists, not every page that reads one entry;
- a read on a page-local object (`TRACK` "p" for the page, "q" for its pagination) or of a variable the page
  was given: noted with a digest of the value, where tracked objects count by identity only (what is read of
  them is recorded on its own);
- a call of something that may read more than its arguments (the clock, random numbers, an unknown global):
  the page is then *opaque*, rendered on every build, never published stale.

`fold` is the one canonical form values are compared in: the recorder's page-local digests, memo keys and the
dependencies' resolvers all use it.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
from collections.abc import Mapping, Sequence
from typing import Any, Iterator

import jinja2
from jinja2.runtime import BlockReference, Context, LoopContext, Macro, Undefined
from jinja2.utils import Cycler, Joiner, Namespace
from markupsafe import Markup

_PLAIN = frozenset((str, Markup, int, float, bool, type(None), dt.datetime, dt.date))  # never wrapped
SEP = "\x1f"  # between the parts of a key's text form
PAGE_LOCAL = ("p", "q")


def digest(text: str) -> str:
    return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=10).hexdigest()


def identity(kind: str, track_id: str) -> str:
    """How `fold` writes a tracked object: by kind and id alone (what is read of it is recorded on its own)."""
    return f"<{kind}:{track_id}>"


def fold(value: Any) -> str:
    """A canonical text of `value`: equal texts, equal output from any template that reads nothing more of it.
    Tracked objects and lists count by identity (what is read of them is recorded separately); an unknown type
    by its repr, which at worst differs between builds and re-renders (never the reverse)."""
    cls = type(value)
    if cls is str:  # the common cases first, as below
        return "S" + repr(value)
    if cls is int or cls is bool or value is None:
        return repr(value)
    kind = getattr(cls, "TRACK", None)
    if kind is not None:
        return identity(kind, value.track_id)
    if cls is tuple or cls is list:  # (a memoised macro's arguments, on every call)
        return "(" + ",".join(map(fold, value)) + ")"
    if value is MISSING or isinstance(value, Undefined):
        return "<undefined>"
    if isinstance(value, str):
        return ("M" if isinstance(value, Markup) else "S") + repr(str(value))
    if value is None or isinstance(value, (bool, int, float)):
        return repr(value)
    if isinstance(value, Tracked):
        return value.fold()
    if isinstance(value, Shared):
        return "<list:" + SEP.join(value.key) + ">"
    if isinstance(value, (list, tuple)):
        if cls is not list and cls is not tuple and getattr(cls, "FOLD_ONCE", False):
            # A long tuple many pages share (routes.Urls): folded once, and to a digest of its text, so that each
            # page's signature and page-local reads stay short (at 100 000 articles a category's 1 250 pages each
            # hashing the text of all 1 250 URLs took 7 s of an addition's 19 s check of what changed).
            found = value.__dict__.get("folded")
            if found is None:
                text = "(" + ",".join(map(fold, value)) + ")"
                found = value.__dict__["folded"] = "<once:" + hashlib.blake2b(
                    text.encode("utf-8", "surrogatepass"), digest_size=16).hexdigest() + ">"
            return found
        return "(" + ",".join(map(fold, value)) + ")"
    if isinstance(value, Mapping):
        return "{" + ",".join(f"{fold(k)}:{fold(v)}" for k, v in sorted(value.items(), key=lambda kv: repr(kv[0]))) + "}"
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return repr(value)
    if isinstance(value, (set, frozenset)):
        return "{" + ",".join(sorted(map(fold, value))) + "}"
    if isinstance(value, Macro):
        return f"<macro:{macro_identity(value)}>"
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return type(value).__name__ + "(" + ",".join(fold(getattr(value, f.name)) for f in dataclasses.fields(value)
                                                     if f.compare) + ")"
    if callable(value):
        return f"<call:{getattr(value, '__qualname__', type(value).__name__)}>"
    return f"<{type(value).__name__}:{value!r}>"


@dataclasses.dataclass
class Frame:
    """What one render (a page, or a memoised macro call inside it) read."""

    keys: set = dataclasses.field(default_factory=set)  # (kind, id, field) of tracked objects
    local: dict = dataclasses.field(default_factory=dict)  # page-local name -> digest of what it held
    groups: set = dataclasses.field(default_factory=set)  # names of memoised fragments used (their reads are theirs)
    opaque: str = ""  # why this render cannot be reproduced from its reads ("" when it can)


class Recorder:
    """The reads of the page being rendered. `page_vars` are the variables the page was given (a template may
    also resolve globals such as `url`, which are not the page's own)."""

    def __init__(self, page: Any, page_vars: Mapping[str, Any]):
        self.page, self.page_vars = page, page_vars
        self.frames = [Frame()]

    def read(self, key: tuple[str, str, str]) -> None:
        self.frames[-1].keys.add(key)

    def local(self, name: str, value: Any) -> None:
        local = self.frames[-1].local
        if name not in local:  # the first read decides; folding again on every read cost a tenth of a render
            local[name] = digest(fold(value))

    def variable(self, name: str, value: Any) -> None:
        if getattr(type(value), "TRACK", None) in ("s", "g"):
            return  # the site view, the configuration: the same on every page, and read field by field
        self.local("v." + name, value)

    def opaque(self, why: str) -> None:
        for frame in self.frames:
            frame.opaque = frame.opaque or why

    def push(self) -> None:
        self.frames.append(Frame())

    def pop(self) -> Frame:
        return self.frames.pop()

    def use(self, name: str, local: Mapping[str, str]) -> None:
        """A memoised fragment's output is used here: depend on what it read."""
        frame = self.frames[-1]
        frame.groups.add(name)
        for k, v in local.items():
            frame.local.setdefault(k, v)

    def current(self, name: str) -> str:
        """The digest `local(name, ...)` would note on this page now (to match a memoised fragment's variant)."""
        return digest(fold(local_value(name, self.page, self.page_vars)))

    @property
    def result(self) -> Frame:
        return self.frames[0]


def local_value(name: str, page: Any, page_vars: Mapping[str, Any]) -> Any:
    """What a page-local read `name` (as `Recorder.local` notes it) finds on this page."""
    kind, _, rest = name.partition(".")
    if kind == "v":
        return page_vars.get(rest, MISSING)
    if kind == "p":
        return read(page, rest)
    if kind == "q":
        return read(page_vars.get("pagination", MISSING), rest)
    return MISSING


class _Missing:
    def __repr__(self) -> str:
        return "<undefined>"


MISSING = _Missing()  # what a read found nothing under (Jinja gives an Undefined: both fold alike)


def read(obj: Any, name: str) -> Any:
    """`obj.name` as Jinja reads it (an attribute, else an item), MISSING if neither is there."""
    if obj is MISSING or obj is None:
        return MISSING
    try:
        return getattr(obj, name)
    except AttributeError:
        pass
    try:
        return obj[name]
    except (TypeError, LookupError):
        return MISSING


class Tracked:
    """A collection read from a tracked object (or a site-wide list handed to templates): records what the
    template does with it, as a field of the key it was read under."""

    __slots__ = ("_items", "_key", "_env")

    def __init__(self, items: Any, key: tuple[str, str, str], env: "TrackingEnvironment"):
        self._items, self._key, self._env = items, key, env

    def _note(self, op: str) -> None:
        rec = self._env.recorder
        if rec is not None:
            kind, owner, field = self._key
            rec.read((kind, owner, f"{field}|{op}"))

    def fold(self) -> str:
        return "<list:" + SEP.join(self._key) + ">"

    def __len__(self) -> int:
        self._note("len")
        return len(self._items)

    def __bool__(self) -> bool:
        self._note("len")
        return bool(len(self._items))

    def __iter__(self) -> Iterator[Any]:
        self._note("all")
        return iter(list(self._items) if not isinstance(self._items, (list, tuple)) else self._items)

    def __eq__(self, other: object) -> bool:
        self._note("all")
        return list(self._items) == (list(other) if isinstance(other, (list, tuple, Tracked)) else other)

    __hash__ = None  # type: ignore[assignment]

    def __str__(self) -> str:
        self._note("all")
        return str(list(self._items))

    __repr__ = __str__


class TrackedSeq(Tracked, Sequence):
    __slots__ = ()

    def __getitem__(self, i: Any) -> Any:
        if isinstance(i, slice):
            self._note(f"s:{_bound(i.start)}:{_bound(i.stop)}:{_bound(i.step)}")
            return list(self._items[i])
        self._note(f"i:{i}")
        return self._items[i]

    def __contains__(self, item: object) -> bool:
        self._note("all")
        return item in self._items

    def __reversed__(self) -> Iterator[Any]:
        self._note("all")
        return reversed(list(self._items))

    def index(self, *args: Any) -> int:
        self._note("all")
        return list(self._items).index(*args)

    def count(self, item: Any) -> int:
        self._note("all")
        return list(self._items).count(item)

    # `items + most_read` in a template: a plain list of both, as Jinja gives for two lists (the whole of this one
    # is read; the other records its own reads as it is iterated).
    def __add__(self, other: Any) -> list:
        if not isinstance(other, (list, tuple, TrackedSeq)):
            return NotImplemented
        self._note("all")
        return [*self._items, *other]

    def __radd__(self, other: Any) -> list:
        if not isinstance(other, (list, tuple)):
            return NotImplemented
        self._note("all")
        return [*other, *self._items]


class TrackedMap(Tracked, Mapping):
    __slots__ = ()

    def __getitem__(self, k: Any) -> Any:
        self._note(f"k:{k}")
        return self._items[k]

    def __contains__(self, k: object) -> bool:
        self._note(f"k:{k}")
        return k in self._items

    def get(self, k: Any, default: Any = None) -> Any:
        self._note(f"k:{k}")
        return self._items.get(k, default)

    def keys(self):  # type: ignore[override]
        self._note("all")
        return self._items.keys()

    def items(self):  # type: ignore[override]
        self._note("all")
        return self._items.items()

    def values(self):  # type: ignore[override]
        self._note("all")
        return self._items.values()


def _bound(n: Any) -> str:
    return "" if n is None else str(n)


def apply(value: Any, op: str) -> Any:
    """What `op` (a collection read as `Tracked` notes it) gives on `value`, for the resolvers: the same
    operation on the plain collection."""
    if op == "len":
        return len(value)
    if op == "all":
        return list(value.items()) if isinstance(value, Mapping) else list(value)
    kind, _, arg = op.partition(":")
    try:
        if kind == "i":
            return value[int(arg)]
        if kind == "s":
            a, b, c = (int(x) if x else None for x in arg.split(":"))
            return list(value[a:b:c])
        if kind == "k":
            return value.get(arg, MISSING) if isinstance(value, Mapping) else MISSING
    except (IndexError, ValueError, TypeError, KeyError):
        return MISSING
    return MISSING


@dataclasses.dataclass(frozen=True)
class Shared:
    """A value a page is given that is the same wherever it appears (a site-wide list, the configuration's
    params), read under `key`: the renderer hands it to the template as a tracked collection (`bind`)."""

    key: tuple[str, str, str]
    value: Any

    def __repr__(self) -> str:
        return "<list:" + SEP.join(self.key) + ">"


def bind(context: Mapping[str, Any], env: "TrackingEnvironment") -> dict[str, Any]:
    """The page's variables as its template sees them: `Shared` values, wherever they are in a list or tuple
    (the home page's blocks are pairs), become tracked collections."""
    def one(v: Any) -> Any:
        if isinstance(v, Shared):
            return wrap(v.value, v.key, env)
        if isinstance(v, (list, tuple)) and any(isinstance(x, (Shared, list, tuple)) for x in v):
            return type(v)(one(x) for x in v)
        return v

    return {k: one(v) for k, v in context.items()}


def wrap(value: Any, key: tuple[str, str, str], env: "TrackingEnvironment") -> Any:
    """A collection read from a tracked object, tracked; anything else as it is."""
    if isinstance(value, (str, bytes, Tracked)):
        return value
    if isinstance(value, Mapping):
        return TrackedMap(value, key, env)
    if isinstance(value, (list, tuple, Sequence)):
        return TrackedSeq(value, key, env)
    return value


def macro_identity(macro: Macro, _within: tuple = ()) -> str:
    """Which macro this is, across pages and builds: its template file and line, and the template variables its
    body closes over (a macro defined in a page's template may use that page's `{% set %}` values). Two macros
    of the same name in different templates never share it. A macro that calls itself closes over itself: met
    again `_within` its own identity, it is named by its place alone."""
    func = getattr(macro, "_func", None)
    code = getattr(func, "__code__", None)
    if code is None:
        return f"{getattr(macro, 'name', '?')}@{id(macro)}"
    if _within and any(m is macro for m in _within):
        return f"{code.co_filename}:{code.co_firstlineno}:{macro.name}:itself"
    within = (*_within, macro)
    # Asked on every memoised call (a teaser on every listing page), of the same Macro objects in a process: an
    # imported template's module is made once. Its text is kept on the macro while each cell it closes over holds
    # the very same value, of a kind whose text cannot change under the same object, or a macro whose own
    # identity is as it was; else made anew.
    kept = macro.__dict__.get("_sitegen_identity")
    if kept is not None:
        cells, contents, text, inner = kept
        try:
            if all(c.cell_contents is v and (i is None or macro_identity(v, within) == i)
                   for c, v, i in zip(cells, contents, inner)):
                return text
        except ValueError:  # (an empty cell: made anew below)
            pass
    cells, contents, captured, inner, fixed = [], [], [], [], True
    for name, cell in zip(code.co_freevars, func.__closure__ or ()):
        if not name.startswith("l_"):
            continue
        value = _contents(cell)
        cells.append(cell)
        contents.append(value)
        if type(value) is Macro:
            inner.append(macro_identity(value, within))
            captured.append(f"{name}=<macro:{inner[-1]}>")
        else:
            inner.append(None)
            fixed = fixed and type(value) in _FIXED
            captured.append(f"{name}=?" if value is _EMPTY else f"{name}={fold(value)}")
    text = f"{code.co_filename}:{code.co_firstlineno}:{macro.name}:{';'.join(captured)}"
    if fixed:
        macro.__dict__["_sitegen_identity"] = (tuple(cells), tuple(contents), text, tuple(inner))
    return text


_EMPTY = object()  # an empty cell: a variable not yet set
_FIXED = frozenset((str, int, bool, float, type(None), Markup))  # kinds whose text is fixed by the object


def _contents(cell: Any) -> Any:
    try:
        return cell.cell_contents
    except ValueError:
        return _EMPTY


# Calls a template may make without reading anything it was not given: methods of plain values (but not the
# clock), Jinja's own helpers. Anything else makes the page opaque.
_PURE_TYPES = (str, int, float, list, tuple, dict, Markup, Tracked, Namespace, LoopContext, Cycler, Joiner,
               BlockReference, dt.date, dt.datetime, dt.time, dt.timedelta)
_IMPURE_NAMES = {"now", "today", "utcnow", "fromtimestamp", "utcfromtimestamp", "astimezone"}


class TrackingContext(Context):
    def resolve_or_missing(self, key: str) -> Any:
        value = super().resolve_or_missing(key)
        rec = self.environment.recorder  # type: ignore[attr-defined]
        if rec is not None and key not in self.vars and key in rec.page_vars:
            rec.variable(key, value)
        return value

    def call(__self, __obj: Any, *args: Any, **kwargs: Any) -> Any:  # noqa: N805 (Jinja's own signature)
        rec = __self.environment.recorder  # type: ignore[attr-defined]
        if rec is not None and not __self.environment.is_pure(__obj):  # type: ignore[attr-defined]
            rec.opaque(f"gọi {getattr(__obj, '__qualname__', __obj)!r}")
        return super().call(__obj, *args, **kwargs)


class TrackingEnvironment(jinja2.Environment):
    """Jinja with reads recorded into `recorder` (None between pages: nothing is recorded then)."""

    context_class = TrackingContext

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.recorder: Recorder | None = None
        self.pure: set[int] = set()  # ids of the globals and filters known to read only their arguments

    def is_pure(self, obj: Any) -> bool:
        if id(obj) in self.pure or isinstance(obj, (Macro, Undefined, BlockReference)) or obj in (range, dict):
            return True
        owner = getattr(obj, "__self__", None)
        if owner is None or isinstance(owner, type):
            return False
        if getattr(type(owner), "TRACK", None) is not None:
            return getattr(obj, "__name__", "") in getattr(type(owner), "PURE_METHODS", ())
        return isinstance(owner, _PURE_TYPES) and getattr(obj, "__name__", "") not in _IMPURE_NAMES

    def getattr(self, obj: Any, attribute: str) -> Any:
        try:  # (Jinja's own first step, here: a call less on every `a.b` of every page)
            value = getattr(obj, attribute)
        except AttributeError:
            value = super().getattr(obj, attribute)
        rec = self.recorder
        if rec is not None:
            kind = getattr(type(obj), "TRACK", None)
            if kind is not None:
                return self._note(rec, kind, obj, attribute, value)
        return value

    def getitem(self, obj: Any, argument: Any) -> Any:
        value = super().getitem(obj, argument)
        rec = self.recorder
        if rec is not None and isinstance(argument, str):
            kind = getattr(type(obj), "TRACK", None)
            if kind is not None:
                return self._note(rec, kind, obj, argument, value)
        elif rec is not None and getattr(type(obj), "TRACK", None) is not None:
            rec.opaque(f"đọc {type(obj).__name__}[{argument!r}]")
        return value

    def _note(self, rec: Recorder, kind: str, obj: Any, name: str, value: Any) -> Any:
        if kind in PAGE_LOCAL:
            rec.local(f"{kind}.{name}", value)
            return value
        key = (kind, obj.track_id, name)
        if type(value) in _PLAIN:  # most reads (titles, URLs, dates): no container check (abc checks are slow)
            rec.frames[-1].keys.add(key)  # (Recorder.read, inlined)
            return value
        if isinstance(value, (Mapping, list, tuple)) or (isinstance(value, Sequence) and not isinstance(value, str)):
            return wrap(value, key, self)
        rec.read(key)
        return value
