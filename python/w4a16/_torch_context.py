"""One library ctx per (device, thread), created on first use with that
device made current, and its workspace as a torch tensor (PyTorch's caching
allocator owns it; the library only borrows it).

A ctx is used by one thread at a time, so each thread gets its own. The
workspace starts at the library's default size (64 MiB) and grows, outside
CUDA graph capture, to what the calls need (w4a16_workspace_size), up to
W4A16_WORKSPACE_MAX_MB (default 1024); during capture, or past the cap, a
call that needs more runs in chunks. A workspace that a captured graph has
used is never freed, since the graph keeps its address.
"""
import ctypes
import os
import threading

import torch

from ._library import lib
from .errors import check

WORKSPACE_MAX_ENV = "W4A16_WORKSPACE_MAX_MB"
_WORKSPACE_ROUNDING = 1 << 20
DEFAULT_WORKSPACE_BYTES = 64 << 20


def _workspace_cap():
    return int(os.environ.get(WORKSPACE_MAX_ENV, "1024")) << 20


class DeviceContext:
    """A w4a16_ctx for one device, owned by one thread."""

    def __init__(self, device_index):
        self.device_index = device_index
        self.device = torch.device("cuda", device_index)
        handle = ctypes.c_void_p()
        with torch.cuda.device(device_index):
            check(lib().w4a16_ctx_create_with_workspace(device_index, None, 0,
                                                        ctypes.byref(handle)))
        self.handle = handle
        self.workspace = None
        self.workspace_captured = False  # a captured graph holds its address
        self._retired = []  # workspaces captured graphs still use
        self._streams = set()  # streams the workspace was used on besides its own
        self._setting = 0  # counts set_kernel / set_batch_invariant: what a call needs changes
        self._replace(min(DEFAULT_WORKSPACE_BYTES, _workspace_cap()))

    def prepare(self, weight, m, stream):
        """Grows the workspace for a call of M rows on the raw stream handle
        `stream` (outside capture) and tells the caching allocator which
        streams use it. A weight's need at each M is asked of the library once
        per ctx setting (kept on the weight's view)."""
        capturing = torch.cuda.is_current_stream_capturing()
        if not capturing:
            needs = weight.__dict__.setdefault("workspace_needs", {})
            key = (self.handle.value, self._setting, m)
            want = needs.get(key)
            if want is None:
                need = ctypes.c_size_t()
                check(lib().w4a16_workspace_size(self.handle, ctypes.byref(weight), m,
                                                 ctypes.byref(need)))
                want = needs[key] = min(need.value, _workspace_cap())
            have = 0 if self.workspace is None else self.workspace.numel()
            if want > have:
                self._replace(-(-want // _WORKSPACE_ROUNDING) * _WORKSPACE_ROUNDING)
        if self.workspace is None:
            return
        if capturing:
            self.workspace_captured = True
        if stream not in self._streams:
            current = torch.cuda.current_stream(self.device)
            if current.cuda_stream == stream:
                self.workspace.record_stream(current)  # freed only after that stream's work
            self._streams.add(stream)

    def _replace(self, nbytes):
        workspace = torch.empty(nbytes, dtype=torch.uint8, device=self.device)
        check(lib().w4a16_ctx_set_workspace(self.handle, workspace.data_ptr(), nbytes))
        if self.workspace_captured:
            self._retired.append(self.workspace)
        self.workspace, self.workspace_captured, self._streams = workspace, False, set()

    def set_kernel(self, name):
        check(lib().w4a16_ctx_set_kernel(self.handle, name.encode()))
        self._setting += 1

    def set_batch_invariant(self, on):
        """w4a16_ctx_set_batch_invariant: every call runs sm90_prefill with one
        token tile and no K split (Hopper only), so a row's sums do not depend
        on M (nor, with one tile size and no split, on N)."""
        check(lib().w4a16_ctx_set_batch_invariant(self.handle, 1 if on else 0))
        self._setting += 1

    def __del__(self):
        handle = getattr(self, "handle", None)
        if handle is not None:
            try:
                lib().w4a16_ctx_destroy(handle)
            except Exception:  # interpreter shutdown: the process frees it anyway
                pass
            self.handle = None


_local = threading.local()


def device_context(device_index):
    """This thread's DeviceContext for a CUDA device index (created on first use)."""
    contexts = _local.__dict__.setdefault("contexts", {})
    context = contexts.get(device_index)
    if context is None:
        context = contexts[device_index] = DeviceContext(device_index)
    return context
