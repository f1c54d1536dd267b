# Part of the Slim project, under the Apache License v2.0 with LLVM Exceptions.
# SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
"""Slim from Python: compile, calibrate, load and run compressed LLMs.

    import slim
    slim.compile("model.onnx", "out", quantize="method=rtn bits=4 group-size=32")
    model = slim.load("out")
    logits = model.run({"input_ids": ids, "position_ids": pos})["logits"]
    tok = slim.Tokenizer("tokenizer.json")
    print(model.perplexity(text, tok, context=512), model.generate("Hello", tok, n=16))

`compile` and `calibrate` run Slim's tools (slimc, slim-run: `SLIM_BIN`, else the build tree this
package was built in, else PATH); a failure raises `SlimError` with the tool's error message.
`load`, `run`, `perplexity` and `generate` call the runtime in this process: inputs are passed as
the numpy arrays' memory and outputs come back as numpy arrays over the runtime's buffers, without
copies.
"""

import json
import math
import os
import shutil
import subprocess

import numpy as np

from ._slim import SlimError, Tokenizer, tune_allocator
from ._slim import Model as _Model

__all__ = ["SlimError", "Tokenizer", "Model", "load", "compile", "calibrate", "read_report",
           "tune_allocator", "tool"]


def tool(name):
    """The path of a Slim tool (slimc, slim-run, ...)."""
    dirs = [os.environ.get("SLIM_BIN")]
    try:
        from ._config import BIN_DIR
        dirs.append(BIN_DIR)
    except ImportError:
        pass
    for d in dirs:
        if d and os.access(os.path.join(d, name), os.X_OK):
            return os.path.join(d, name)
    found = shutil.which(name)
    if not found:
        raise SlimError(f"{name} not found (set SLIM_BIN to the directory of Slim's tools)")
    return found


def _run_tool(args):
    r = subprocess.run(args, text=True, capture_output=True)
    if r.returncode != 0:
        errors = [line for line in r.stderr.splitlines() if "error" in line]
        raise SlimError("\n".join(errors) or r.stderr.strip() or f"{os.path.basename(args[0])} failed")
    return r


def _opts(name, value):
    return [] if value is None else [f"--{name}", str(value)]


def compile(model, out_dir=None, *, quantize=None, prune=None, factorize=None, calibration_text=None,
            tokenizer=None, samples=None, context=None, seed=None, emit_onnx=None, target_cpu=None,
            target_features=None, opt_level=None, quiet=True, extra_args=()):
    """Compiles (and compresses) an ONNX model with slimc into `out_dir`; with `emit_onnx` also
    writes the compressed ONNX model (and without `out_dir` only that). Options are slimc's:
    `quantize`, `prune`, `factorize` take the passes' option strings. Returns slimc's summary."""
    args = [tool("slimc"), os.fspath(model)]
    if out_dir is not None:
        args += ["-o", os.fspath(out_dir)]
    for flag, value in (("quantize", quantize), ("prune", prune), ("factorize", factorize),
                        ("tokenizer", tokenizer), ("samples", samples), ("context", context),
                        ("seed", seed), ("emit-onnx", emit_onnx), ("target-cpu", target_cpu),
                        ("target-features", target_features), ("opt-level", opt_level)):
        args += _opts(flag, value)
    if calibration_text is not None:
        texts = [calibration_text] if isinstance(calibration_text, (str, os.PathLike)) else calibration_text
        args += ["--calibration-text", ",".join(os.fspath(t) for t in texts)]
    if quiet:
        args.append("--quiet")
    return _run_tool(args + list(extra_args)).stderr.strip()


def calibrate(model, stats, text, tokenizer, *, samples=128, context=512, seed=None, work_dir=None):
    """Calibration statistics of an ONNX model (slimc --calibration, then slim-run --calibrate) into
    `stats`, for compile(..., quantize="... stats=FILE"). Returns the statistics path."""
    import tempfile

    with tempfile.TemporaryDirectory(dir=work_dir) as tmp:
        _run_tool([tool("slimc"), os.fspath(model), "--calibration", "-o", tmp, "--quiet"])
        texts = [text] if isinstance(text, (str, os.PathLike)) else text
        args = [tool("slim-run"), tmp, "--calibrate", os.fspath(stats), "--calibration-text",
                ",".join(os.fspath(t) for t in texts), "--tokenizer", os.fspath(tokenizer),
                "--samples", str(samples), "--context", str(context)] + _opts("seed", seed)
        _run_tool(args)
    return os.fspath(stats)


def read_report(path):
    """A compression report (report=FILE of --quantize/--prune/--factorize) as Python objects."""
    try:
        with open(path, encoding="utf-8") as f:
            report = json.load(f)
    except (OSError, json.JSONDecodeError) as e:
        raise SlimError(f"cannot read report {path}: {e}") from None
    if not isinstance(report, dict) or "layers" not in report:
        raise SlimError(f"{path}: not a Slim compression report")
    return report


