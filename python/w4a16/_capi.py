"""ctypes mirrors of include/w4a16.h: the structs field for field, and the
prototype of every function the package calls. Kept in one place so that a
change to the header is a change here and nowhere else."""
import ctypes
from ctypes import (POINTER, c_char_p, c_double, c_int, c_int32, c_int64, c_size_t, c_uint8,
                    c_uint32, c_uint64, c_void_p)

# w4a16_status (fixed values: part of the ABI).
OK, ERR_ARG, ERR_SHAPE, ERR_UNSUPPORTED, ERR_FORMAT, ERR_IO, ERR_NOMEM, ERR_CUDA = range(8)

# w4a16_dtype, in the header's order.
DTYPE_NAMES = ("INVALID", "BOOL", "U8", "I8", "I16", "U16", "F16", "BF16", "I32", "U32", "F32",
               "F64", "I64", "U64", "C64", "F8_E4M3", "F8_E5M2", "F8_E4M3FNUZ", "F8_E5M2FNUZ",
               "F8_E8M0", "F4", "F6_E2M3", "F6_E3M2")
DTYPE = {name: value for value, name in enumerate(DTYPE_NAMES)}

# w4a16_format.
FORMAT_AUTO, FORMAT_DENSE, FORMAT_AWQ, FORMAT_GPTQ, FORMAT_GPTQ_V2, FORMAT_CT = range(6)

# w4a16_packed_axis and w4a16_layer_status.
PACKED_ALONG_N, PACKED_ALONG_K = 0, 1
LAYER_QUANTIZED, LAYER_UNQUANTIZED, LAYER_UNSUPPORTED, LAYER_MALFORMED = 0, 1, 2, 3

c_status = c_int  # a C enum is an int


class QLayout(ctypes.Structure):
    """w4a16_qlayout: where q[n, k] (or z[n, g]) lives in int32 words."""
    _fields_ = [("packed_axis", c_int32), ("stride_n", c_int64), ("stride_k", c_int64),
                ("nibble_of", c_uint8 * 8), ("offset", c_int32)]


class Source(ctypes.Structure):
    """w4a16_source: one quantized layer as a checkpoint stores it (borrowed pointers)."""
    _fields_ = [("n", c_int64), ("k", c_int64), ("group_size", c_int64),
                ("qweight", POINTER(c_int32)), ("qweight_layout", QLayout),
                ("qzeros", POINTER(c_int32)), ("qzeros_layout", QLayout),
                ("scales", c_void_p), ("scales_dtype", c_int),
                ("scales_stride_n", c_int64), ("scales_stride_g", c_int64),
                ("g_idx", POINTER(c_int32)), ("on_device", c_int32)]


# w4a16_parallel: how a tensor-parallel shard splits a layer.
COLUMN_PARALLEL, ROW_PARALLEL = 1, 2


class Shard(ctypes.Structure):
    """w4a16_shard: rank `rank` of `world`, split by `parallel` (w4a16_parallel)."""
    _fields_ = [("rank", c_int32), ("world", c_int32), ("parallel", c_int32)]


class LayerInfo(ctypes.Structure):
    """w4a16_layer_info."""
    _fields_ = [("name", c_char_p), ("status", c_int), ("reason", c_char_p),
                ("n", c_int64), ("k", c_int64), ("group_size", c_int64),
                ("symmetric", c_int32), ("act_order", c_int32)]


class TensorInfo(ctypes.Structure):
    """w4a16_tensor_info."""
    _fields_ = [("name", c_char_p), ("dtype", c_int), ("ndim", c_int32),
                ("shape", c_int64 * 8), ("data", c_void_p), ("nbytes", ctypes.c_uint64),
                ("layer", c_int32)]


class Unpacked(ctypes.Structure):
    """w4a16_unpacked: the quantizer's canonical result, arrays owned by the library."""
    _fields_ = [("n", c_int64), ("k", c_int64), ("group_size", c_int64), ("symmetric", c_int32),
                ("q", POINTER(c_uint8)), ("zeros", POINTER(c_uint8)),
                ("scales", POINTER(ctypes.c_float)), ("scales_dtype", c_int),
                ("g_idx", POINTER(c_int32))]


PACKED_VERSION = 1  # W4A16_PACKED_VERSION
PACK_MAX_SOURCES = 8


class Weight(ctypes.Structure):
    """w4a16_weight: a plain view of a packed weight's device buffers (never
    owns them). Fill with w4a16_weight_init, which sets struct_size."""
    _fields_ = [("struct_size", c_uint32), ("version", c_int32), ("n", c_int64), ("k", c_int64),
                ("n_padded", c_int64), ("k_padded", c_int64), ("group_size", c_int64),
                ("groups", c_int64), ("groups_padded", c_int64), ("act_dtype", c_int),
                ("scales_dtype", c_int), ("qweight", c_void_p), ("scales", c_void_p),
                ("zeros", c_void_p), ("perm", c_void_p), ("qweight_bytes", c_size_t),
                ("scales_bytes", c_size_t), ("zeros_bytes", c_size_t), ("perm_bytes", c_size_t),
                ("reserved", c_uint64 * 8)]


