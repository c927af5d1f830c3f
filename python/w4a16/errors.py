"""Library errors as Python exceptions.

Every failing call of libw4a16 returns a w4a16_status and leaves a message in
the thread-local w4a16_last_error(); `check` turns the pair into one of the
exceptions below. Each is a W4A16Error and also the built-in exception a
Python caller would expect (ValueError for bad arguments, OSError for I/O,
MemoryError for allocation failures), so `except ValueError` works too.
"""
from . import _capi, _library


class W4A16Error(RuntimeError):
    """A libw4a16 call failed. `status` is the w4a16_status value, `status_text`
    what w4a16_status_str says of it ("invalid argument", ...), `message` what
    w4a16_last_error() said (it names the argument and its value)."""

    def __init__(self, status, status_text, message):
        super().__init__(f"{message} ({status_text})" if message else status_text)
        self.status = status
        self.status_text = status_text
        self.message = message


class ArgumentError(W4A16Error, ValueError):
    """W4A16_ERR_ARG: NULL, misaligned, out of range, wrong dtype or device."""


class ShapeError(W4A16Error, ValueError):
    """W4A16_ERR_SHAPE: shapes that do not agree or do not divide."""


class UnsupportedError(W4A16Error):
    """W4A16_ERR_UNSUPPORTED: valid, but no kernel or format path takes it."""


class FormatError(W4A16Error, ValueError):
    """W4A16_ERR_FORMAT: a malformed or inconsistent checkpoint."""


class CheckpointIOError(W4A16Error, OSError):
    """W4A16_ERR_IO: open, read, write or mmap failed."""


class OutOfMemoryError(W4A16Error, MemoryError):
    """W4A16_ERR_NOMEM: a host or device allocation failed."""


class CudaError(W4A16Error):
    """W4A16_ERR_CUDA: a CUDA or cuBLAS call failed, or there is no usable GPU."""


_BY_STATUS = {
    _capi.ERR_ARG: ArgumentError,
    _capi.ERR_SHAPE: ShapeError,
    _capi.ERR_UNSUPPORTED: UnsupportedError,
    _capi.ERR_FORMAT: FormatError,
    _capi.ERR_IO: CheckpointIOError,
    _capi.ERR_NOMEM: OutOfMemoryError,
    _capi.ERR_CUDA: CudaError,
}


def error_for(status, context=None):
    """The exception for a failed call's status, carrying w4a16_last_error()."""
    lib = _library.lib()
    message = lib.w4a16_last_error().decode("utf-8", "replace")
    if context:
        message = f"{context}: {message}" if message else context
    text = lib.w4a16_status_str(status).decode("ascii", "replace")
    return _BY_STATUS.get(status, W4A16Error)(status, text, message)


def check(status, context=None):
    """Raises the matching W4A16Error unless status is W4A16_OK; context (a layer
    name, say) goes before the library's message."""
    if status != _capi.OK:
        raise error_for(status, context)


def argument_error(message):
    """An ArgumentError found by the Python side itself (no library call)."""
    return ArgumentError(_capi.ERR_ARG, "invalid argument", message)


def shape_error(message):
    """A ShapeError found by the Python side itself (no library call)."""
    return ShapeError(_capi.ERR_SHAPE, "shape mismatch", message)


def format_error(message):
    """A FormatError found by the Python side itself (no library call)."""
    return FormatError(_capi.ERR_FORMAT, "malformed input", message)


def unsupported_error(message):
    """An UnsupportedError found by the Python side itself (no library call)."""
    return UnsupportedError(_capi.ERR_UNSUPPORTED, "unsupported", message)
