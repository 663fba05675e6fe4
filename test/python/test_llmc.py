"""The llmc Python package, installed by pip into a fresh virtual environment
(run_python_test.sh), against what the C tools say about the same plan.

Environment: LLMC_TEST_PLAN (a plan of test/models/qwen3-f32 for the CPU),
LLMC_TEST_GREEDY and LLMC_TEST_SAMPLED (the tokens `llmc run` generates for
prompt 1,2,3,4,5: greedy, and --temperature 0.8 --top-k 40 --top-p 0.9
--seed 7), LLMC_TEST_LOGITS (`llmc run --logits-out` of the greedy run),
LLMC_TEST_HEADER (runtime/include/llmc/llmc.h).
"""

import ctypes
import os
import re
import unittest

import numpy as np

import llmc
from llmc import _capi

PROMPT = [1, 2, 3, 4, 5]
NEW = 8


def read(path, mode="r"):
    with open(path, mode) as f:
        return f.read()


def tokens_of(variable):
    return [int(t) for t in os.environ[variable].split(",")]


class Package(unittest.TestCase):
    def test_versions_agree_with_the_header(self):
        header = read(os.environ["LLMC_TEST_HEADER"])
        version = re.search(r'#define LLMC_VERSION_STRING "([^"]+)"',
                            header).group(1)
        abi = int(re.search(r"#define LLMC_ABI_VERSION (\d+)", header).group(1))
        self.assertEqual(llmc.__version__, version)
        self.assertEqual(llmc.runtime_version(), version)
        self.assertEqual(llmc.ABI_VERSION, abi)
        self.assertTrue(_capi.library_path.endswith("libllmc.so.%d" % abi))
        # Installed inside the package, not found elsewhere.
        self.assertEqual(os.path.dirname(_capi.library_path),
                         os.path.dirname(os.path.abspath(llmc.__file__)))
        self.assertEqual(llmc.plan_format_version()[0], 1)

    def test_structs_have_the_header_layout(self):
        header = read(os.environ["LLMC_TEST_HEADER"])

        def min_size(name):
            return int(re.search(r"#define %s (\d+)" % name, header).group(1))

        self.assertEqual(ctypes.sizeof(_capi.PlanOpenOptions),
                         min_size("LLMC_PLAN_OPEN_OPTIONS_MIN_SIZE"))
        self.assertEqual(ctypes.sizeof(_capi.SessionOptions),
                         min_size("LLMC_SESSION_OPTIONS_MIN_SIZE"))
        self.assertEqual(ctypes.sizeof(_capi.Sampling),
                         min_size("LLMC_SAMPLING_MIN_SIZE"))
        self.assertEqual(ctypes.sizeof(_capi.SessionStats),
                         min_size("LLMC_SESSION_STATS_MIN_SIZE"))
        self.assertEqual(llmc.PLAN_ALIGNMENT, min_size("LLMC_PLAN_ALIGNMENT"))


