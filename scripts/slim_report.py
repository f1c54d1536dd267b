#!/usr/bin/env python3
# Part of the Slim project, under the Apache License v2.0 with LLVM Exceptions.
# SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
"""A compression report as one self-contained HTML page.

    slim_report.py report.json [more.json ...] -o report.html [--quality results.json]
                   [--perplexity 27.5] [--title TEXT]

Reads the JSON reports `--quantize/--prune/--factorize ... report=FILE` write (one per pass of a
recipe; several are summed) and draws, with matplotlib, as inline SVG (the page needs no other
file and no network): the summary (layers, bytes before and after, ratio, parameters, FLOPs per
token of the linear layers, bits per weight, perplexity when given), the recipe and provenance
(Slim version and commit, statistics file and hash, time), the worst layers by output error, the
output (or weight) error of every layer in model order, bits per weight per layer, and with
`--quality` (bench/quality.py's results.json) a perplexity-versus-bytes plot of every row with
its Pareto front.
"""

import argparse
import html
import io
import json
import math
import os
import sys
import tempfile


def fail(message):
    sys.exit(f"slim_report: error: {message}")


def load_report(path):
    try:
        with open(path, encoding="utf-8") as f:
            report = json.load(f)
    except OSError as e:
        fail(f"cannot read {path}: {e.strerror}")
    except json.JSONDecodeError as e:
        fail(f"{path}: not JSON ({e})")
    if not isinstance(report, dict) or not isinstance(report.get("layers"), list):
        fail(f"{path}: not a Slim compression report (no 'layers' list)")
    for i, layer in enumerate(report["layers"]):
        if not isinstance(layer, dict) or "layer" not in layer or "bytes_before" not in layer:
            fail(f"{path}: layer entry {i} has no 'layer' or 'bytes_before'")
    return report


def svg(fig):
    import matplotlib.pyplot as plt

    buf = io.StringIO()
    fig.savefig(buf, format="svg", bbox_inches="tight")
    plt.close(fig)
    text = buf.getvalue()
    return text[text.index("<svg"):]  # drop the XML prologue: the SVG is inline


def human_bytes(n):
    for unit in ("B", "KB", "MB", "GB"):
        if abs(n) < 1000 or unit == "GB":
            return f"{n:.1f} {unit}" if unit != "B" else f"{n} B"
        n /= 1000


def fmt(x, digits=4):
    if x is None:
        return "—"
    if isinstance(x, float):
        return f"{x:.{digits}g}"
    return html.escape(str(x))


def params_of(layer):
    shape = layer.get("shape") or []
    return math.prod(shape) if shape else layer["bytes_before"] // 4


