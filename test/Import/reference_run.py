#!/usr/bin/env python3
# Part of the Slim project, under the Apache License v2.0 with LLVM Exceptions.
# SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
"""Runs imported ONNX models with Slim's reference CPU pipeline.

`slim-import-onnx` output is wrapped in an entry function that feeds the
inputs as constants and prints every result; `slim-opt
--slim-cpu-reference-pipeline` lowers it and `mlir-runner` executes it. This
checks the importer's numerics before the optimizing compiler exists:

  reference_run.py node-tests ...    the ONNX backend node tests' data sets
  reference_run.py model M.onnx ...  a model on random inputs, against onnxruntime
"""

import argparse
import concurrent.futures
import os
import re
import subprocess
import sys

import ml_dtypes
import numpy as np
import onnx
from onnx import numpy_helper

NP_TO_MLIR = {
    np.dtype(np.float32): "f32", np.dtype(np.float64): "f64", np.dtype(np.float16): "f16",
    np.dtype(ml_dtypes.bfloat16): "bf16", np.dtype(np.bool_): "i1",
    np.dtype(np.int8): "i8", np.dtype(np.uint8): "i8", np.dtype(np.int16): "i16",
    np.dtype(np.uint16): "i16", np.dtype(np.int32): "i32", np.dtype(np.uint32): "i32",
    np.dtype(np.int64): "i64", np.dtype(np.uint64): "i64",
}


class Tools:
    def __init__(self, args):
        self.importer, self.slim_opt, self.runner = args.importer, args.slim_opt, args.mlir_runner
        self.libs = ",".join(os.path.join(args.lib_dir, l) for l in
                             ("libmlir_runner_utils.so", "libmlir_c_runner_utils.so"))


def split_top(s, sep=","):
    """Splits on `sep` outside brackets and strings."""
    parts, depth, cur, in_str = [], 0, "", False
    for ch in s:
        if ch == '"':
            in_str = not in_str
        elif not in_str and ch in "<([{":
            depth += 1
        elif not in_str and ch in ">)]}":
            depth -= 1
        if ch == sep and depth == 0 and not in_str:
            parts.append(cur)
            cur = ""
        else:
            cur += ch
    if cur.strip():
        parts.append(cur)
    return [p.strip() for p in parts]


def arg_types(text, name="model"):
    """Argument types of func @name in printed MLIR."""
    start = text.index("(", text.index(f"func.func @{name}("))
    i, depth = start, 0
    while True:
        depth += text[i] == "("
        depth -= text[i] == ")"
        if depth == 0:
            break
        i += 1
    args = split_top(text[start + 1:i])
    return [re.sub(r"\s*\{.*\}\s*$", "", a.split(":", 1)[1].strip()) for a in args if a]


def result_types(text, name="model"):
    """Result types of func @name in printed MLIR."""
    start = text.index(f"func.func @{name}(")
    i, depth = text.index("(", start), 0
    while True:
        if text[i] == "(":
            depth += 1
        elif text[i] == ")":
            depth -= 1
            if depth == 0:
                break
        i += 1
    rest = text[i + 1:].lstrip()
    if not rest.startswith("->"):
        return []
    rest = rest[2:].lstrip()
    if rest.startswith("("):
        depth, j = 0, 0
        for j, ch in enumerate(rest):
            depth += ch in "(<{["
            depth -= ch in ")>}]"
            if depth == 0:
                break
        body = rest[1:j]
    else:
        body = rest[:rest.index("{")].strip() if not rest.startswith("tensor") else rest.split(" {", 1)[0]
        body = body.strip()
    return [re.sub(r"\s*\{.*\}\s*$", "", t) for t in split_top(body)]


