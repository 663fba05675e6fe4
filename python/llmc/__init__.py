"""llmc: run plans compiled by `llmc compile` from Python.

A thin layer over the runtime's C ABI (libllmc.so, through ctypes: one wheel
for every Python 3, and the very ABI products link):

    import llmc
    plan = llmc.Plan("model.plan")            # or Plan(bytes), Plan(memoryview)
    with plan.session(num_threads=4) as s:
        logits = s.prefill([1, 2, 3])         # numpy float32 [vocab], written in place
        tokens = s.generate([1, 2, 3], max_new_tokens=16, temperature=0.7, seed=1)

Logits are numpy arrays the runtime writes directly (no copy). Every failing
call raises llmc.Error with the runtime's status and message.
"""

import os

import numpy as np

from . import _build, _capi
from ._capi import lib

__version__ = _build.VERSION
ABI_VERSION = _build.ABI_VERSION
PLAN_ALIGNMENT = _capi.PLAN_ALIGNMENT

__all__ = ["Error", "Plan", "PlanInfo", "Session", "sample",
           "set_log_callback", "runtime_version", "plan_format_version"]


class Error(Exception):
    """A failed runtime call: `status` is the C status name
    ("LLMC_ERROR_CAPACITY"), `code` its value, str() the runtime's message."""

    def __init__(self, code, message):
        self.code = code
        self.status = _capi.STATUS_NAMES.get(code, "LLMC_ERROR_%d" % code)
        super().__init__("%s: %s" % (self.status, message))


def _check(code):
    if code != 0:
        raise Error(code, lib.llmc_last_error().decode("utf-8", "replace"))


def runtime_version():
    """The version of the loaded libllmc ("0.4.0")."""
    return lib.llmc_version().decode()


def plan_format_version():
    """(major, minor) of the plan format the runtime reads."""
    major, minor = _capi.c_uint32(), _capi.c_uint32()
    lib.llmc_plan_format_version(major, minor)
    return major.value, minor.value


_log_callback = None  # the ctypes callback: kept alive while it is set


def set_log_callback(fn, level="warning"):
    """Calls fn(level_name, message) for each runtime message of `level`
    ("debug", "info", "warning") and above; fn None stops it."""
    global _log_callback
    if level not in _capi.LOG_LEVELS:
        raise ValueError("level: one of %s, not %r"
                         % (", ".join(_capi.LOG_LEVELS), level))
    if fn is None:
        lib.llmc_set_log_callback(_capi.LOG_FN(), 0, None)
        _log_callback = None
        return
    names = {v: k for k, v in _capi.LOG_LEVELS.items()}

    def trampoline(lvl, message, _user):
        try:
            fn(names.get(lvl, str(lvl)), message.decode("utf-8", "replace"))
        except Exception:  # an exception cannot cross into C
            pass

    callback = _capi.LOG_FN(trampoline)
    lib.llmc_set_log_callback(callback, _capi.LOG_LEVELS[level], None)
    _log_callback = callback


class PlanInfo:
    """What llmc_plan_get_info says about a plan."""

    def __init__(self, raw):
        self.model_type = raw.model_type.decode()
        self.vocab_size = raw.vocab_size
        self.hidden_size = raw.hidden_size
        self.num_layers = raw.num_layers
        self.max_seq_len = raw.max_seq_len
        self.max_tokens = raw.max_tokens
        self.arena_bytes = raw.arena_bytes
        self.weight_bytes = raw.weight_bytes
        self.kv_bytes_per_sequence = raw.kv_bytes_per_sequence

    def __repr__(self):
        return "PlanInfo(%s)" % ", ".join(
            "%s=%r" % kv for kv in vars(self).items())


class _Owned:
    """A runtime object this wrapper owns: freed by close(), `with` or
    garbage collection, whichever comes first."""

    _handle = None

    def _free(self, handle):
        raise NotImplementedError

    def close(self):
        if self._handle is not None and self._handle.value:
            self._free(self._handle)
        self._handle = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        self.close()