class Generation(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.path = os.environ["LLMC_TEST_PLAN"]
        cls.plan = llmc.Plan(cls.path)

    def session(self, **options):
        options.setdefault("num_threads", 1)
        return self.plan.session(**options)

    def test_plan_info(self):
        info = self.plan.info
        self.assertEqual(info.model_type, "qwen3")
        self.assertEqual(info.vocab_size, 512)
        self.assertGreater(info.weight_bytes, 0)
        self.assertGreater(info.kv_bytes_per_sequence, 0)

    def test_greedy_tokens_are_llmc_runs(self):
        with self.session() as s:
            got = list(s.generate(PROMPT, max_new_tokens=NEW))
            self.assertEqual(got, tokens_of("LLMC_TEST_GREEDY"))
            self.assertEqual(s.sequence_length(0), len(PROMPT) + NEW - 1)
            stats = s.stats
            self.assertEqual(stats["prefill_tokens"], len(PROMPT))
            self.assertEqual(stats["decode_steps"], NEW - 1)
            self.assertEqual(stats["kv_tokens"], len(PROMPT) + NEW - 1)
            self.assertEqual(stats["kv_bytes"], s.kv_bytes)
        with self.session() as s:
            first = s.prefill_greedy(PROMPT)
            second = s.decode_greedy([first], seqs=[0])
            self.assertEqual([first] + second, tokens_of("LLMC_TEST_GREEDY")[:2])

    def test_sampled_tokens_are_llmc_runs(self):
        with self.session() as s:
            got = list(s.generate(PROMPT, max_new_tokens=NEW, temperature=0.8,
                                  top_k=40, top_p=0.9, seed=7))
        self.assertEqual(got, tokens_of("LLMC_TEST_SAMPLED"))

    def test_logits_are_llmc_runs(self):
        want = np.load(os.environ["LLMC_TEST_LOGITS"])
        greedy = tokens_of("LLMC_TEST_GREEDY")
        self.assertEqual(want.shape, (len(PROMPT) + NEW, 512))
        with self.session() as s:
            rows = [s.prefill(PROMPT, all_logits=True)]
            for token in greedy:
                rows.append(s.decode([token], seqs=[0]))
        got = np.concatenate(rows)
        self.assertEqual(got.dtype, np.float32)
        np.testing.assert_array_equal(got, want)

    def test_a_batch_is_its_sequences_alone(self):
        with self.session(max_batch=2) as s:
            a = s.prefill([1, 2, 3])
            b = s.prefill([7, 8], seq=1)
            both = s.decode([int(a.argmax()), int(b.argmax())], seqs=[0, 1])
        with self.session() as s:
            s.prefill([7, 8])
            alone = s.decode([int(b.argmax())], seqs=[0])
        np.testing.assert_array_equal(both[1], alone[0])

    def test_plans_from_memory(self):
        data = read(self.path, "rb")
        want = tokens_of("LLMC_TEST_GREEDY")
        # bytes are not aligned for use in place: the runtime copies them.
        copied = llmc.Plan(data)
        self.assertIsNone(copied._buffer)
        with copied.session(num_threads=1) as s:
            self.assertEqual(list(s.generate(PROMPT, NEW)), want)
        # An aligned buffer is read in place, kept alive by the plan.
        raw = np.zeros(len(data) + llmc.PLAN_ALIGNMENT, dtype=np.uint8)
        start = -raw.ctypes.data % llmc.PLAN_ALIGNMENT
        aligned = raw[start:start + len(data)]
        aligned[:] = np.frombuffer(data, dtype=np.uint8)
        in_place = llmc.Plan(memoryview(aligned))
        self.assertIsNotNone(in_place._buffer)
        del raw, aligned
        session = in_place.session(num_threads=1)
        in_place.close()  # the session keeps the plan and its buffer
        self.assertEqual(list(session.generate(PROMPT, NEW)), want)
        session.close()

    def test_kv_operations(self):
        with self.session(max_batch=2) as s:
            full = s.prefill(PROMPT, all_logits=True)
            s.truncate(0, 3)
            self.assertEqual(s.sequence_length(0), 3)
            again = s.prefill(PROMPT[3:], all_logits=True)
            np.testing.assert_array_equal(again, full[3:])
            s.copy_sequence(1, 0, 4)
            self.assertEqual(s.sequence_length(1), 4)
            np.testing.assert_array_equal(s.prefill([PROMPT[4]], seq=1),
                                          full[4])
            s.reset(0)
            self.assertEqual(s.sequence_length(0), 0)
            with self.assertRaises(llmc.Error) as caught:
                s.truncate(1, 99)
            self.assertEqual(caught.exception.status,
                             "LLMC_ERROR_INVALID_ARGUMENT")
            self.assertEqual(s.sequence_length(1), 5)

    def test_abort_stops_and_leaves_the_session_usable(self):
        with self.session() as s:
            s.set_abort(lambda: True)
            with self.assertRaises(llmc.Error) as caught:
                s.prefill(PROMPT)
            self.assertEqual(caught.exception.status, "LLMC_ERROR_ABORTED")
            self.assertEqual(s.sequence_length(0), 0)
            s.set_abort(lambda: 1 / 0)  # an exception also stops it
            with self.assertRaises(llmc.Error):
                s.prefill(PROMPT)
            s.set_abort(None)
            self.assertEqual(list(s.generate(PROMPT, NEW)),
                             tokens_of("LLMC_TEST_GREEDY"))

    def test_log_callback(self):
        messages = []
        llmc.set_log_callback(lambda level, text: messages.append((level, text)),
                              "info")
        try:
            self.session().close()
        finally:
            llmc.set_log_callback(None)
        self.assertTrue(any(level == "info" and "session on the CPU backend"
                            in text for level, text in messages), messages)
        count = len(messages)
        self.session().close()
        self.assertEqual(len(messages), count)

    def test_sample(self):
        logits = np.array([0.0, 3.0, 1.0, 3.0], dtype=np.float32)
        self.assertEqual(llmc.sample(logits), 1)  # lowest id among maxima
        rng = ctypes.c_uint64(5)
        draws = [llmc.sample(logits, temperature=1.0, rng=rng) for _ in range(4)]
        rng = ctypes.c_uint64(5)
        self.assertEqual(draws, [llmc.sample(logits, temperature=1.0, rng=rng)
                                 for _ in range(4)])
        with self.assertRaises(llmc.Error):
            llmc.sample(logits, top_p=0.0)


class BadInput(unittest.TestCase):
    def test_a_missing_file(self):
        with self.assertRaises(llmc.Error) as caught:
            llmc.Plan("/nonexistent/model.plan")
        self.assertEqual(caught.exception.status, "LLMC_ERROR_IO")
        self.assertIn("/nonexistent/model.plan", str(caught.exception))

    def test_truncated_bytes(self):
        data = read(os.environ["LLMC_TEST_PLAN"], "rb")
        for size in (0, 16, len(data) // 2, len(data) - 1):
            with self.assertRaises(llmc.Error) as caught:
                llmc.Plan(data[:size])
            self.assertEqual(caught.exception.status, "LLMC_ERROR_INVALID_PLAN",
                             "%d bytes: %s" % (size, caught.exception))

    def test_bad_options(self):
        plan = llmc.Plan(os.environ["LLMC_TEST_PLAN"])
        with self.assertRaises(ValueError):
            plan.session(backend="tpu")
        with self.assertRaises(llmc.Error) as caught:
            plan.session(max_batch=0)
        self.assertEqual(caught.exception.status, "LLMC_ERROR_INVALID_ARGUMENT")
        with self.assertRaises(ValueError):
            llmc.Plan(os.environ["LLMC_TEST_PLAN"], verify_key=b"short")
        s = plan.session(num_threads=1)
        with self.assertRaises(llmc.Error) as caught:
            s.prefill([1, 2, 100000])
        self.assertEqual(caught.exception.status, "LLMC_ERROR_INVALID_ARGUMENT")
        with self.assertRaises(llmc.Error) as caught:
            s.decode([1], seqs=[3])
        self.assertEqual(caught.exception.status, "LLMC_ERROR_INVALID_ARGUMENT")
        s.close()
        with self.assertRaises(ValueError):
            s.prefill([1])

    def test_the_cuda_backend_without_a_device(self):
        if os.path.exists("/dev/nvidia0"):
            self.skipTest("a GPU is here")
        plan = llmc.Plan(os.environ["LLMC_TEST_PLAN"])
        with self.assertRaises(llmc.Error) as caught:
            plan.session(backend="cuda")
        self.assertIn(caught.exception.status,
                      ("LLMC_ERROR_NO_DEVICE", "LLMC_ERROR_UNSUPPORTED"))


if __name__ == "__main__":
    unittest.main()