# The header fields of a Weight: what a packed weight is besides its buffers.
WEIGHT_HEADER = ("version", "n", "k", "n_padded", "k_padded", "group_size", "groups",
                 "groups_padded", "act_dtype", "scales_dtype")
WEIGHT_BUFFERS = ("qweight", "scales", "zeros", "perm")


class Slice(ctypes.Structure):
    """w4a16_slice: rows [n_begin, n_end) and columns [k_begin, k_end) to pack."""
    _fields_ = [("n_begin", c_int64), ("n_end", c_int64), ("k_begin", c_int64), ("k_end", c_int64)]


class PackSizes(ctypes.Structure):
    """w4a16_pack_sizes: bytes of each device buffer of a packed weight."""
    _fields_ = [("qweight_bytes", c_size_t), ("scales_bytes", c_size_t),
                ("zeros_bytes", c_size_t), ("perm_bytes", c_size_t)]


# name: (restype, argtypes). Functions returning a status use c_status.
PROTOTYPES = {
    "w4a16_status_str": (c_char_p, [c_status]),
    "w4a16_last_error": (c_char_p, []),
    "w4a16_version": (c_char_p, []),
    "w4a16_dtype_name": (c_char_p, [c_int]),
    "w4a16_format_name": (c_char_p, [c_int]),
    "w4a16_format_parse": (c_status, [c_char_p, POINTER(c_int)]),
    "w4a16_source_validate": (c_status, [POINTER(Source)]),
    "w4a16_source_shard": (c_status, [POINTER(Source), POINTER(Shard), POINTER(Source)]),
    "w4a16_checkpoint_open": (c_status, [c_char_p, c_int, POINTER(c_void_p)]),
    "w4a16_checkpoint_close": (None, [c_void_p]),
    "w4a16_checkpoint_format": (c_int, [c_void_p]),
    "w4a16_checkpoint_layer_count": (c_int64, [c_void_p]),
    "w4a16_checkpoint_layer": (c_status, [c_void_p, c_int64, POINTER(LayerInfo)]),
    "w4a16_checkpoint_find_layer": (c_status, [c_void_p, c_char_p, POINTER(c_int64)]),
    "w4a16_checkpoint_source": (c_status, [c_void_p, c_int64, POINTER(Source)]),
    "w4a16_checkpoint_tensor_count": (c_int64, [c_void_p]),
    "w4a16_checkpoint_tensor": (c_status, [c_void_p, c_int64, POINTER(TensorInfo)]),
    "w4a16_quantize": (c_status, [c_void_p, c_int, c_int64, c_int64, c_int64, c_int, c_int,
                                  POINTER(Unpacked)]),
    "w4a16_unpacked_free": (None, [POINTER(Unpacked)]),
    "w4a16_ref_gemm": (c_status, [POINTER(Source), c_void_p, c_int, c_int64, POINTER(c_int64),
                                  c_int64, c_void_p, POINTER(c_double)]),
    "w4a16_device_count": (c_status, [POINTER(c_int)]),
    "w4a16_ctx_create": (c_status, [c_int, c_size_t, POINTER(c_void_p)]),
    "w4a16_ctx_create_with_workspace": (c_status, [c_int, c_void_p, c_size_t, POINTER(c_void_p)]),
    "w4a16_ctx_set_workspace": (c_status, [c_void_p, c_void_p, c_size_t]),
    "w4a16_ctx_set_kernel": (c_status, [c_void_p, c_char_p]),
    "w4a16_ctx_set_batch_invariant": (c_status, [c_void_p, c_int]),
    "w4a16_ctx_destroy": (None, [c_void_p]),
    "w4a16_weight_init": (None, [POINTER(Weight)]),
    "w4a16_pack_size": (c_status, [POINTER(Source), c_int, POINTER(Slice), POINTER(PackSizes)]),
    "w4a16_pack": (c_status, [c_void_p, POINTER(Source), c_int, POINTER(Slice), c_int,
                              POINTER(Weight), POINTER(c_void_p), c_void_p]),
    "w4a16_buffers_free": (None, [c_void_p]),
    "w4a16_gemm": (c_status, [c_void_p, POINTER(Weight), c_void_p, c_int64, c_void_p, c_int64,
                              c_int64, c_void_p, c_void_p]),
    "w4a16_workspace_size": (c_status, [c_void_p, POINTER(Weight), c_int64, POINTER(c_size_t)]),
    "w4a16_gemm_kernel_name": (c_char_p, [c_void_p, POINTER(Weight), c_int64]),
}

def declare(lib):
    """Sets restype and argtypes on every function in PROTOTYPES; returns lib."""
    for name, (restype, argtypes) in PROTOTYPES.items():
        function = getattr(lib, name)
        function.restype = restype
        function.argtypes = argtypes
    return lib