class Plan(_Owned):
    """An opened and verified plan.

    `source` is a path (str or os.PathLike) or a buffer holding a plan's
    bytes (bytes, bytearray, memoryview, a numpy uint8 array). A buffer
    aligned to PLAN_ALIGNMENT is used in place, without a copy (the plan
    keeps a reference to it; do not change its contents while the plan or a
    session of it lives); any other buffer is copied by the runtime.
    `verify_key`: 32 bytes of an Ed25519 public key; the plan must then be
    signed by its secret key. `read_into_memory`: for a path, read the file
    instead of mapping it.
    """

    def __init__(self, source, verify_key=None, read_into_memory=False):
        self._buffer = None
        options = _capi.PlanOpenOptions()
        options.struct_size = _capi.ctypes.sizeof(options)
        if verify_key is not None:
            key = bytes(verify_key)
            if len(key) != 32:
                raise ValueError("verify_key: 32 bytes, not %d" % len(key))
            self._key = (_capi.ctypes.c_uint8 * 32).from_buffer_copy(key)
            options.verify_key = self._key
        handle = _capi.c_void_p()
        if isinstance(source, (str, os.PathLike)):
            options.read_into_memory = 1 if read_into_memory else 0
            _check(lib.llmc_plan_open_ex(os.fsencode(source), options, handle))
            self.source = os.fspath(source)
        else:
            array = np.frombuffer(source, dtype=np.uint8)
            address = array.ctypes.data
            in_place = address % PLAN_ALIGNMENT == 0
            options.read_into_memory = 0 if in_place else 1
            _check(lib.llmc_plan_open_memory(
                _capi.c_void_p(address), array.nbytes, options, handle))
            if in_place:
                self._buffer = array  # the plan reads it until close
            self.source = "plan in memory"
        self._handle = handle
        raw = _capi.PlanInfo()
        _check(lib.llmc_plan_get_info(self._handle, raw))
        self.info = PlanInfo(raw)

    def session(self, **options):
        """A Session of this plan; see Session for the options."""
        return Session(self, **options)

    def _free(self, handle):
        # Sessions still open keep the plan alive until they close.
        lib.llmc_plan_close(handle)

    def __repr__(self):
        return "llmc.Plan(%r, %s, vocab %d)" % (
            self.source, self.info.model_type, self.info.vocab_size)


def _tokens(values, what):
    array = np.ascontiguousarray(values, dtype=np.int32)
    if array.ndim != 1:
        raise ValueError("%s: a sequence of token ids" % what)
    return array


def _i32p(array):
    return array.ctypes.data_as(_capi._I32P)


def _f32p(array):
    return array.ctypes.data_as(_capi._F32P) if array is not None else None


