"""Finding and loading libw4a16 with ctypes.

The library is the one named by the W4A16_LIBRARY environment variable, or
else the libw4a16.so that `pip install ./python` put inside this package. It
is loaded once per process, on first use.

One cuBLAS per process: libw4a16 needs libcudart.so.13 and libcublas.so.13 by
soname, and the dynamic linker reuses a library of that soname when one is
already loaded. The package imports torch (when installed) before loading the
library, so torch's own cuBLAS is the one both use; loading libw4a16 first
could instead put the system's cuBLAS under torch, which may be older than
the one torch was built against.
"""
import ctypes
import glob
import os
import threading

from . import _capi

LIBRARY_ENV = "W4A16_LIBRARY"
_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__))

_lock = threading.Lock()
_loaded = None


class LibraryNotFoundError(OSError):
    """libw4a16 could not be found or loaded; the message says where it looked."""


def library_path():
    """The path of the library this process loads (or would load)."""
    named = os.environ.get(LIBRARY_ENV)
    if named:
        if not os.path.isfile(named):
            raise LibraryNotFoundError(f"{LIBRARY_ENV}={named!r} is not a file")
        return os.path.abspath(named)
    shipped = sorted(glob.glob(os.path.join(_PACKAGE_DIR, "libw4a16.so*")))
    if not shipped:
        raise LibraryNotFoundError(
            f"no libw4a16.so in {_PACKAGE_DIR} and {LIBRARY_ENV} is not set: install the "
            f"package with `pip install ./python`, or set {LIBRARY_ENV} to a built library "
            f"(e.g. build/libw4a16.so)")
    return shipped[0]


def _load(path):
    try:
        lib = ctypes.CDLL(path)
    except OSError as error:
        hint = ""
        if "libcublas" in str(error) or "libcudart" in str(error):
            hint = (" (the CUDA runtime and cuBLAS come from torch when it is imported first, "
                    "else from the system: add the CUDA toolkit's lib64 to LD_LIBRARY_PATH)")
        elif "libjansson" in str(error):
            hint = (" (install libjansson4, or add the folder holding libjansson.so.4 to "
                    "LD_LIBRARY_PATH)")
        raise LibraryNotFoundError(f"cannot load {path}: {error}{hint}") from error
    try:
        return _capi.declare(lib)
    except AttributeError as error:
        raise LibraryNotFoundError(
            f"{path} lacks a function this package calls ({error}): it is older or newer than "
            f"the package; rebuild it from the same commit") from error


def lib():
    """The loaded, declared library (loads it on first call)."""
    global _loaded
    if _loaded is None:
        with _lock:
            if _loaded is None:
                _loaded = _load(library_path())
    return _loaded
