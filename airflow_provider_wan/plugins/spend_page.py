"""The "Runware" view as one self-contained HTML page: tables and an inline SVG chart (no CDN).

Airflow shows the page in a sandboxed iframe that may not navigate the top window, but is same-origin: the
one script hands a link to Airflow's own page to the UI's router (``history.pushState`` + ``popstate`` in
the top window), so the task instance opens in the UI rather than inside the iframe.
"""

from __future__ import annotations

from html import escape
from urllib.parse import quote

from airflow_provider_wan.plugins.spend_report import SpendReport, TaskRecord, Totals

WINDOWS = (1, 7, 30, 90)
# Colour-blind-safe palette (Okabe-Ito); DAGs past the eighth share the last colour.
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#999999")
RECENT_ROWS = 50

TOP_LINKS = """
document.addEventListener("click", (event) => {
  const link = event.target.closest("a[target=_top]");
  if (!link || window.top === window) return;
  event.preventDefault();
  try {
    window.top.history.pushState(null, "", link.href);
    window.top.dispatchEvent(new PopStateEvent("popstate", {state: null}));
  } catch (error) {
    window.location.href = link.href;
  }
});
"""

STYLE = """
body{font-family:system-ui,sans-serif;margin:16px;color:#1a202c;font-size:14px}
h1{font-size:20px;margin:0 0 4px}h2{font-size:16px;margin:24px 0 8px}
.muted{color:#718096}.cards{display:flex;gap:12px;flex-wrap:wrap;margin:12px 0}
.card{border:1px solid #e2e8f0;border-radius:8px;padding:8px 14px;min-width:110px}
.card b{display:block;font-size:20px}table{border-collapse:collapse;min-width:60%}
th,td{border-bottom:1px solid #e2e8f0;padding:4px 10px;text-align:right}
th:first-child,td:first-child,td.l,th.l{text-align:left}a{color:#0072B2}
form{display:inline}select,button{font-size:14px}.failed{color:#c53030}
"""


def _usd(value: float | None) -> str:
    return "—" if value is None else f"${value:,.2f}"


def _seconds(value: float | None) -> str:
    if value is None:
        return "—"
    return f"{value:,.0f} s" if value < 120 else f"{value / 60:,.1f} min"


def task_instance_path(ui_root: str, record: TaskRecord) -> str:
    """The task instance's page in Airflow's UI."""
    path = (
        f"{ui_root.rstrip('/')}/dags/{quote(record.dag_id, safe='')}/runs/{quote(record.run_id, safe='')}"
        f"/tasks/{quote(record.task_id, safe='')}"
    )
    return f"{path}/mapped/{record.map_index}" if record.map_index >= 0 else path


def _row(label: str, totals: Totals) -> str:
    failures = f'<td class="failed">{totals.failures}</td>' if totals.failures else "<td>0</td>"
    return (
        f"<tr><td>{label}</td><td>{totals.tasks}</td><td>{_usd(totals.spend)}</td>"
        f"<td>{_usd(totals.estimated)}</td><td>{totals.videos}</td><td>{_seconds(totals.video_seconds)}</td>"
        f"{failures}<td>{_seconds(totals.mean_generation_seconds)}</td></tr>"
    )


HEAD = (
    "<tr><th>{first}</th><th>Tasks</th><th>Spend</th><th>Estimated</th><th>Videos</th>"
    "<th>Seconds of video</th><th>Failures</th><th>Mean generation time</th></tr>"
)