class Session(_Owned):
    """Sequences (KV caches) of one plan on one backend.

    backend: "cpu" or "cuda"; max_batch: sequences held at once (0 ..
    max_batch-1); max_seq_len: 0 for the plan's; num_threads: CPU workers (0:
    one per core); cuda_device: the device ordinal; kv_cache_tokens: the
    most tokens the sequences' KV pages hold together (0: no limit).
    """

    def __init__(self, plan, backend="cpu", max_batch=1, max_seq_len=0,
                 num_threads=0, cuda_device=0, kv_cache_tokens=0):
        if backend not in _capi.BACKENDS:
            raise ValueError("backend: cpu or cuda, not %r" % (backend,))
        if plan._handle is None:
            raise ValueError("the plan is closed")
        options = _capi.SessionOptions()
        options.struct_size = _capi.ctypes.sizeof(options)
        options.backend = _capi.BACKENDS[backend]
        options.max_batch = max_batch
        options.max_seq_len = max_seq_len
        options.num_threads = num_threads
        options.cuda_device = cuda_device
        options.kv_cache_tokens = kv_cache_tokens
        handle = _capi.c_void_p()
        _check(lib.llmc_session_create(plan._handle, options, handle))
        self._handle = handle
        self.plan = plan  # the plan (and its buffer) outlive the session
        self.vocab_size = plan.info.vocab_size
        self._abort = None

    def _free(self, handle):
        lib.llmc_session_destroy(handle)

    def _live(self):
        if self._handle is None:
            raise ValueError("the session is closed")
        return self._handle

    def prefill(self, tokens, seq=0, all_logits=False):
        """Appends `tokens` to sequence `seq`; returns the last token's
        logits (float32 [vocab]), or every token's ([n, vocab]) with
        all_logits."""
        t = _tokens(tokens, "tokens")
        if all_logits:
            out = np.empty((len(t), self.vocab_size), dtype=np.float32)
            _check(lib.llmc_prefill(self._live(), seq, _i32p(t), len(t),
                                    _f32p(out), None))
        else:
            out = np.empty(self.vocab_size, dtype=np.float32)
            _check(lib.llmc_prefill(self._live(), seq, _i32p(t), len(t),
                                    None, _f32p(out)))
        return out

    def prefill_greedy(self, tokens, seq=0):
        """Appends `tokens` to `seq`; returns the greedy next token."""
        t = _tokens(tokens, "tokens")
        out = _capi.c_int32()
        _check(lib.llmc_prefill_greedy(self._live(), seq, _i32p(t), len(t),
                                       _capi.ctypes.byref(out)))
        return out.value

    def _batch(self, tokens, seqs):
        t = _tokens(tokens, "tokens")
        s = _tokens(range(len(t)) if seqs is None else seqs, "seqs")
        if len(s) != len(t):
            raise ValueError("seqs and tokens: %d and %d entries"
                             % (len(s), len(t)))
        return t, s

    def decode(self, tokens, seqs=None):
        """One step: appends tokens[i] to sequence seqs[i] (default: 0 ..
        n-1); returns their logits, float32 [n, vocab]."""
        t, s = self._batch(tokens, seqs)
        out = np.empty((len(t), self.vocab_size), dtype=np.float32)
        _check(lib.llmc_decode(self._live(), len(t), _i32p(s), _i32p(t),
                               _f32p(out)))
        return out

    def decode_greedy(self, tokens, seqs=None):
        """decode, returning each sequence's greedy next token."""
        t, s = self._batch(tokens, seqs)
        out = np.empty(len(t), dtype=np.int32)
        _check(lib.llmc_decode_greedy(self._live(), len(t), _i32p(s),
                                      _i32p(t), _i32p(out)))
        return [int(v) for v in out]

    def generate(self, prompt, max_new_tokens=16, seq=0, temperature=0.0,
                 top_k=0, top_p=1.0, seed=0, stop_tokens=()):
        """Yields up to max_new_tokens tokens after `prompt` (appended to
        sequence `seq`), sampled as `llmc run` samples them (the same seed
        gives the same tokens); stops after a token of stop_tokens."""
        stop = set(int(t) for t in stop_tokens)
        rng = _capi.c_uint64(seed)
        logits = self.prefill(prompt, seq=seq)
        seqs = np.array([seq], dtype=np.int32)
        for k in range(max_new_tokens):
            token = sample(logits, temperature, top_k, top_p, rng)
            yield token
            if token in stop or k + 1 == max_new_tokens:
                return
            step = np.array([token], dtype=np.int32)
            logits = self.decode(step, seqs)[0]

    def sequence_length(self, seq=0):
        out = _capi.c_int32()
        _check(lib.llmc_sequence_length(self._live(), seq,
                                        _capi.ctypes.byref(out)))
        return out.value

    def reset(self, seq=0):
        """Forgets sequence `seq`."""
        _check(lib.llmc_reset(self._live(), seq))

    def truncate(self, seq, n):
        """Keeps the first n tokens of sequence `seq`."""
        _check(lib.llmc_sequence_truncate(self._live(), seq, n))

    def copy_sequence(self, dst, src, n):
        """Makes sequence `dst` hold the first n tokens of `src`."""
        _check(lib.llmc_sequence_copy(self._live(), dst, src, n))

    def set_abort(self, fn):
        """fn() is called between prefill chunks and before decode steps; a
        true result stops the call with Error LLMC_ERROR_ABORTED. None
        clears it."""
        if fn is None:
            _check(lib.llmc_session_set_abort(self._live(), _capi.ABORT_FN(),
                                              None))
            self._abort = None
            return

        def trampoline(_user):
            try:
                return 1 if fn() else 0
            except Exception:  # an exception cannot cross into C: stop
                return 1

        callback = _capi.ABORT_FN(trampoline)
        _check(lib.llmc_session_set_abort(self._live(), callback, None))
        self._abort = callback

    @property
    def stats(self):
        """Tokens, steps, wall times and KV memory, as a dict."""
        raw = _capi.SessionStats()
        raw.struct_size = _capi.ctypes.sizeof(raw)
        _check(lib.llmc_session_get_stats(self._live(), raw))
        return {name: getattr(raw, name) for name, _ in raw._fields_
                if name not in ("struct_size", "reserved")}

    @property
    def kv_bytes(self):
        out = _capi.c_uint64()
        _check(lib.llmc_session_kv_bytes(self._live(), _capi.ctypes.byref(out)))
        return out.value


def sample(logits, temperature=0.0, top_k=0, top_p=1.0, rng=None):
    """A token drawn from `logits` (float32 [vocab]) as llmc_sample draws it.
    `rng` is a ctypes.c_uint64 state advanced in place (or an int seed for
    one draw); greedy needs none."""
    row = np.ascontiguousarray(logits, dtype=np.float32)
    if row.ndim != 1:
        raise ValueError("logits: one row of [vocab] floats")
    sampling = _capi.Sampling()
    sampling.struct_size = _capi.ctypes.sizeof(sampling)
    sampling.temperature = temperature
    sampling.top_k = top_k
    sampling.top_p = top_p
    if rng is None:
        rng = _capi.c_uint64(0)
    elif isinstance(rng, int):
        rng = _capi.c_uint64(rng)
    out = _capi.c_int32()
    _check(lib.llmc_sample(_f32p(row), len(row), sampling,
                           _capi.ctypes.byref(rng), _capi.ctypes.byref(out)))
    return out.value
