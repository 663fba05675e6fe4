#!/usr/bin/env python3
"""Hugging Face transformers baseline for `llmc bench`: prefill and decode speed
of a config.json with random bf16 weights on one CUDA GPU, in PyTorch eager
mode and with torch.compile over a static KV cache. Prints JSON.

    hf_bench.py examples/qwen3-0.6b [--modes eager,compile] [--prompt-lengths 128,512]
                [--batch 1,4] [--decode-steps 32] [--context 16] [--repeats 3]
                [--warmup 2] [--compile-mode reduce-overhead] [-o out.json]
    hf_bench.py --copy-bandwidth       # only: device-to-device copy GB/s

What is timed (CUDA events, torch.cuda.synchronize() before each call; the
median of --repeats calls after --warmup untimed ones):

* prefill at prompt length P: `model.generate(P tokens, max_new_tokens=1)`,
  from the call to the first logits (a LogitsProcessor records a CUDA event
  at every step), i.e. the time to first token, host work included;
* decode at batch b: `model.generate(b x --context tokens, max_new_tokens=
  --decode-steps + 1)`, greedy; ms/step = (event at the last step - event at
  the first) / --decode-steps: the whole generate loop per token, as a
  transformers user gets it.

Modes:
* eager: the model as built, its default attention (sdpa) and DynamicCache;
* compile: as transformers' "Optimizing inference" guide documents it,
  `generation_config.cache_implementation = "static"` and
  `model.forward = torch.compile(model.forward, mode=<--compile-mode>,
  fullgraph=True)` (mode "reduce-overhead", CUDA graphs, by default;
  "max-autotune-no-cudagraphs" is the other common choice); dynamic=False,
  and generate's own automatic compilation turned off (disable_compile) so
  that this one torch.compile is in effect. Compilation happens in the
  warm-up calls, whose time is reported apart (compile_warmup_seconds).

Random weights are transformers' own initialisation (from_config); EOS is
disabled so that every call generates exactly the tokens asked for. Field
names follow `llmc bench --json` (prefill: tokens, seconds, tokens_per_s;
decode: batch, steps, ms_per_step, tokens_per_s, weight_gbs at batch 1).

Exit status: 0 done; 1 no CUDA device ("hf_bench: no CUDA device ...") or a
failed measurement; 3 PyTorch or transformers cannot be imported.
"""

import argparse
import json
import os
import platform
import statistics
import sys
import time


def die(msg, code=1):
    print(f"hf_bench: {msg}", file=sys.stderr)
    sys.exit(code)


def int_list(text):
    try:
        values = [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected n,n,...: {text!r}")
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError(f"expected positive integers: {text!r}")
    return values


def parse_args():
    ap = argparse.ArgumentParser(
        description="transformers eager / torch.compile baseline for llmc bench",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=__doc__.split("\n\n", 1)[1])
    ap.add_argument("config", nargs="?",
                    help="model directory holding config.json, or the file")
    ap.add_argument("--modes", default="eager,compile",
                    help="comma-separated: eager, compile (default both)")
    ap.add_argument("--prompt-lengths", type=int_list, default=[128, 512])
    ap.add_argument("--batch", type=int_list, default=[1])
    ap.add_argument("--decode-steps", type=int, default=32)
    ap.add_argument("--context", type=int, default=16,
                    help="prompt tokens per sequence before decoding (16, as "
                         "llmc bench)")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--warmup", type=int, default=2,
                    help="untimed calls per shape (compile: at least 3)")
    ap.add_argument("--compile-mode", default="reduce-overhead",
                    help="torch.compile mode for --modes compile")
    ap.add_argument("--attn-implementation", default=None,
                    help="transformers attn_implementation (default: its own, sdpa)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--copy-bandwidth", action="store_true",
                    help="also measure device-to-device copy bandwidth; "
                         "without a config, only that")
    ap.add_argument("-o", "--output", help="also write the JSON here")
    args = ap.parse_args()
    args.modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    for m in args.modes:
        if m not in ("eager", "compile"):
            ap.error(f"--modes: unknown mode {m!r} (eager, compile)")
    if args.config is None and not args.copy_bandwidth:
        ap.error("a config (model directory or config.json) is required")
    if args.decode_steps < 1 or args.context < 1 or args.repeats < 1 or args.warmup < 0:
        ap.error("--decode-steps, --context, --repeats must be >= 1, --warmup >= 0")
    return args


