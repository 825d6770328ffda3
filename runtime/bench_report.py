"""`bench --report DIR`: report.json, summary.md and PNG plots of one bench run (matplotlib, optional)."""

from __future__ import annotations

import json
from pathlib import Path


def write_report(report: dict, folder: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    folder.mkdir(parents=True, exist_ok=True)
    (folder / "report.json").write_text(json.dumps(report, indent=2) + "\n")
    rows = report["synthesis"]
    backends = list(dict.fromkeys(r["backend"] for r in rows))
    plots = []

    fig, axes = plt.subplots(1, 3, figsize=(13, 3.8))
    for backend in backends:
        mine = sorted((r for r in rows if r["backend"] == backend), key=lambda r: r["audio_s"])
        axes[0].plot([r["audio_s"] for r in mine], [r["synth_s"] for r in mine], "o-", label=backend)
    axes[0].set(xlabel="audio (s)", ylabel="synthesis (s)", title="synthesis time vs length")
    axes[0].legend(fontsize=8)
    cases = list(dict.fromkeys(r["case"] for r in rows))
    width = 0.8 / max(len(backends), 1)
    for k, backend in enumerate(backends):
        mine = {r["case"]: r for r in rows if r["backend"] == backend}
        xs = [i + k * width for i, c in enumerate(cases) if c in mine]
        axes[1].bar(xs, [mine[c]["first_audio_s"] for c in cases if c in mine], width, label=backend)
        axes[2].bar(xs, [mine[c]["peak_rss_mb"] for c in cases if c in mine], width, label=backend)
    for ax, title, unit in ((axes[1], "first audio (warm)", "s"), (axes[2], "peak RSS", "MB")):
        ax.set_xticks([i + width * (len(backends) - 1) / 2 for i in range(len(cases))], cases)
        ax.set(title=title, ylabel=unit)
    fig.tight_layout()
    fig.savefig(folder / "summary.png", dpi=80)
    plt.close(fig)
    plots.append("summary.png")

    stage_rows = [r for r in rows if r.get("signature_s")]
    if stage_rows:
        row = stage_rows[0]
        names = list(row["signature_s"])
        fig, ax = plt.subplots(figsize=(11, 3.5))
        colors = {"predictor": "tab:blue", "prosody": "tab:orange", "vocoder": "tab:green"}
        ax.bar(range(len(names)), [row["signature_s"][n] for n in names],
               color=[colors[n.split("/")[0]] for n in names])
        ax.set_xticks(range(len(names)), [n.split("/")[1] for n in names], rotation=60, fontsize=7)
        ax.set(ylabel="s per call", title=f"{row['backend']}: warm time per signature (blue predictor, orange "
                                           "prosody, green vocoder)")
        fig.tight_layout()
        fig.savefig(folder / "stages.png", dpi=80)
        plt.close(fig)
        plots.append("stages.png")

    lines = ["# kokoro-litert bench", "", f"Machine: {report['machine']['cpu']}, {report['machine']['cores']} cores, "
             f"{report['machine']['threads']} threads; " + ", ".join(f"{k} {v}" for k, v in report['machine']['versions'].items()),
             "", "| backend | case | words | audio s | RTF | first audio s | peak RSS MB |", "|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['backend']} | {r['case']} | {r['words']} | {r['audio_s']:.1f} | {r['rtf']:.3f} | "
                     f"{r['first_audio_s']:.2f} | {r['peak_rss_mb']:.0f} |")
    if report.get("time_vs_kokoro_onnx"):
        lines += ["", "Synthesis time relative to kokoro-onnx (same run): " + "; ".join(
            f"{b} " + ", ".join(f"{c} {v:.2f}x" for c, v in by.items()) for b, by in report["time_vs_kokoro_onnx"].items())]
    if report.get("cold"):
        lines += ["", "Cold start (fresh process, 10-word sentence): " + "; ".join(
            f"{k} {v['median_s']:.2f} s" for k, v in report["cold"].items())]
    if report.get("load"):
        lines += ["", "Load (creation + first call of the smallest signature): " + "; ".join(
            f"{s} {v['create_s'] + v['first_call_s']:.3f} s" for s, v in report["load"]["stages"].items())]
    lines += ["", *(f"![{p}]({p})" for p in plots), ""]
    (folder / "summary.md").write_text("\n".join(lines))
