"""A restricted unpickler: model files can never execute code.

Only numpy array reconstruction, builtin containers and two inert stand-ins (for chumpy's
``Ch`` and scipy's sparse matrices) may be named by a pickle; anything else raises
:class:`UnsafePickleError` naming the global it asked for.
"""

from __future__ import annotations

import functools
import io
import pickle
from typing import Any

import numpy as np


class UnsafePickleError(pickle.UnpicklingError):
    """The pickle names a global outside the allow-list."""


class InertObject:
    """Stand-in for an allowed foreign class (chumpy ``Ch``, scipy sparse): it only stores state."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.args = args
        self.state: Any = None

    def __setstate__(self, state: Any) -> None:
        self.state = state

    def array(self) -> np.ndarray:
        """The numeric content: chumpy keeps it in ``state['x']``; sparse matrices are densified."""
        st = self.state
        if isinstance(st, dict):
            if "x" in st:
                return np.asarray(st["x"])
            if {"data", "indices", "indptr", "_shape"} <= set(st):
                from scipy import sparse

                return sparse.csc_matrix((st["data"], st["indices"], st["indptr"]), shape=st["_shape"]).toarray()
        raise UnsafePickleError(f"cannot interpret stored object of state type {type(st).__name__}")


@functools.lru_cache(maxsize=1)
def _allowed() -> dict[tuple[str, str], Any]:
    import codecs
    import collections
    import copyreg

    try:
        from numpy._core import multiarray as ma  # numpy >= 2
    except ImportError:  # pragma: no cover - numpy 1
        from numpy.core import multiarray as ma  # type: ignore[no-redef]
    table: dict[tuple[str, str], Any] = {
        ("numpy", "ndarray"): np.ndarray,
        ("numpy", "dtype"): np.dtype,
        ("builtins", "object"): object,
        ("__builtin__", "object"): object,
        ("collections", "OrderedDict"): collections.OrderedDict,
        ("copy_reg", "_reconstructor"): copyreg._reconstructor,  # type: ignore[attr-defined]
        ("copyreg", "_reconstructor"): copyreg._reconstructor,  # type: ignore[attr-defined]
        ("_codecs", "encode"): codecs.encode,
    }
    for mod in ("builtins", "__builtin__"):  # inert containers and numbers
        for typ in (set, frozenset, list, dict, tuple, slice, complex, bytearray, bytes, str, int, float, bool):
            table[(mod, typ.__name__)] = typ
    for mod in ("numpy.core.multiarray", "numpy._core.multiarray"):
        table[(mod, "_reconstruct")] = ma._reconstruct
        table[(mod, "scalar")] = ma.scalar
    return table


_INERT_MODULES = ("chumpy", "scipy.sparse")


def _resolve(module: str, name: str) -> Any:
    table = _allowed()
    if (module, name) in table:
        return table[(module, name)]
    if module.split(".")[0] == "chumpy" or module.startswith("scipy.sparse"):
        return InertObject
    raise UnsafePickleError(f"refusing to load global {module}.{name}: model pickles may only contain arrays")


class _RestrictedUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:  # noqa: D401
        return _resolve(module, name)


def safe_load(data: bytes) -> Any:
    """Unpickle ``data`` (Python 2 pickles included, read as latin-1) with the restricted allow-list."""
    return _RestrictedUnpickler(io.BytesIO(data), encoding="latin1").load()


def as_array(value: Any) -> np.ndarray:
    """A numpy array from a plain array or an :class:`InertObject` stand-in."""
    if isinstance(value, InertObject):
        return value.array()
    return np.asarray(value)