def chart_svg(report: SpendReport, width: int = 760, height: int = 240) -> str:
    """Spend per day, one stacked bar per day with a segment per DAG; a legend below."""
    days = list(report.per_day)
    colours = {dag: PALETTE[min(i, len(PALETTE) - 1)] for i, dag in enumerate(report.dag_ids)}
    left, bottom, top = 56, 28, 10
    plot_w, plot_h = width - left - 10, height - bottom - top
    peak = max((sum(report.per_day_dag[d].values()) for d in days), default=0.0) or 1.0
    slot = plot_w / max(len(days), 1)
    bar = max(2.0, slot * 0.7)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" aria-label="Spend per day, stacked by DAG">',
        f'<line x1="{left}" y1="{top + plot_h}" x2="{left + plot_w}" y2="{top + plot_h}" stroke="#a0aec0"/>',
    ]
    for fraction in (0.0, 0.5, 1.0):
        y = top + plot_h * (1 - fraction)
        parts.append(
            f'<text x="{left - 6}" y="{y + 4:.1f}" font-size="11" text-anchor="end" fill="#4a5568">'
            f"{_usd(peak * fraction)}</text>"
        )
    label_every = max(1, len(days) // 10)
    for i, day in enumerate(days):
        x = left + i * slot + (slot - bar) / 2
        y = top + plot_h
        for dag in report.dag_ids:
            spend = report.per_day_dag[day].get(dag, 0.0)
            if spend <= 0:
                continue
            h = plot_h * spend / peak
            y -= h
            parts.append(
                f'<rect class="bar" x="{x:.1f}" y="{y:.1f}" width="{bar:.1f}" height="{h:.1f}" '
                f'fill="{colours[dag]}"><title>{escape(dag)} {day.isoformat()}: {_usd(spend)}</title></rect>'
            )
        if i % label_every == 0:
            parts.append(
                f'<text x="{x + bar / 2:.1f}" y="{height - 10}" font-size="11" text-anchor="middle" '
                f'fill="#4a5568">{day.strftime("%m-%d")}</text>'
            )
    parts.append("</svg>")
    legend = "".join(
        f'<span style="margin-right:14px"><span style="display:inline-block;width:10px;height:10px;'
        f'background:{colour}"></span> {escape(dag)}</span>'
        for dag, colour in colours.items()
    )
    return "".join(parts) + f'<div class="legend">{legend}</div>'


def render_page(report: SpendReport, *, ui_root: str = "/") -> str:
    """The whole page for one window."""
    options = "".join(
        f'<option value="{d}"{" selected" if d == report.days else ""}>last {d} day{"s" if d > 1 else ""}'
        "</option>"
        for d in sorted({*WINDOWS, report.days})
    )
    total = report.total
    cards = "".join(
        f'<div class="card"><span class="muted">{name}</span><b data-metric="{key}">{value}</b></div>'
        for key, name, value in (
            ("spend", "Spend", _usd(total.spend)),
            ("estimated", "Estimated", _usd(total.estimated)),
            ("videos", "Videos", str(total.videos)),
            ("video_seconds", "Seconds of video", _seconds(total.video_seconds)),
            ("failures", "Failures", str(total.failures)),
            ("generation", "Mean generation time", _seconds(total.mean_generation_seconds)),
        )
    )
    dag_root = ui_root.rstrip("/")
    per_dag = "".join(
        _row(
            f'<a target="_top" href="{dag_root}/dags/{quote(d, safe="")}">{escape(d)}</a>', report.per_dag[d]
        )
        for d in report.dag_ids
    )
    per_day = "".join(
        _row(day.isoformat(), totals) for day, totals in reversed(report.per_day.items()) if totals.tasks
    )
    recent = "".join(
        f'<tr><td class="l">{r.when:%Y-%m-%d %H:%M}</td><td class="l">{escape(r.dag_id)}</td>'
        f'<td class="l"><a target="_top" href="{escape(task_instance_path(ui_root, r))}">'
        f"{escape(r.task_id)}{f'[{r.map_index}]' if r.map_index >= 0 else ''}</a></td>"
        f'<td class="l{" failed" if r.failed else ""}">{escape(r.state or "—")}</td>'
        f"<td>{_usd(r.cost)}</td><td>{r.videos}</td></tr>"
        for r in report.records[:RECENT_ROWS]
    )
    first_day = min(report.per_day).isoformat() if report.per_day else ""
    empty = '<p class="muted">No Runware task ran in this window.</p>' if not report.records else ""
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Runware spend</title><style>{STYLE}</style></head>
<body>
<h1>Runware spend</h1>
<p class="muted">What the WanVideoOperator, RunwareVideoOperator, @task.wan_video and RunwareVideoSensor
tasks recorded, {first_day} to {report.today.isoformat()} (UTC).
<form method="get"><select name="days" aria-label="Window">{options}</select>
<button type="submit">Show</button></form></p>
{empty}<div class="cards">{cards}</div>
<h2>Spend per day, by DAG</h2>
{chart_svg(report)}
<h2>Per DAG</h2><table id="per-dag">{HEAD.format(first="DAG")}{per_dag}</table>
<h2>Per day</h2><table id="per-day">{HEAD.format(first="Day")}{per_day}</table>
<h2>Latest tasks</h2>
<table id="tasks">
<tr><th>Finished</th><th class="l">DAG</th><th class="l">Task</th><th class="l">State</th><th>Cost</th>
<th>Videos</th></tr>
{recent}</table>
<script>{TOP_LINKS}</script>
</body></html>
"""
