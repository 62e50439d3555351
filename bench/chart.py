"""Draw the benchmark's user path as a chart: seconds against triples, one line per command.

    pip install '.[bench]' && python bench/chart.py [bench/results/bench.json] [-o docs/img/benchmark.png]

Reads the report bench/run.py writes (the `user` step: what a user waits for, each `kg` command
as its own process on the fast engine) and draws, on log-log axes, the median time of each
command at each synthetic size. Deterministic: the same report gives the same picture.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

HERE = Path(__file__).resolve().parent
# The commands drawn, in legend order (the rest of the user step is in the table).
SHOWN = (
    ("user:first-answer", "first answer (reason + validate + query, empty cache)"),
    ("user:cached-answer", "the same answer, cached"),
    ("user:validate", "kg validate"),
    ("user:reason -o .nt", "kg reason -o .nt"),
    ("user:reason -o .ttl", "kg reason -o .ttl"),
    ("user:export -o .graphml", "kg export -o .graphml"),
    ("user:export -o .html", "kg export -o .html (the page)"),
)


def draw(report: dict, output: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.rcParams["svg.hashsalt"] = "battery-kg"
    figure, axes = plt.subplots(figsize=(8, 5), dpi=100)
    rows = [r for r in report["results"] if r["engine"] == "fast" and isinstance(r["size"], int) and "median_s" in r]
    for step, label in SHOWN:
        points = sorted((r["size"], r["median_s"]) for r in rows if r["step"] == step)
        if points:
            sizes, seconds = zip(*points, strict=True)
            axes.plot(sizes, seconds, marker="o", label=label)
    axes.set_xscale("log")
    axes.set_yscale("log")
    axes.set_xlabel("triples in the user's file (kg synth)")
    axes.set_ylabel("seconds (median)")
    axes.set_title(f"What a user waits for — {report['machine']}", fontsize=9)
    axes.grid(True, which="both", linewidth=0.3)
    axes.legend(fontsize=8)
    figure.tight_layout()
    output.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(output, metadata={"Software": None})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("report", nargs="?", type=Path, default=HERE / "results" / "bench.json")
    parser.add_argument("-o", "--output", type=Path, default=HERE / "results" / "benchmark.png")
    args = parser.parse_args()
    draw(json.loads(args.report.read_text(encoding="utf-8")), args.output)
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