def constant(name, a):
    ty = NP_TO_MLIR[a.dtype]
    dims = "x".join(str(d) for d in a.shape)
    tt = f"tensor<{dims}x{ty}>" if a.ndim else f"tensor<{ty}>"
    if a.size == 0:
        return f"    %{name} = tensor.empty() : {tt}\n", tt
    if a.dtype == np.bool_:
        vals = ", ".join("true" if v else "false" for v in a.reshape(-1))
        body = f"dense<{vals}>" if a.ndim == 0 else None
        if body is None:
            # Nested brackets for each dimension.
            def nest(x):
                if x.ndim == 0:
                    return "true" if x else "false"
                return "[" + ", ".join(nest(y) for y in x) + "]"
            body = f"dense<{nest(a)}>"
        return f"    %{name} = arith.constant {body} : {tt}\n", tt
    hexs = np.ascontiguousarray(a).tobytes().hex().upper()
    return f'    %{name} = arith.constant dense<"0x{hexs}"> : {tt}\n', tt


def to_f64(i, ty, onnx_dtype):
    """Converts result %r#i of type `ty` to f64 for printing."""
    m = re.match(r"tensor<(.*)>", ty)
    parts = m.group(1).split("x")
    elem, dims = parts[-1], parts[:-1]
    rank = len(dims)
    lines = []
    dyn = []
    for d, s in enumerate(dims):
        if s == "?":
            lines.append(f"    %c{i}_{d} = arith.constant {d} : index\n")
            lines.append(f"    %d{i}_{d} = tensor.dim %r{i}, %c{i}_{d} : {ty}\n")
            dyn.append(f"%d{i}_{d}")
    out_ty = f"tensor<{'x'.join(dims + ['f64'])}>"
    lines.append(f"    %e{i} = tensor.empty({', '.join(dyn)}) : {out_ty}\n")
    idmap = f"affine_map<({', '.join(f'd{k}' for k in range(rank))}) -> ({', '.join(f'd{k}' for k in range(rank))})>"
    if elem in ("f32", "f16", "bf16"):
        conv = f"arith.extf %a : {elem} to f64"
    elif elem == "f64":
        conv = None
    elif elem == "i1" or onnx_dtype in (2, 4, 12, 13):
        conv = f"arith.uitofp %a : {elem} to f64"
    else:
        conv = f"arith.sitofp %a : {elem} to f64"
    iters = ", ".join(['"parallel"'] * rank)
    lines.append(f"    %f{i} = linalg.generic {{indexing_maps = [{idmap}, {idmap}], iterator_types = [{iters}]}} "
                 f"ins(%r{i} : {ty}) outs(%e{i} : {out_ty}) {{\n")
    lines.append(f"    ^bb0(%a: {elem}, %o: f64):\n")
    if conv:
        lines.append(f"      %v = {conv}\n      linalg.yield %v : f64\n")
    else:
        lines.append("      linalg.yield %a : f64\n")
    lines.append(f"    }} -> {out_ty}\n")
    mem = out_ty.replace("tensor<", "memref<")
    lines.append(f"    %m{i} = bufferization.to_buffer %f{i} : {out_ty} to {mem}\n")
    lines.append(f"    %u{i} = memref.cast %m{i} : {mem} to memref<*xf64>\n")
    lines.append(f"    call @printMemrefF64(%u{i}) : (memref<*xf64>) -> ()\n")
    return "".join(lines)


