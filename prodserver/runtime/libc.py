"""Two C functions of the process's own C library, ``prctl`` and ``mallopt``, from Python.

Python has no binding for them, so they are called through ctypes' C core, ``_ctypes``,
without the :mod:`ctypes` package on top of it: that package builds dozens of C types, a
callback thunk and the ``struct`` module when it is imported, 2-4 ms of every ``up`` (issue
17) for two calls that take integers and return one. Should ``_ctypes`` not offer what is
used here (another interpreter, a changed private API), :mod:`ctypes` itself is used.
"""

from __future__ import annotations

import sys
from collections.abc import Callable


def int_function(name: str, argtypes: str) -> Callable[..., int] | None:
    """The C function ``name`` of this process (``int name(...)``), or None where there is none.

    ``argtypes``: one ``struct``-style letter per argument (``i`` int, ``L`` unsigned long).
    The function keeps ``errno`` for ``ctypes.get_errno()``.
    """
    if not sys.platform.startswith("linux"):
        return None
    try:
        return _from_core(name, argtypes)
    except (ImportError, AttributeError, TypeError, ValueError):
        pass
    except OSError:
        return None  # no such symbol: the package would not find it either
    return _from_package(name, argtypes)


TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


def _from_core(name: str, argtypes: str) -> Callable[..., int]:
    import _ctypes

    types: dict[str, Any] = {
        letter: type(f"c_{letter}", (_ctypes._SimpleCData,), {"_type_": letter})
        for letter in {"i", *argtypes}
    }

    class Library:
        _handle = _ctypes.dlopen(None, 0)  # type: ignore[arg-type]  # this process's symbols

    library: Any = Library  # what ctypes.CDLL would be: anything with a ``_handle``

    class Function(_ctypes.CFuncPtr):
        _flags_ = _ctypes.FUNCFLAG_CDECL | _ctypes.FUNCFLAG_USE_ERRNO
        _restype_ = types["i"]

    function: Any = Function((name, library))
    function.argtypes = [types[letter] for letter in argtypes]
    return function  # type: ignore[no-any-return]


def _from_package(name: str, argtypes: str) -> Callable[..., int] | None:
    try:
        import ctypes

        function: Any = getattr(ctypes.CDLL(None, use_errno=True), name)
    except (OSError, AttributeError):
        return None
    kinds = {"i": ctypes.c_int, "L": ctypes.c_ulong}
    function.argtypes = [kinds[letter] for letter in argtypes]
    function.restype = ctypes.c_int
    return function  # type: ignore[no-any-return]
