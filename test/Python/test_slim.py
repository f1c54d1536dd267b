# Part of the Slim project, under the Apache License v2.0 with LLVM Exceptions.
# SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
"""pytest tests of the `slim` Python package (run by test/Python/python.test)."""

import os
import re
import subprocess
import sys

import numpy as np
import onnx
import onnxruntime as ort
import pytest

import slim

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "models"))
import llm_graphs  # noqa: E402

WORK = os.environ["SLIM_TEST_WORK"]
TOKENIZER = os.environ["SLIM_TEST_TOKENIZER"]
TEXT = os.path.join(HERE, "..", "data", "text", "moby-dick-excerpt.txt")
w = lambda *n: os.path.join(WORK, *n)


@pytest.fixture(scope="session")
def onnx_model():
    model = llm_graphs.build("llama", "decode", 2, 64, 4, 2, 192, 50257, 256, False, 11)
    onnx.save(model, w("lm.onnx"))
    return model


@pytest.fixture(scope="session")
def compiled(onnx_model):
    slim.compile(w("lm.onnx"), w("fp32"), opt_level=0)
    return slim.load(w("fp32"))


@pytest.fixture(scope="session")
def tokenizer():
    return slim.Tokenizer(TOKENIZER)


def test_run_matches_onnxruntime(onnx_model, compiled):
    feeds = llm_graphs.feeds(onnx_model, batch=2, seq=5, past=3)
    want = ort.InferenceSession(w("lm.onnx"), providers=["CPUExecutionProvider"]).run(None, feeds)
    got = compiled.run(feeds)
    assert list(got) == [o.name for o in onnx_model.graph.output]
    for (name, g), e in zip(got.items(), want):
        assert g.shape == e.shape and g.dtype == e.dtype, name
        np.testing.assert_allclose(g, e, rtol=1e-4, atol=1e-5, err_msg=name)
    # Outputs are the runtime's buffers handed over, not copies; they outlive the next run.
    first = got["logits"]
    assert not first.flags["OWNDATA"]
    again = compiled.run(feeds)
    np.testing.assert_array_equal(first, again["logits"])
    assert compiled.inputs[0] == {"name": "input_ids", "dtype": "int64", "dims": ["batch", "sequence"]}


def test_bad_input_raises_runtime_message(compiled):
    with pytest.raises(slim.SlimError, match="must be int64, got int32"):
        compiled.run({i["name"]: np.zeros([1 if isinstance(d, str) and k == 0 else 2 if isinstance(d, str)
                                           else d for k, d in enumerate(i["dims"])],
                                          np.int32 if "ids" in i["name"] else np.float32)
                      for i in compiled.inputs})
    with pytest.raises(slim.SlimError, match="unknown input 'tokens'"):
        compiled.run({"tokens": np.zeros((1, 1), np.int64)})
    with pytest.raises(slim.SlimError, match="nothing/model.json"):
        slim.load(w("nothing"))


def test_perplexity_and_generate_match_slim_run(compiled, tokenizer):
    ppl, count = compiled.perplexity(open(TEXT).read(), tokenizer, context=64, max_tokens=300)
    out = subprocess.run([slim.tool("slim-run"), w("fp32"), "--perplexity", TEXT, "--tokenizer", TOKENIZER,
                          "--context", "64", "--max-tokens", "300"], capture_output=True, text=True).stdout
    assert count == 299 and abs(ppl - float(re.search(r"perplexity: ([0-9.]+)", out).group(1))) < 1e-3 * ppl
    text = compiled.generate("Call me Ishmael.", tokenizer, n=8, ignore_eos=True)
    out = subprocess.run([slim.tool("slim-run"), w("fp32"), "--generate", "Call me Ishmael.", "-n", "8",
                          "--ignore-eos", "--tokenizer", TOKENIZER, "--print-ids"],
                         capture_output=True, text=True).stdout
    ids = [int(x) for x in re.search(r"ids:([0-9 ]+)", out).group(1).split()]
    assert tokenizer.encode(text) == ids or tokenizer.decode(ids) == text
    assert tokenizer.vocab_size == 50257 and tokenizer.decode(tokenizer.encode("Call me")) == "Call me"


def test_compile_quantized_with_report_and_onnx_export(onnx_model):
    summary = slim.compile(w("lm.onnx"), w("w4"), quantize=f"method=rtn bits=4 group-size=32 symmetric=1 "
                           f"report={w('w4.json')}", emit_onnx=w("w4.onnx"), opt_level=0, quiet=False)
    assert "wrote" in summary
    report = slim.read_report(w("w4.json"))
    assert len(report["layers"]) == 14 and report["recipe"].startswith("slim-quantize{")
    model = slim.load(w("w4"), threads=1)
    feeds = llm_graphs.feeds(onnx_model, batch=1, seq=4, past=0)
    got = model.run(feeds)["logits"]
    want = ort.InferenceSession(w("w4.onnx"), providers=["CPUExecutionProvider"]).run(["logits"], feeds)[0]
    assert np.linalg.norm(got - want) / np.linalg.norm(want) < 2e-5


def test_calibrate_then_gptq(onnx_model):
    stats = slim.calibrate(w("lm.onnx"), w("c.stats"), TEXT, TOKENIZER, samples=4, context=32)
    assert os.path.getsize(stats) > 0
    slim.compile(w("lm.onnx"), w("gptq"), quantize=f"method=gptq bits=4 group-size=32 stats={stats}",
                 opt_level=0)
    assert slim.load(w("gptq")).run(llm_graphs.feeds(onnx_model, batch=1, seq=3, past=0))["logits"].shape[1] == 3


def test_tool_errors_raise_with_the_tools_message():
    with pytest.raises(slim.SlimError, match="unknown method 'hqq'"):
        slim.compile(w("lm.onnx"), w("bad"), quantize="method=hqq")
    assert not os.path.exists(w("bad"))
    with pytest.raises(slim.SlimError, match="no-such.onnx"):
        slim.compile(w("no-such.onnx"), w("bad"))
    with pytest.raises(slim.SlimError, match="not a Slim compression report"):
        open(w("x.json"), "w").write("[]")
        slim.read_report(w("x.json"))