def run_imported(tools, model_path, inputs, out_dtypes, work, bind=None):
    """Imports, wraps, lowers and runs; returns the list of outputs (f64)."""
    base = os.path.join(work, os.path.basename(os.path.dirname(model_path)) + "_" +
                        os.path.splitext(os.path.basename(model_path))[0])
    cmd = [tools.importer, model_path, "--function-name", "model", "-o", base + ".mlir"]
    if bind:
        cmd += ["--bind-dims", bind]
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode:
        raise RuntimeError("import: " + r.stderr.strip().splitlines()[0])
    text = open(base + ".mlir").read()
    res_types = result_types(text)
    body = ["func.func private @printMemrefF64(memref<*xf64>) attributes {llvm.emit_c_interface}\n",
            "func.func @entry() {\n"]
    arg_names, types = [], arg_types(text)
    for k, a in enumerate(inputs):
        line, tt = constant(f"in{k}", a)
        body.append(line)
        if tt != types[k]:
            # Static data for a dynamic argument.
            body.append(f"    %inc{k} = tensor.cast %in{k} : {tt} to {types[k]}\n")
            arg_names.append(f"%inc{k}")
        else:
            arg_names.append(f"%in{k}")
    res = ", ".join(f"%r{i}" for i in range(len(res_types)))
    call = f"call @model({', '.join(arg_names)}) : ({', '.join(types)}) -> ({', '.join(res_types)})\n"
    if len(res_types) == 1:
        body.append(f"    %r0 = {call}")
    else:
        body.append(f"    %rr:{len(res_types)} = {call}")
        for i in range(len(res_types)):
            body.append(f"    %r{i} = tensor.cast %rr#{i} : {res_types[i]} to {res_types[i]}\n")
    for i, ty in enumerate(res_types):
        body.append(to_f64(i, ty, out_dtypes[i]))
    body.append("    return\n}\n")
    # Insert the wrapper into the module, before its closing brace (the
    # resource section, if any, follows that brace).
    cut = text.find("\n{-#")
    head, tail = (text, "") if cut < 0 else (text[:cut], text[cut:])
    close = head.rstrip().rfind("}")
    wrapped = head[:close] + "".join(body) + "}\n" + tail
    with open(base + ".run.mlir", "w") as f:
        f.write(wrapped)
    lowered = subprocess.run([tools.slim_opt, "--slim-cpu-reference-pipeline", base + ".run.mlir"],
                             capture_output=True, text=True)
    if lowered.returncode:
        raise RuntimeError("lower: " + lowered.stderr.strip().splitlines()[0])
    ran = subprocess.run([tools.runner, "-e", "entry", "-entry-point-result=void",
                          f"-shared-libs={tools.libs}"], input=lowered.stdout,
                         capture_output=True, text=True)
    if ran.returncode:
        raise RuntimeError("run: " + (ran.stderr.strip().splitlines() or ["crashed"])[0])
    outs = []
    for chunk in ran.stdout.split("Unranked Memref")[1:]:
        sizes = [int(s) for s in re.search(r"sizes = \[([^\]]*)\]", chunk).group(1).split(",") if s.strip()]
        if int(np.prod(sizes)) == 0:
            outs.append(np.zeros(sizes))
            continue
        data = chunk.split("data =", 1)[1]
        nums = re.findall(r"-?nan|-?inf|[-+]?\d+\.?\d*(?:[eE][-+]?\d+)?", data)
        vals = np.array([float(v) for v in nums], dtype=np.float64)
        outs.append(vals.reshape(sizes) if sizes else vals.reshape(()))
    return outs


def random_feeds(model, bind):
    """Random inputs for any model: symbolic dimensions from `bind`
    (name=size,...) or 3."""
    sizes = dict(kv.split("=") for kv in bind.split(",") if kv) if bind else {}
    rng = np.random.default_rng(0)
    out = {}
    inits = {t.name for t in model.graph.initializer}
    for inp in model.graph.input:
        if inp.name in inits:
            continue
        tt = inp.type.tensor_type
        shape = [d.dim_value if d.HasField("dim_value") else int(sizes.get(d.dim_param, 3))
                 for d in tt.shape.dim]
        dtype = onnx.helper.tensor_dtype_to_np_dtype(tt.elem_type)
        if np.issubdtype(dtype, np.floating):
            out[inp.name] = rng.normal(size=shape).astype(dtype)
        elif dtype == np.bool_:
            out[inp.name] = rng.integers(0, 2, size=shape).astype(np.bool_)
        else:
            out[inp.name] = rng.integers(0, 8, size=shape).astype(dtype)
    return out