def import_torch():
    try:
        import torch  # noqa: F401
    except Exception as e:  # ImportError, or a broken install
        die(f"PyTorch is not importable ({type(e).__name__}: {e})", 3)
    import torch
    if not torch.cuda.is_available():
        reason = "torch.cuda.is_available() is False"
        if torch.version.cuda is None:
            reason += f"; this PyTorch ({torch.__version__}) is built without CUDA"
        else:
            try:
                reason += f"; {torch.cuda.device_count()} device(s) visible"
            except Exception as e:
                reason += f"; {e}"
        die(f"no CUDA device ({reason})", 1)
    return torch


def copy_bandwidth(torch, nbytes=2 << 30, iters=20):
    """Device-to-device copy, bytes read + written per second, in GB/s."""
    src = torch.empty(nbytes, dtype=torch.uint8, device="cuda")
    src.random_(0, 255)
    dst = torch.empty_like(src)
    for _ in range(3):
        dst.copy_(src)
    times = []
    for _ in range(iters):
        a = torch.cuda.Event(enable_timing=True)
        b = torch.cuda.Event(enable_timing=True)
        a.record()
        dst.copy_(src)
        b.record()
        torch.cuda.synchronize()
        times.append(a.elapsed_time(b) / 1e3)
    del src, dst
    torch.cuda.empty_cache()
    return 2 * nbytes / statistics.median(times) / 1e9


