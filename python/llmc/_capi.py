"""The C ABI of libllmc (runtime/include/llmc/llmc.h), declared for ctypes.

Every struct here mirrors the header's layout field for field; the package's
test checks their sizes against the header's LLMC_*_MIN_SIZE values. The
library is the libllmc.so.<ABI> installed next to this file (or the one
$LLMC_LIBRARY names), and it must be the version this package was built
with: a 0.x minor version may change the API.
"""

import ctypes
import os

from . import _build

c_int32 = ctypes.c_int32
c_int64 = ctypes.c_int64
c_uint32 = ctypes.c_uint32
c_uint64 = ctypes.c_uint64
c_float = ctypes.c_float
c_double = ctypes.c_double
c_size_t = ctypes.c_size_t
c_void_p = ctypes.c_void_p
c_char_p = ctypes.c_char_p

STATUS_NAMES = {
    0: "LLMC_OK",
    1: "LLMC_ERROR_INVALID_ARGUMENT",
    2: "LLMC_ERROR_IO",
    3: "LLMC_ERROR_INVALID_PLAN",
    4: "LLMC_ERROR_UNSUPPORTED",
    5: "LLMC_ERROR_OUT_OF_MEMORY",
    6: "LLMC_ERROR_CAPACITY",
    7: "LLMC_ERROR_NO_DEVICE",
    8: "LLMC_ERROR_INTERNAL",
    9: "LLMC_ERROR_ABORTED",
}
BACKENDS = {"cpu": 0, "cuda": 1}
LOG_LEVELS = {"debug": 0, "info": 1, "warning": 2}
PLAN_ALIGNMENT = 4096


class PlanOpenOptions(ctypes.Structure):
    _fields_ = [
        ("struct_size", c_uint32),
        ("verify_key", ctypes.POINTER(ctypes.c_uint8)),
        ("read_into_memory", c_int32),
    ]


class PlanInfo(ctypes.Structure):
    _fields_ = [
        ("model_type", c_char_p),
        ("vocab_size", c_int64),
        ("hidden_size", c_int64),
        ("num_layers", c_int64),
        ("max_seq_len", c_int64),
        ("max_tokens", c_int64),
        ("arena_bytes", c_uint64),
        ("weight_bytes", c_uint64),
        ("kv_bytes_per_sequence", c_uint64),
    ]


class SessionOptions(ctypes.Structure):
    _fields_ = [
        ("struct_size", c_uint32),
        ("backend", ctypes.c_int),
        ("max_batch", c_int32),
        ("max_seq_len", c_int32),
        ("num_threads", c_int32),
        ("cuda_device", c_int32),
        ("kv_cache_tokens", c_int64),
    ]


class SessionStats(ctypes.Structure):
    _fields_ = [
        ("struct_size", c_uint32),
        ("reserved", c_uint32),
        ("prefill_tokens", c_uint64),
        ("prefill_seconds", c_double),
        ("decode_steps", c_uint64),
        ("decode_tokens", c_uint64),
        ("decode_seconds", c_double),
        ("kv_bytes", c_uint64),
        ("kv_tokens", c_uint64),
    ]


class Sampling(ctypes.Structure):
    _fields_ = [
        ("struct_size", c_uint32),
        ("temperature", c_float),
        ("top_k", c_int32),
        ("top_p", c_float),
    ]


LOG_FN = ctypes.CFUNCTYPE(None, ctypes.c_int, c_char_p, c_void_p)
ABORT_FN = ctypes.CFUNCTYPE(c_int32, c_void_p)

_P = ctypes.POINTER
_PLAN = c_void_p
_SESSION = c_void_p
_I32P = _P(c_int32)
_F32P = _P(c_float)

# name: (result type, argument types)
_PROTOTYPES = {
    "llmc_status_string": (c_char_p, [ctypes.c_int]),
    "llmc_last_error": (c_char_p, []),
    "llmc_version": (c_char_p, []),
    "llmc_plan_format_version": (None, [_P(c_uint32), _P(c_uint32)]),
    "llmc_set_log_callback": (None, [LOG_FN, ctypes.c_int, c_void_p]),
    "llmc_plan_open_ex": (ctypes.c_int, [c_char_p, _P(PlanOpenOptions), _P(_PLAN)]),
    "llmc_plan_open_memory": (
        ctypes.c_int, [c_void_p, c_size_t, _P(PlanOpenOptions), _P(_PLAN)]),
    "llmc_plan_close": (None, [_PLAN]),
    "llmc_plan_get_info": (ctypes.c_int, [_PLAN, _P(PlanInfo)]),
    "llmc_session_create": (
        ctypes.c_int, [_PLAN, _P(SessionOptions), _P(_SESSION)]),
    "llmc_session_destroy": (None, [_SESSION]),
    "llmc_prefill": (
        ctypes.c_int, [_SESSION, c_int32, _I32P, c_int32, _F32P, _F32P]),
    "llmc_decode": (ctypes.c_int, [_SESSION, c_int32, _I32P, _I32P, _F32P]),
    "llmc_prefill_greedy": (
        ctypes.c_int, [_SESSION, c_int32, _I32P, c_int32, _I32P]),
    "llmc_decode_greedy": (
        ctypes.c_int, [_SESSION, c_int32, _I32P, _I32P, _I32P]),
    "llmc_sequence_length": (ctypes.c_int, [_SESSION, c_int32, _I32P]),
    "llmc_reset": (ctypes.c_int, [_SESSION, c_int32]),
    "llmc_sequence_truncate": (ctypes.c_int, [_SESSION, c_int32, c_int32]),
    "llmc_sequence_copy": (
        ctypes.c_int, [_SESSION, c_int32, c_int32, c_int32]),
    "llmc_session_set_abort": (ctypes.c_int, [_SESSION, ABORT_FN, c_void_p]),
    "llmc_session_get_stats": (ctypes.c_int, [_SESSION, _P(SessionStats)]),
    "llmc_session_kv_bytes": (ctypes.c_int, [_SESSION, _P(c_uint64)]),
    "llmc_sample": (
        ctypes.c_int, [_F32P, c_int64, _P(Sampling), _P(c_uint64), _I32P]),
}


def _library_path():
    override = os.environ.get("LLMC_LIBRARY")
    if override:
        return override
    return os.path.join(os.path.dirname(os.path.abspath(__file__)),
                        "libllmc.so.%d" % _build.ABI_VERSION)


def _load():
    path = _library_path()
    try:
        lib = ctypes.CDLL(path)
    except OSError as error:
        raise ImportError("llmc: cannot load the runtime library %s (%s)"
                          % (path, error)) from None
    for name, (restype, argtypes) in _PROTOTYPES.items():
        try:
            fn = getattr(lib, name)
        except AttributeError:
            raise ImportError("llmc: %s lacks %s: not the runtime this "
                              "package was built for (%s)"
                              % (path, name, _build.VERSION)) from None
        fn.restype = restype
        fn.argtypes = argtypes
    have = lib.llmc_version().decode()
    if have.split(".")[:2] != _build.VERSION.split(".")[:2]:
        raise ImportError("llmc: %s is runtime %s, this package was built "
                          "for %s" % (path, have, _build.VERSION))
    return lib, path


lib, library_path = _load()