def compare(actual, expected, rtol, atol):
    if actual.shape != expected.shape:
        return f"shape {actual.shape} != {expected.shape}"
    e = expected.astype(np.float64)
    both_nan = np.isnan(actual) & np.isnan(e)
    ok = np.isclose(actual, e, rtol=rtol, atol=atol) | both_nan
    if ok.all():
        return None
    err = np.max(np.abs(np.where(ok, 0, actual - e)))
    return f"max |err| {err:.3g}"


def node_test(tools, test_dir, work, rtol, atol):
    model = onnx.load(os.path.join(test_dir, "model.onnx"))
    data = os.path.join(test_dir, "test_data_set_0")
    n_in = len([i for i in model.graph.input if i.name not in {t.name for t in model.graph.initializer}])
    def load(path, declared):
        a = numpy_helper.to_array(onnx.load_tensor(path))
        # Older test data stores bfloat16 as uint16 bit patterns.
        if declared == onnx.TensorProto.BFLOAT16 and a.dtype == np.uint16:
            a = a.view(ml_dtypes.bfloat16)
        return a
    graph_inputs = [i for i in model.graph.input if i.name not in {t.name for t in model.graph.initializer}]
    inputs = [load(os.path.join(data, f"input_{k}.pb"), graph_inputs[k].type.tensor_type.elem_type)
              for k in range(n_in)]
    expected = [load(os.path.join(data, f"output_{k}.pb"), o.type.tensor_type.elem_type)
                for k, o in enumerate(model.graph.output)]
    dtypes = [o.type.tensor_type.elem_type for o in model.graph.output]
    outs = run_imported(tools, os.path.join(test_dir, "model.onnx"), inputs, dtypes, work)
    for k, (a, e) in enumerate(zip(outs, expected)):
        msg = compare(a, e, rtol, atol)
        if msg:
            return f"output {k}: {msg}"
    return None


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("mode", choices=["node-tests", "model"])
    p.add_argument("model", nargs="?")
    p.add_argument("--importer", required=True)
    p.add_argument("--slim-opt", required=True)
    p.add_argument("--mlir-runner", required=True)
    p.add_argument("--lib-dir", required=True)
    p.add_argument("--work", required=True)
    p.add_argument("--data", default="/usr/share/libonnx-testdata/data/node")
    p.add_argument("--filter", default="")
    p.add_argument("--known-failures", default=os.path.join(os.path.dirname(__file__), "onnx-node",
                                                             "known-failures.txt"))
    p.add_argument("--reference-known-failures",
                   default=os.path.join(os.path.dirname(__file__), "onnx-node",
                                        "reference-known-failures.txt"))
    p.add_argument("--rtol", type=float, default=1e-3)
    p.add_argument("--atol", type=float, default=1e-5)
    p.add_argument("--bind-dims", default="",
                   help="e.g. batch=2,sequence=5 (default: keep dimensions dynamic)")
    p.add_argument("--jobs", type=int, default=2)
    p.add_argument("--backend", choices=["reference", "compiled"], default="reference",
                   help="node-tests: reference pipeline under mlir-runner, or slimc + slim-run")
    p.add_argument("--slimc", default="slimc")
    p.add_argument("--per-op", action="store_true", help="print a per-operator table")
    p.add_argument("--slim-run", default="slim-run")
    args = p.parse_args()
    os.makedirs(args.work, exist_ok=True)
    tools = Tools(args)

    if args.mode == "model":
        sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "models"))
        import llm_graphs
        import onnxruntime as ort
        model = onnx.load(args.model)
        if any(i.name == "input_ids" for i in model.graph.input):
            feeds = llm_graphs.feeds(model)
        else:
            feeds = random_feeds(model, args.bind_dims)
        # The oracle is the graph's semantics: no graph rewrites (onnxruntime
        # fuses DequantizeLinear(int4) + MatMul into a kernel that quantizes
        # activations, which changes results at the 1e-2 level).
        so = ort.SessionOptions()
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
        sess = ort.InferenceSession(args.model, so, providers=["CPUExecutionProvider"])
        expected = sess.run(None, feeds)
        inputs = [feeds[i.name] for i in model.graph.input if i.name in feeds]
        dtypes = [o.type.tensor_type.elem_type for o in model.graph.output]
        outs = run_imported(tools, args.model, inputs, dtypes, args.work, args.bind_dims)
        worst = 0.0
        for o, a, e in zip(model.graph.output, outs, expected):
            rel = float(np.max(np.abs(a - e)) / max(np.max(np.abs(e)), 1e-12))
            worst = max(worst, rel)
            print(f"{o.name}: max rel. error {rel:.2e}")
        ok = worst <= args.rtol
        print(f"reference run vs onnxruntime: {'PASS' if ok else 'FAIL'} (worst {worst:.2e})")
        return 0 if ok else 1

    supported = set(subprocess.run([tools.importer, "--list-operators"], check=True,
                                   capture_output=True, text=True).stdout.split())
    known = {l.split()[0] for l in open(args.known_failures) if l.strip() and not l.startswith("#")}
    reference_known = {l.split()[0] for l in open(args.reference_known_failures)
                       if l.strip() and not l.startswith("#")}
    tests = []
    for t in sorted(os.listdir(args.data)):
        if args.filter and not re.search(args.filter, t) or t in known:
            continue
        path = os.path.join(args.data, t, "model.onnx")
        m = onnx.load(path, load_external_data=False)
        ops = {f"{'' if n.domain in ('', 'ai.onnx') else n.domain}:{n.op_type}" for n in m.graph.node}
        if ops and ops <= supported:
            tests.append(t)

    def compiled(t):
        """slimc + slim-run --test-data on the compiled model."""
        test_dir = os.path.join(args.data, t)
        out = os.path.join(args.work, t)
        r = subprocess.run([args.slimc, os.path.join(test_dir, "model.onnx"), "-o", out],
                           capture_output=True, text=True)
        if r.returncode:
            return "slimc: " + (r.stderr.strip().splitlines() or ["crashed"])[0]
        r = subprocess.run([args.slim_run, out, "--test-data", os.path.join(test_dir, "test_data_set_0"),
                            f"--rtol={args.rtol}", f"--atol={args.atol}"], capture_output=True, text=True)
        if r.returncode:
            lines = [l for l in (r.stdout + r.stderr).splitlines() if "FAIL" in l or "error" in l]
            return "slim-run: " + (lines[0] if lines else f"status {r.returncode}")
        return None

    def one(t):
        try:
            if args.backend == "compiled":
                return t, compiled(t)
            return t, node_test(tools, os.path.join(args.data, t), args.work, args.rtol, args.atol)
        except Exception as e:  # noqa: BLE001 - reported per test
            return t, str(e)

    failures, expected_failures = [], 0
    with concurrent.futures.ThreadPoolExecutor(args.jobs) as pool:
        for t, err in pool.map(one, tests):
            if err and t in reference_known:
                expected_failures += 1
            elif err:
                failures.append((t, err))
                print(f"FAIL {t}: {err}")
            elif t in reference_known:
                failures.append((t, "passes: remove it from reference-known-failures.txt"))
                print(f"FIXED {t}")
    passed = len(tests) - len(failures) - expected_failures
    label = "reference pipeline" if args.backend == "reference" else "slimc + slim-run"
    per_op = {}
    failed_names = {t for t, _ in failures}
    for t in tests:
        m = onnx.load(os.path.join(args.data, t, "model.onnx"), load_external_data=False)
        for op in {n.op_type for n in m.graph.node}:
            good, bad = per_op.get(op, (0, 0))
            per_op[op] = (good + (t not in failed_names and t not in reference_known),
                          bad + (t in failed_names))
    if args.per_op:
        print("per operator (passed / failed):")
        for op in sorted(per_op):
            print(f"  {op:32s} {per_op[op][0]:4d} {per_op[op][1]:4d}")
    print(f"node tests ({label}): {passed} passed, {len(failures)} failed, "
          f"{expected_failures} known failures")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
