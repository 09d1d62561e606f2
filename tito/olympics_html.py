"""The leaderboard as one static HTML page: every cell escaped, no script, no outside resources."""

from __future__ import annotations

from html import escape

STYLE = """body{font-family:system-ui,sans-serif;margin:2em auto;max-width:75em;padding:0 1em;color:#222}
table{border-collapse:collapse;width:100%;margin-bottom:2em;font-size:.9em}
th,td{border-bottom:1px solid #ddd;padding:.3em .5em;text-align:left;vertical-align:top}
th{background:#f3f3f3}tr.out td{color:#888}.rules{color:#555;max-width:60em}"""


def render(tables: list, headers: list[str], generated: str, machine: str = "") -> str:
    """`tables`: (event, rows) pairs; an event has .key, .title, .rules; rows are lists of strings."""
    parts = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
             "<title>TorchPerf Olympics leaderboard</title>", f"<style>{STYLE}</style></head><body>",
             "<h1>TorchPerf Olympics leaderboard</h1>",
             f"<p>Generated {escape(generated)} by <code>tito olympics leaderboard</code>. Every entry was run "
             "in its own process on the held-out MNIST images and measured with module 19's harness.</p>",
             f"<p>The reference was {escape(machine)}.</p>" if machine else ""]
    for event, rows in tables:
        parts.append(f'<h2 id="{escape(event.key)}">{escape(event.title)}</h2>')
        parts.append(f'<p class="rules">{escape(event.rules)}</p>')
        if not rows:
            parts.append("<p>No submissions yet.</p>")
            continue
        parts.append("<table><thead><tr>" + "".join(f"<th>{escape(h)}</th>" for h in headers) + "</tr></thead><tbody>")
        for row in rows:
            cells = "".join(f"<td>{escape(cell)}</td>" for cell in row)
            opening = "<tr>" if row[0] != "-" else '<tr class="out">'  # unranked rows greyed out
            parts.append(f"{opening}{cells}</tr>")
        parts.append("</tbody></table>")
    parts.append("</body></html>\n")
    return "\n".join(parts)
