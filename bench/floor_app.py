"""The floor: a bare Flask page of 50 rows, served like the app (gunicorn, 2 workers).

No database, no login, no extensions: what any Flask page costs on this machine. The board's
req/s is reported as a share of this, measured in the same run, so a noisy machine moves both.
"""

from flask import Flask, render_template_string

app = Flask(__name__)

PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Floor</title></head>
<body><main><h1>Deals</h1><table><thead><tr><th>Deal</th><th>Stage</th><th>Amount</th></tr></thead><tbody>
{% for row in rows %}<tr><td><a href="/deals/{{ row.id }}">{{ row.title }}</a></td><td>{{ row.stage }}</td>
<td>{{ row.amount }}</td></tr>{% endfor %}
</tbody></table></main></body></html>"""

ROWS = [{"id": i, "title": f"Acme deal {i}", "stage": "Discovery", "amount": f"${i * 250:,}"} for i in range(1, 51)]


@app.get("/")
def floor():
    return render_template_string(PAGE, rows=ROWS)