def main():
    args = parse_args()
    torch = import_torch()
    dev = torch.cuda.get_device_properties(0)
    report = {
        "tool": "hf_bench",
        "device": dev.name,
        "compute_capability": f"{dev.major}.{dev.minor}",
        "device_memory_bytes": dev.total_memory,
        "torch": torch.__version__,
        "python": platform.python_version(),
    }
    if args.copy_bandwidth:
        report["copy_gbs"] = copy_bandwidth(torch)
    if args.config is None:
        emit(report, args.output)
        return 0

    try:
        import transformers
        from transformers import (AutoConfig, AutoModelForCausalLM,
                                  LogitsProcessor, LogitsProcessorList)
    except Exception as e:
        die(f"transformers is not importable ({type(e).__name__}: {e})", 3)

    config_dir = (os.path.dirname(os.path.abspath(args.config))
                  if args.config.endswith(".json") else args.config)
    config = AutoConfig.from_pretrained(config_dir)
    report.update({
        "config": args.config,
        "model_type": config.model_type,
        "transformers": transformers.__version__,
        "dtype": "bfloat16",
    })

    torch.manual_seed(args.seed)
    kwargs = {}
    if args.attn_implementation:
        kwargs["attn_implementation"] = args.attn_implementation
    t0 = time.monotonic()
    with torch.device("cuda"):
        try:  # transformers >= 4.56 names it dtype; older ones torch_dtype
            model = AutoModelForCausalLM.from_config(config, dtype=torch.bfloat16,
                                                     **kwargs)
        except TypeError:
            model = AutoModelForCausalLM.from_config(
                config, torch_dtype=torch.bfloat16, **kwargs)
    model.eval()
    torch.cuda.synchronize()
    report["build_seconds"] = time.monotonic() - t0
    params = sum(p.numel() for p in model.parameters())
    weight_bytes = sum(p.numel() * p.element_size() for p in model.parameters())
    report["parameters"] = params
    report["weight_bytes"] = weight_bytes
    report["attn_implementation"] = getattr(model.config, "_attn_implementation", None)

    # Generate exactly the tokens asked for: no EOS, no BOS handling.
    gen = model.generation_config
    gen.eos_token_id = None
    gen.pad_token_id = 0
    gen.do_sample = False
    for k in ("temperature", "top_p", "top_k"):
        if hasattr(gen, k):
            setattr(gen, k, None)

    class StepEvents(LogitsProcessor):
        """Records a CUDA event each time generate has new logits."""

        def __init__(self):
            self.events = []

        def __call__(self, input_ids, scores):
            e = torch.cuda.Event(enable_timing=True)
            e.record()
            self.events.append(e)
            return scores

    vocab = config.vocab_size
    gen_cpu = torch.Generator().manual_seed(args.seed + 1)

    def tokens(batch, length):
        return torch.randint(0, vocab, (batch, length), generator=gen_cpu).to("cuda")

    def timed_generate(ids, new_tokens):
        """(seconds to the first logits, seconds per later step or None)."""
        proc = StepEvents()
        start = torch.cuda.Event(enable_timing=True)
        torch.cuda.synchronize()
        start.record()
        # generate() runs under torch.no_grad() itself.
        out = model.generate(input_ids=ids, attention_mask=torch.ones_like(ids),
                             max_new_tokens=new_tokens, do_sample=False,
                             logits_processor=LogitsProcessorList([proc]))
        torch.cuda.synchronize()
        if out.shape[1] != ids.shape[1] + new_tokens or len(proc.events) != new_tokens:
            raise RuntimeError(
                f"generate returned {out.shape[1] - ids.shape[1]} new tokens "
                f"({len(proc.events)} steps), expected {new_tokens}")
        first = start.elapsed_time(proc.events[0]) / 1e3
        per_step = None
        if new_tokens > 1:
            per_step = (proc.events[0].elapsed_time(proc.events[-1]) / 1e3
                        / (new_tokens - 1))
        return first, per_step

    def measure(mode):
        res = {"prefill": [], "decode": []}
        warmup_s = 0.0
        # compile: the first call per shape compiles, CUDA graphs are recorded
        # on the next one and replayed from the third.
        warmups = max(args.warmup, 3 if mode == "compile" else 0)
        # Decode first (small static cache), then prefill (larger ones).
        for b in args.batch:
            ids = tokens(b, args.context)
            t = time.monotonic()
            for _ in range(warmups):
                timed_generate(ids, args.decode_steps + 1)
            warmup_s += time.monotonic() - t
            steps = [timed_generate(ids, args.decode_steps + 1)[1]
                     for _ in range(args.repeats)]
            per = statistics.median(steps)
            d = {"batch": b, "steps": args.decode_steps, "context": args.context,
                 "ms_per_step": 1e3 * per, "tokens_per_s": b / per,
                 "ms_per_step_all": [1e3 * s for s in steps]}
            if b == 1:
                d["weight_gbs"] = weight_bytes / per / 1e9
            res["decode"].append(d)
            print(f"hf_bench: {mode} decode b={b}: {1e3 * per:.3f} ms/step",
                  file=sys.stderr, flush=True)
        for p in args.prompt_lengths:
            ids = tokens(1, p)
            t = time.monotonic()
            for _ in range(warmups):
                timed_generate(ids, 1)
            warmup_s += time.monotonic() - t
            times = [timed_generate(ids, 1)[0] for _ in range(args.repeats)]
            s = statistics.median(times)
            res["prefill"].append({"tokens": p, "seconds": s, "tokens_per_s": p / s,
                                   "seconds_all": times})
            print(f"hf_bench: {mode} prefill {p}: {p / s:.1f} tokens/s",
                  file=sys.stderr, flush=True)
        key = "compile_warmup_seconds" if mode == "compile" else "warmup_seconds"
        res[key] = warmup_s
        return res

    results = {}
    if "eager" in args.modes:
        results["eager"] = measure("eager")
        results["eager"]["cache_implementation"] = "dynamic (default)"
    if "compile" in args.modes:
        dyn = torch._dynamo.config
        for name in ("cache_size_limit", "recompile_limit"):
            if hasattr(dyn, name):  # one compiled graph per shape and cache size
                setattr(dyn, name, max(getattr(dyn, name), 64))
        gen.cache_implementation = "static"
        if hasattr(gen, "disable_compile"):
            gen.disable_compile = True
        model.forward = torch.compile(model.forward, mode=args.compile_mode,
                                      fullgraph=True, dynamic=False)
        results["compile"] = measure("compile")
        results["compile"].update({"cache_implementation": "static",
                                   "torch_compile": {"mode": args.compile_mode,
                                                     "fullgraph": True,
                                                     "dynamic": False}})
    report["results"] = results
    report["method"] = ("model.generate, greedy; prefill = time to first logits "
                        "at batch 1; decode = per-step time between logits "
                        "events; CUDA events, median of repeats after warm-up")
    emit(report, args.output)
    return 0


def emit(report, path):
    text = json.dumps(report, indent=2)
    print(text)
    if path:
        with open(path, "w") as f:
            f.write(text + "\n")


if __name__ == "__main__":
    sys.exit(main())