def pareto(points):
    """Indices of the points no other point beats in both bytes and perplexity."""
    front = []
    for i, (b, p) in enumerate(points):
        if not any((b2 <= b and p2 <= p) and (b2 < b or p2 < p) for b2, p2 in points):
            front.append(i)
    return sorted(front, key=lambda i: points[i][0])


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("reports", nargs="+", help="report.json files of one recipe (prune, factorize, quantize)")
    ap.add_argument("-o", "--output", required=True)
    ap.add_argument("--quality", help="bench/quality.py's results.json: a perplexity-vs-bytes plot")
    ap.add_argument("--split", default=None, help="the quality table's held-out text (default: its first)")
    ap.add_argument("--perplexity", type=float, help="the compressed model's perplexity, for the summary")
    ap.add_argument("--title", default=None)
    a = ap.parse_args()
    try:
        import matplotlib
        matplotlib.use("svg")
        import matplotlib.pyplot as plt
    except ImportError:
        fail("matplotlib is missing (scripts/setup.sh installs it into .venv)")
    plt.rcParams.update({"font.size": 9, "svg.fonttype": "none"})

    reports = [(p, load_report(p)) for p in a.reports]
    layers = [dict(l, _report=os.path.basename(p)) for p, r in reports for l in r["layers"]]
    if not layers:
        fail("the reports list no layers")
    before = sum(r.get("total_bytes_before", 0) for _, r in reports)
    after = sum(r.get("total_bytes_after", 0) for _, r in reports)
    params = sum(params_of(l) for l in layers if l.get("kind") != "embedding")
    flops = 2 * params
    bits = 8 * after / max(1, sum(params_of(l) for l in layers))
    seconds = sum(r.get("seconds", 0) or 0 for _, r in reports)
    title = a.title or "Slim compression report: " + ", ".join(os.path.basename(p) for p, _ in reports)

    summary = [("layers", f"{len(layers)}"), ("bytes before", human_bytes(before)),
               ("bytes after", human_bytes(after)), ("ratio", f"{before / after:.2f}×" if after else "—"),
               ("parameters (linear layers)", f"{params:,}"), ("FLOPs per token (linear layers)", f"{flops:,}"),
               ("bits per weight", f"{bits:.2f}")]
    if a.perplexity is not None:
        summary.append(("perplexity", f"{a.perplexity:.4g}"))
    if seconds:
        summary.append(("compression time", f"{seconds:.1f} s"))

    provenance = []
    for path, r in reports:
        stats = r.get("stats")
        if isinstance(stats, dict):
            stats = f"{stats.get('path', '')} (source {stats.get('source', '?')}, xxh3 {stats.get('xxh3', '?')})"
        provenance.append((os.path.basename(path), r.get("recipe") or r.get("method", "?"),
                           f"Slim {r.get('slim_version', '?')} {r.get('slim_commit', '')}".strip(), stats or "—"))

    def error_of(l):
        e = l.get("output_rel_error")
        return (e, "output") if isinstance(e, (int, float)) else (l.get("weight_rel_error"), "weight")

    ranked = sorted((l for l in layers if error_of(l)[0] is not None), key=lambda l: -error_of(l)[0])
    worst = ranked[:10]

    figures = []
    names = [l["layer"] for l in layers]
    errors = [error_of(l)[0] for l in layers]
    kinds = {error_of(l)[1] for l in layers if error_of(l)[0] is not None}
    fig, ax = plt.subplots(figsize=(9, 3))
    xs = [i for i, e in enumerate(errors) if e is not None]
    ax.bar(xs, [errors[i] for i in xs], width=0.8, color="#4477aa")
    ax.set_xlabel("layer (model order)")
    ax.set_ylabel(" / ".join(sorted(kinds)) + " relative error")
    ax.set_title("Relative error per layer")
    ax.set_xlim(-1, len(layers))
    figures.append(("Error per layer", svg(fig), "per-layer-error"))

    fig, ax = plt.subplots(figsize=(9, 3))
    bpw = [8 * l.get("bytes_after", 0) / max(1, params_of(l)) for l in layers]
    ax.bar(range(len(layers)), bpw, width=0.8, color="#228833")
    ax.axhline(32, color="#999999", linestyle="--", linewidth=0.8)
    ax.set_xlabel("layer (model order)")
    ax.set_ylabel("bits per weight")
    ax.set_title("Bits per weight per layer (dashed: fp32)")
    figures.append(("Bits per layer", svg(fig), "bits-per-layer"))

    quality_rows = []
    if a.quality:
        try:
            with open(a.quality, encoding="utf-8") as f:
                q = json.load(f)
            rows = q["rows"]
            split = a.split or next(iter(q["meta"]["heldout"]))
        except (OSError, KeyError, StopIteration, json.JSONDecodeError, TypeError) as e:
            fail(f"{a.quality}: not bench/quality.py's results.json ({e})")
        points = [(r["bytes"], r[split][0], r["name"], r.get("tool", "?")) for r in rows
                  if isinstance(r.get(split), list) and r.get("bytes") and r[split][0] < 1e3]
        if not points:
            fail(f"{a.quality}: no rows with bytes and a perplexity on '{split}'")
        front = pareto([(b, p) for b, p, _, _ in points])
        fig, ax = plt.subplots(figsize=(8, 4.5))
        colors = {"slim": "#4477aa", "onnxruntime": "#ee6677", "llama.cpp": "#228833"}
        for tool in sorted({t for *_, t in points}):
            sel = [pt for pt in points if pt[3] == tool]
            ax.scatter([b / 1e6 for b, *_ in sel], [p for _, p, *_ in sel], s=18, label=tool,
                       color=colors.get(tool, "#aa3377"))
        ax.plot([points[i][0] / 1e6 for i in front], [points[i][1] for i in front], color="#555555",
                linewidth=1, label="Pareto front")
        for i in front:
            ax.annotate(points[i][2], (points[i][0] / 1e6, points[i][1]), fontsize=7,
                        xytext=(3, 3), textcoords="offset points")
        ax.set_xlabel("model bytes (MB)")
        ax.set_ylabel(f"perplexity ({split})")
        ax.set_title("Perplexity vs size")
        ax.legend()
        figures.append(("Perplexity vs bytes", svg(fig), "pareto"))
        quality_rows = sorted(points, key=lambda p: p[0])

    css = """body{font-family:sans-serif;margin:2em;max-width:1100px;color:#222}
table{border-collapse:collapse;margin:0.5em 0 1.5em}td,th{border:1px solid #ccc;padding:3px 8px;
text-align:left;font-size:90%}th{background:#f2f2f2}code{font-size:90%}h2{margin-top:1.5em}
.num{text-align:right}figure{margin:0 0 1.5em}"""
    out = ["<!DOCTYPE html>", "<html lang='en'><head><meta charset='utf-8'>",
           f"<title>{html.escape(title)}</title><style>{css}</style></head><body>",
           f"<h1>{html.escape(title)}</h1>", "<h2 id='summary'>Summary</h2><table id='summary-table'>"]
    out += [f"<tr><th>{html.escape(k)}</th><td class='num'>{html.escape(v)}</td></tr>" for k, v in summary]
    out += ["</table>", "<h2 id='recipe'>Recipe and provenance</h2><table id='provenance'>",
            "<tr><th>report</th><th>recipe</th><th>built by</th><th>statistics</th></tr>"]
    out += [f"<tr><td>{fmt(f)}</td><td><code>{fmt(r)}</code></td><td>{fmt(v)}</td><td>{fmt(s)}</td></tr>"
            for f, r, v, s in provenance]
    out += ["</table>", "<h2 id='worst'>Worst layers</h2><table id='worst-layers'>",
            "<tr><th>layer</th><th>shape</th><th>method</th><th>bits</th><th>error</th><th>bytes after</th></tr>"]
    for l in worst:
        e, kind = error_of(l)
        out.append(f"<tr><td>{fmt(l['layer'])}</td><td>{fmt('×'.join(map(str, l.get('shape', []))))}</td>"
                   f"<td>{fmt(l.get('method'))}</td><td class='num'>{fmt(l.get('bits'))}</td>"
                   f"<td class='num'>{fmt(e)} ({kind})</td><td class='num'>{fmt(l.get('bytes_after'))}</td></tr>")
    out.append("</table>")
    for caption, image, ident in figures:
        out.append(f"<h2>{html.escape(caption)}</h2><figure id='{ident}'>{image}</figure>")
    if quality_rows:
        out += ["<h2 id='quality'>Quality table</h2><table id='quality-table'>",
                "<tr><th>row</th><th>tool</th><th>bytes</th><th>perplexity</th></tr>"]
        out += [f"<tr><td>{fmt(n)}</td><td>{fmt(t)}</td><td class='num'>{human_bytes(b)}</td>"
                f"<td class='num'>{p:.4g}</td></tr>" for b, p, n, t in quality_rows]
        out.append("</table>")
    out.append("</body></html>")

    target = os.path.abspath(a.output)
    fd, tmp = tempfile.mkstemp(prefix=".slim_report.", suffix=".tmp", dir=os.path.dirname(target))
    umask = os.umask(0)
    os.umask(umask)
    try:
        os.chmod(tmp, 0o666 & ~umask)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write("\n".join(out) + "\n")
        os.replace(tmp, target)
    except OSError as e:
        if os.path.exists(tmp):
            os.remove(tmp)
        fail(f"cannot write {a.output}: {e.strerror}")
    print(f"slim_report: wrote {a.output}: {len(layers)} layers, {len(figures)} plots")
    return 0


if __name__ == "__main__":
    sys.exit(main())
