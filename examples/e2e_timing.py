"""Timing and correctness for examples/qwen3_e2e.py.

Prefill: one forward over `tokens` tokens (batch 1, no cache, logits for the
last position only), timed with CUDA events, median of the timed runs after
warm-ups. Decode: one step (one new token per sequence) against a static
KV cache of 2048 positions, captured in a CUDA graph by hand and replayed
(eager decode is host-bound: about 37 ms a step on the H100 whatever the
kernels), median over samples of 20 replays each.
"""
import cProfile
import os
import pstats
import statistics
import sys
import time

import torch
from transformers import StaticCache

CACHE_TOKENS = 2048


def timed(run, warmups=2, samples=5, calls=1):
    """Median milliseconds of one call of run(), `calls` calls per sample."""
    for _ in range(warmups):
        run()
    times = []
    for _ in range(samples):
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        for _ in range(calls):
            run()
        end.record()
        end.synchronize()
        times.append(start.elapsed_time(end) / calls)
    return statistics.median(times)


def random_ids(batch, tokens, vocab, seed, device="cuda"):
    generator = torch.Generator(device="cpu").manual_seed(seed)
    return torch.randint(0, vocab, (batch, tokens), generator=generator).to(device)


def prefill_forward(model, tokens, vocab):
    """One prefill forward of `tokens` random tokens (batch 1, no cache, the
    last position's logits), as a callable: what prefill_ms times and
    prefill_profile profiles."""
    ids = random_ids(1, tokens, vocab, seed=tokens)
    return lambda: model(input_ids=ids, use_cache=False, logits_to_keep=1)


@torch.inference_mode()
def prefill_ms(model, tokens, vocab):
    return timed(prefill_forward(model, tokens, vocab))


# Kernel names of the linear layers' GEMMs: this library's, cuBLAS's and torch's int4.
LINEAR_KERNELS = ("sm90_prefill_kernel", "decode_kernel", "dequantize_kernel",
                  "permute_columns_kernel", "gemm", "nvjet", "xmma", "cutlass", "int4")


@torch.inference_mode()
def prefill_profile(model, tokens, vocab):
    """One prefill forward's host time to issue it (host_ms), then under the
    profiler the device time of all its kernels and of the linear layers'
    GEMMs (kernel_ms, linear_kernel_ms). Set beside the timed wall time, they
    say whether the kernels or the host set the forward's pace."""
    run = prefill_forward(model, tokens, vocab)
    run()
    torch.cuda.synchronize()
    start = time.perf_counter()
    run()  # the host's time to issue one forward (it waits only if the launch queue fills)
    host_ms = (time.perf_counter() - start) * 1e3
    torch.cuda.synchronize()
    if os.environ.get("W4A16_E2E_HOST_PROFILE"):  # where the host's time goes, on stderr
        profiler = cProfile.Profile()
        profiler.runcall(run)
        torch.cuda.synchronize()
        pstats.Stats(profiler, stream=sys.stderr).sort_stats("tottime").print_stats(25)
    with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CUDA]) as prof:
        run()
        torch.cuda.synchronize()
    total = linear = 0.0
    for event in prof.key_averages():
        if event.device_type != torch.autograd.DeviceType.CUDA:
            continue  # a host op: its kernels are events of their own
        us = event.self_device_time_total
        total += us
        if any(part in event.key.lower() for part in LINEAR_KERNELS):
            linear += us
    return {"kernel_ms": total / 1e3, "linear_kernel_ms": linear / 1e3, "host_ms": host_ms,
            "linear_host_us": linear_host_us(model.model.layers[0].mlp.down_proj, tokens,
                                             model.dtype)}


@torch.inference_mode()
def linear_host_us(module, rows, dtype, calls=200):
    """Host µs to issue one call of `module` on `rows` rows, alone: the calls
    are not waited for (fewer than the launch queue holds), so this is the
    per-call host cost that bounds a forward's pace when kernels are short."""
    x = torch.randn(rows, module.in_features, device="cuda", dtype=dtype)
    for _ in range(10):
        module(x)
    torch.cuda.synchronize()
    start = time.perf_counter()
    for _ in range(calls):
        module(x)
    us = (time.perf_counter() - start) * 1e6 / calls
    torch.cuda.synchronize()
    return us


