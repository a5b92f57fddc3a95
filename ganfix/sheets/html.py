"""Static HTML index of a sheet folder: grouped sheets first, then every unit's sheet, lazily loaded."""
from __future__ import annotations

from html import escape

STYLE = """
body{margin:0;background:#1c1d20;color:#e8e9eb;font:14px/1.45 system-ui,sans-serif}
header{padding:18px 24px;border-bottom:1px solid #33363c}
h1{margin:0 0 4px;font-size:20px;font-weight:600} .muted{color:#969ba3}
main{padding:16px 24px} h2{font-size:15px;font-weight:600;margin:22px 0 10px}
.groups a{display:inline-block;margin:0 8px 8px 0;padding:4px 10px;border:1px solid #3a3d44;border-radius:6px;color:#ffd600;text-decoration:none}
.grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(460px,1fr));gap:14px}
.card{background:#26282d;border-radius:8px;padding:8px}
.card img{width:100%;display:block;image-rendering:pixelated;border-radius:4px}
.card a{color:inherit;text-decoration:none} .card .cap{padding:4px 2px 0}
"""


def score_text(u: dict) -> str:
    # The ablation ranking's score is −ΔFID: show the ΔFID itself.
    return f"ΔFID alone {-u['score']:+.3g}" if u.get("by") == "ablation" else f"score {u['score']:.3g}"


def index_html(manifest: dict) -> str:
    m = manifest
    title = f"{m['model']['name']} · {m['layer']}"
    groups = "".join(
        f'<a href="{escape(g["file"])}">units {escape(", ".join(map(str, g["units"][:3])))}'
        f'{"…" if len(g["units"]) > 3 else ""} ({len(g["units"])})</a>' for g in m["groups"])
    cards = "".join(
        f'<div class="card" id="unit-{u["unit"]}"><a href="{escape(u["file"])}">'
        f'<img loading="lazy" src="{escape(u["file"])}" alt="unit {u["unit"]}">'
        f'<div class="cap"><b>unit {u["unit"]}</b> <span class="muted">rank {u["rank"]} · '
        f'{score_text(u)} · '
        f'top max {u["top_max"]:.3g} · rate {u["rate"]:.3f}</span></div></a>'
        + (f'<a class="muted small" href="{escape(u["plain"])}">without overlay</a>' if u.get("plain") else "")
        + '</div>' for u in m["units"])
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{escape(title)} · ganfix sheets</title>
<meta name="viewport" content="width=device-width, initial-scale=1"><style>{STYLE}</style></head>
<body><header><h1>{escape(title)}</h1><div class="muted">{len(m['units'])} units ranked by {escape(m['by'])} ·
top {m['k']} of {m['samples']} samples (seed {m['seed']}) · mask: activation ≥ per-unit q{m['quantile']:g} ·
fingerprint {escape(m['model']['fingerprint'])}</div></header>
<main><h2>Grouped sheets</h2><div class="groups">{groups}</div>
<h2>Units, in ranking order</h2><div class="grid">{cards}</div></main></body></html>
"""
