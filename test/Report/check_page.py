#!/usr/bin/env python3
# Part of the Slim project, under the Apache License v2.0 with LLVM Exceptions.
# SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
"""Loads an HTML report in headless Chromium and checks the page it renders: the DOM Chromium
built (not the file's text) has the summary, provenance and worst-layers tables with their rows,
every figure holds an SVG plot with drawn marks, nothing is fetched from elsewhere, and the
screenshot is a page with content. Exits 1 naming what is wrong.

Usage: check_page.py PAGE.html --work DIR --layers N --figures N [--quality-rows N]
"""

import argparse
import os
import subprocess
import sys
from html.parser import HTMLParser

CHROMIUM = "chromium-headless-shell"


class Dom(HTMLParser):
    def __init__(self):
        super().__init__()
        self.stack, self.tables, self.figures, self.external = [], {}, {}, []
        self.table = self.figure = None
        self.title = ""

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "table":
            self.table = attrs.get("id")
            self.tables[self.table] = 0
        elif tag == "tr" and self.table:
            self.tables[self.table] += 1
        elif tag == "figure":
            self.figure = attrs.get("id")
            self.figures[self.figure] = {"svg": 0, "marks": 0}
        elif self.figure and tag == "svg":
            self.figures[self.figure]["svg"] += 1
        elif self.figure and tag in ("path", "use", "rect", "line", "polyline"):
            self.figures[self.figure]["marks"] += 1
        for key in ("src", "href"):
            v = attrs.get(key, "")
            if v and not v.startswith(("#", "data:")):
                self.external.append(v)
        self.stack.append(tag)

    def handle_endtag(self, tag):
        if tag == "table":
            self.table = None
        elif tag == "figure":
            self.figure = None

    def handle_data(self, data):
        if self.stack and self.stack[-1] == "title":
            self.title += data


def main():
    p = argparse.ArgumentParser()
    p.add_argument("page")
    p.add_argument("--work", required=True)
    p.add_argument("--layers", type=int, required=True)
    p.add_argument("--figures", type=int, required=True)
    p.add_argument("--quality-rows", type=int, default=0)
    a = p.parse_args()
    url = "file://" + os.path.abspath(a.page)
    common = [CHROMIUM, "--no-sandbox", "--disable-gpu", f"--user-data-dir={a.work}/profile"]
    r = subprocess.run(common + ["--dump-dom", url], capture_output=True, text=True, timeout=120)
    if r.returncode != 0 or "<body" not in r.stdout:
        sys.exit(f"check_page: Chromium could not render {a.page}: {r.stderr[-500:]}")
    dom = Dom()
    dom.feed(r.stdout)
    problems = []
    if "Slim compression report" not in dom.title:
        problems.append(f"title is '{dom.title}'")
    expected = {"summary-table": 7, "provenance": 2, "worst-layers": 1 + min(10, a.layers)}
    if a.quality_rows:
        expected["quality-table"] = 1 + a.quality_rows
    for table, rows in expected.items():
        got = dom.tables.get(table)
        if got is None or got < rows:
            problems.append(f"table '{table}' has {got} rows, expected at least {rows}")
    if len(dom.figures) != a.figures:
        problems.append(f"{len(dom.figures)} figures, expected {a.figures}")
    for name, f in dom.figures.items():
        if f["svg"] != 1 or f["marks"] < 10:
            problems.append(f"figure '{name}': {f['svg']} SVG, {f['marks']} marks")
    if dom.external:
        problems.append(f"the page fetches other files: {dom.external[:3]}")
    shot = os.path.join(a.work, "page.png")
    subprocess.run(common + [f"--screenshot={shot}", "--window-size=1200,2400", url], capture_output=True,
                   timeout=120)
    try:
        from PIL import Image
        im = Image.open(shot).convert("L")
        lo, hi = im.getextrema()
        if hi - lo < 100:
            problems.append("the screenshot is blank")
    except (OSError, ImportError) as e:
        problems.append(f"no screenshot ({e})")
    if problems:
        sys.exit("check_page: " + "; ".join(problems))
    print(f"page ok: {len(dom.figures)} figures with SVG plots, tables "
          + ", ".join(f"{k} {v}" for k, v in sorted(dom.tables.items())) + ", self-contained, rendered")


if __name__ == "__main__":
    main()