def captured(run, warmups):
    """run() captured in a CUDA graph, after `warmups` calls on a side stream
    (lazy allocations and library set-up happen outside the capture)."""
    side = torch.cuda.Stream()
    side.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(side):
        for _ in range(warmups):
            run()
    torch.cuda.current_stream().wait_stream(side)
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        run()
    return graph


@torch.inference_mode()
def decode_ms(model, batch, vocab, prompt=16):
    """(ms per decode step, how it ran: "cuda graph" or why it ran eagerly)."""
    cache = StaticCache(config=model.config, max_cache_len=CACHE_TOKENS)
    ids = random_ids(batch, prompt, vocab, seed=batch)
    device = ids.device
    model(input_ids=ids, past_key_values=cache, use_cache=True,
          cache_position=torch.arange(prompt, device=device))  # fills the cache's buffers
    step_ids = random_ids(batch, 1, vocab, seed=batch + 1)
    position = torch.tensor([prompt], device=device)

    def step():
        return model(input_ids=step_ids, past_key_values=cache, use_cache=True,
                     cache_position=position, logits_to_keep=1).logits

    try:
        graph = captured(step, warmups=3)
    except Exception as error:  # report eager timing rather than none, and say why
        torch.cuda.synchronize()
        return timed(step, samples=5, calls=5), f"eager: capture failed ({error})"[:200]
    return timed(graph.replay, warmups=3, samples=15, calls=20), "cuda graph"


@torch.inference_mode()
def decode_linears_ms(model, names, batch):
    """ms of one decode step's linear layers alone: each of `names` (the decoder's
    linears and lm_head) called once on `batch` rows, captured in a CUDA graph.
    The rest of the step (norms, rotary, attention, the cache) is the same
    kernels in every model; this is the part the kernels under test own."""
    modules = [model.get_submodule(name) for name in names]
    dtype = next(model.parameters()).dtype
    inputs = [torch.randn(batch, m.in_features, device="cuda", dtype=dtype) for m in modules]

    def run():
        for module, x in zip(modules, inputs):
            module(x)

    return timed(captured(run, warmups=1).replay, warmups=3, samples=15, calls=20)


class fp32_reductions:
    """Within it, cuBLAS's fp16 GEMMs keep their split-K reductions in fp32.
    torch's default lets them reduce in fp16, an error of its own that only
    the fp16 reference (and lm_head) would carry into the comparison."""

    def __enter__(self):
        self.saved = torch.backends.cuda.matmul.allow_fp16_reduced_precision_reduction
        torch.backends.cuda.matmul.allow_fp16_reduced_precision_reduction = False

    def __exit__(self, *exc):
        torch.backends.cuda.matmul.allow_fp16_reduced_precision_reduction = self.saved


@torch.inference_mode()
def logits(model, ids):
    """fp32 logits on the host, one row per position of every prompt in `ids`
    (batch x tokens), each prompt a forward of its own (so the GEMMs have the
    prompt's M, as in serving); kept off the device so that the next model's
    peak memory is its own."""
    with fp32_reductions():
        return torch.cat([model(input_ids=ids[i:i + 1], use_cache=False).logits[0].float().cpu()
                          for i in range(ids.shape[0])])


@torch.inference_mode()
def greedy(model, prompt, new_tokens=64):
    with fp32_reductions():
        out = model.generate(prompt, max_new_tokens=new_tokens, min_new_tokens=new_tokens,
                             do_sample=False, pad_token_id=0, eos_token_id=None)
    return out[0, prompt.shape[1]:].tolist()


def compare(reference_logits, got_logits, reference_tokens, got_tokens):
    """Agreement of one model's logits and greedy tokens with another's (the
    JSON's correctness fields; the bar is top-1 >= 99% against the fp16 model)."""
    difference = (got_logits - reference_logits).abs().max().item()
    agreement = (got_logits.argmax(-1) == reference_logits.argmax(-1)).float().mean().item()
    equal = 0
    for a, b in zip(reference_tokens, got_tokens):
        if a != b:
            break
        equal += 1
    return {"logits_max_abs_over_std": difference / reference_logits.std().item(),
            "top1_agreement": agreement, "greedy_tokens_equal": equal}