def load(directory, threads=None):
    """Loads a model compiled by slimc (the directory with model.so, model.weights, model.json)."""
    return Model(directory, threads)


class Model:
    """A compiled model. `inputs`/`outputs`: lists of {name, dtype, dims} (dims: ints, or the names
    of symbolic dimensions)."""

    def __init__(self, directory, threads=None):
        self._model = _Model(os.fspath(directory))
        self.directory = os.fspath(directory)
        self.inputs = self._model.inputs
        self.outputs = self._model.outputs
        if threads:
            self._model.set_threads(int(threads))

    def run(self, feeds):
        """Runs on a dict {input name: array} (or a list in the model's order); returns a dict
        {output name: numpy array}. Arrays are made C-contiguous (a copy only where they are not)."""
        if isinstance(feeds, dict):
            names = [i["name"] for i in self.inputs]
            unknown = sorted(set(feeds) - set(names))
            if unknown:
                raise SlimError(f"unknown input '{unknown[0]}' (the model's inputs: {', '.join(names)})")
            missing = [n for n in names if n not in feeds]
            if missing:
                raise SlimError(f"missing input '{missing[0]}'")
            arrays = [feeds[n] for n in names]
        else:
            arrays = list(feeds)
        arrays = [np.ascontiguousarray(a) for a in arrays]
        outs = self._model.run(arrays)
        return {o["name"]: a for o, a in zip(self.outputs, outs)}

    # Language models: input_ids [, position_ids, attention_mask, past_key_values.N.key/value] ->
    # logits [, present.N.key/value], as slim-run reads them.
    def _lm(self):
        names = [i["name"] for i in self.inputs]
        if "input_ids" not in names or "logits" not in [o["name"] for o in self.outputs]:
            raise SlimError(f"{self.directory}: not a language model (input_ids -> logits)")
        past = [i for i in self.inputs if i["name"].startswith("past_key_values.")]
        return names, past

    def _step(self, ids, start, cache):
        names, past = self._lm()
        n = len(ids)
        feeds = {"input_ids": np.asarray([ids], np.int64)}
        if "position_ids" in names:
            feeds["position_ids"] = np.arange(start, start + n, dtype=np.int64)[None]
        if "attention_mask" in names:
            feeds["attention_mask"] = np.ones((1, start + n), np.int64)
        for i, p in enumerate(past):
            if cache:
                feeds[p["name"]] = cache[i]
            else:
                shape = [d if isinstance(d, int) else (1 if k == 0 else 0) for k, d in enumerate(p["dims"])]
                feeds[p["name"]] = np.zeros(shape, np.float32)
        out = self.run(feeds)
        present = [out[p["name"].replace("past_key_values", "present")] for p in past] if past else []
        return out["logits"][0], present

    def perplexity(self, text, tokenizer, context=512, stride=None, max_tokens=None):
        """Perplexity of `text` in windows of `context` tokens moving by `stride` (default: half a
        window), each token scored once with the most context its window gives, as
        `slim-run --perplexity`. Returns (perplexity, tokens scored)."""
        ids = tokenizer.encode(text)
        if max_tokens:
            ids = ids[:max_tokens]
        if len(ids) < 2:
            raise SlimError("the text has fewer than two tokens")
        context = max(2, int(context))
        stride = int(stride) if stride else max(1, context // 2)
        nll, count, prev_end, begin = 0.0, 0, 0, 0
        while begin < len(ids):
            end = min(begin + context, len(ids))
            logits, _ = self._step(ids[begin:end], 0, None)
            first = max(prev_end, begin + 1)
            for target in range(first, end):
                row = logits[target - begin - 1].astype(np.float64)
                m = row.max()
                nll -= row[ids[target]] - m - math.log(np.exp(row - m).sum())
                count += 1
            prev_end = end
            if end == len(ids):
                break
            begin += stride
        return math.exp(nll / count), count

    def generate(self, prompt, tokenizer, n=32, ignore_eos=False):
        """Greedy continuation of `prompt` (with the KV cache when the model has one), stopping at
        an end-of-text/turn token unless `ignore_eos`. Returns the generated text."""
        _, past = self._lm()
        ids = tokenizer.encode(prompt)
        if not ids:
            raise SlimError("the prompt encodes to no tokens")
        generated, cache, start, feed = [], None, 0, ids
        for _ in range(n):
            if past:
                logits, cache = self._step(feed, start, cache)
                start += len(feed)
            else:
                logits, _ = self._step(ids + generated, 0, None)
            token = int(logits[-1].argmax())
            if not ignore_eos and tokenizer.is_special(token):
                break
            generated.append(token)
            feed = [token]
        return tokenizer.decode(generated)
