"""The suite's HTML gallery: one page, the summary table, then every picture as a thumbnail with its figures.

Thumbnails are JPEGs beside the page; a click opens the full-size PNG. Opens in any browser
from the output folder (no server).
"""
from __future__ import annotations

import html
from pathlib import Path

import cv2

from .grid import key, set_totals

STYLE = """body{font:14px system-ui,sans-serif;margin:16px;background:#111;color:#ddd}
table{border-collapse:collapse;margin-bottom:16px}td,th{padding:2px 8px;border-bottom:1px solid #333;text-align:right}
th:first-child,td:first-child{text-align:left}h2{margin:20px 0 6px}
.grid{display:flex;flex-wrap:wrap;gap:8px}.cell{width:240px}.cell img{width:240px;display:block}
.cell div{font-size:12px;line-height:1.3}.hit{color:#7d7}.miss{color:#e77}"""


def _thumb(folder: Path, name: str, width: int = 240) -> str:
    thumb = f"thumb_{Path(name).stem}.jpg"
    image = cv2.imread(str(folder / name), cv2.IMREAD_COLOR)
    h = round(image.shape[0] * width / image.shape[1])
    cv2.imwrite(str(folder / thumb), cv2.resize(image, (width, h), interpolation=cv2.INTER_AREA),
                [cv2.IMWRITE_JPEG_QUALITY, 80])
    return thumb


def _caption(r: dict) -> str:
    parts = [html.escape(r["target"]) + (f" at {r['at_s']:g} s" if r["at_s"] is not None else "")]
    if r["colour"] is not None:
        hit = "hit" if r["colour"] == 1 else "miss"
        parts.append(f'<span class="{hit}">#{r["colour"]} colour</span>, #{r["grey"]} grey')
    figures = f"scene {r['scene_kept']:.2f}, colours {r['variety']:.2f}x, detail {r.get('detail', 0.0):.2f}"
    if r["sky_kept"] is not None:
        figures += f", sky {r['sky_kept']:.0%}"
    parts.append(figures)
    return "<br>".join(parts)


def write_gallery(folder: Path, rows: list[dict], summary: list[dict], title: str, notes: list[str]) -> Path:
    """``folder/index.html`` for ``rows`` (pictures in ``folder``) and ``summary``; returns its path."""
    lines = [f"<!doctype html><meta charset=utf-8><title>{html.escape(title)}</title><style>{STYLE}</style>",
             f"<h1>{html.escape(title)}</h1>"] + [f"<p>{html.escape(n)}</p>" for n in notes]
    lines.append("<table><tr><th>set / mode</th><th>classes</th><th>top-1 colour</th><th>top-5 grey</th></tr>")
    for t in set_totals(summary):
        lines.append(f"<tr><td>{html.escape(key(t, 'set'))}</td><td>{t['n']}</td>"
                     f"<td>{t['top1_colour']}</td><td>{t['top5_grey']}</td></tr>")
    lines.append("</table>")
    lines.append("<table><tr><th>cell</th><th>set</th><th>classes</th><th>top-1 colour</th><th>top-5 grey</th>"
                 "<th>scene kept</th><th>min</th><th>colour variety</th><th>sky kept</th></tr>")
    for s in summary:
        sky = "" if s["sky_kept"] is None else f"{s['sky_kept']:.0%}"
        ranks = [s["n"], s["top1_colour"], s["top5_grey"]] if s["n"] else ["", "", ""]  # layer cells: no class
        lines.append(f"<tr><td>{html.escape(key(s))}</td><td>{s['set']}</td><td>{ranks[0]}</td><td>{ranks[1]}</td>"
                     f"<td>{ranks[2]}</td><td>{s['scene_kept']:.2f}</td><td>{s['scene_kept_min']:.2f}</td>"
                     f"<td>{s['variety']:.2f}x</td><td>{sky}</td></tr>")
    lines.append("</table>")
    groups: dict[str, list[dict]] = {}
    for r in rows:
        groups.setdefault(f"{r['photo']} ({r['set']}) / {r['mode']}", []).append(r)
    for name, rs in groups.items():
        lines.append(f"<h2>{html.escape(name)}</h2><div class=grid>")
        first = rs[0]
        lines.append(f'<div class=cell><a href="{first["input"]}"><img src="{_thumb(folder, first["input"])}"></a>'
                     f"<div>input</div></div>")
        for r in rs:
            lines.append(f'<div class=cell><a href="{r["file"]}"><img src="{_thumb(folder, r["file"])}"></a>'
                         f"<div>{_caption(r)}</div></div>")
        lines.append("</div>")
    path = folder / "index.html"
    path.write_text("\n".join(lines) + "\n")
    return path
