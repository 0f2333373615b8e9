"""The reports on paper and on a phone, in real Chromium, with the demo organisation's data (`flask
seed-demo`): every table prints whole on A4 and Letter, in few sheets; on a phone each wide table
scrolls inside its own focusable region, its first column pinned and a shadow saying there is more."""

import math
import re
import struct
import zlib

import pytest

from app.models import Pipeline, Sequence
from app.seed import DEMO_ADMIN, DEMO_PASSWORD, seed_demo
from tests.browser.conftest import DESKTOP, PHONE, no_sideways_scroll, screenshot
from tests.browser.test_accessibility import blocking_violations

PX_PER_MM = 96 / 25.4
PAPERS = {"A4": (210.0, 297.0), "Letter": (215.9, 279.4)}  # width, height in mm
CUE_PX = 24  # the white cover that hides the shadow once a table is scrolled to its end (app.css)


@pytest.fixture
def demo(app):
    """The demo organisation; its report URLs by name."""
    org, _created = seed_demo()
    pipeline = Pipeline.query.filter_by(org_id=org.id).order_by(Pipeline.id).first()
    sequence = Sequence.query.filter_by(org_id=org.id).order_by(Sequence.id).first()
    base = f"/reports/{pipeline.id}"
    return {"numbers": base, "review": f"{base}/review", "audit": f"{base}/audit",
            "drill": f"{base}/deals?metric=forecast&part=open", "sequence": f"/sequences/{sequence.id}"}


def sign_in(new_page, viewport):
    page = new_page(viewport=viewport)
    page.goto("/auth/login")
    page.get_by_label("Email").fill(DEMO_ADMIN)
    page.get_by_label("Password").fill(DEMO_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(lambda url: "/auth/login" not in url)
    return page


def page_margins_mm(page) -> list[float]:
    """The @page margins (top, right, bottom, left) that the page's print stylesheet sets, in mm."""
    found = page.evaluate("""() => {
      const pages = [];
      const walk = rules => { for (const r of rules) { if (r instanceof CSSPageRule) pages.push(r.style);
                                                       else if (r.cssRules) walk(r.cssRules); } };
      for (const sheet of document.styleSheets) walk(sheet.cssRules);
      const s = pages.at(-1);
      return s ? [s.marginTop, s.marginRight, s.marginBottom, s.marginLeft] : null;
    }""")
    assert found and all(m.endswith("mm") for m in found), f"no @page margins in mm: {found}"
    return [float(m[:-2]) for m in found]


def printable_px(page, paper) -> tuple[float, float]:
    """The width and height of a sheet's printable area in CSS pixels, as Chromium lays out print."""
    top, right, bottom, left = page_margins_mm(page)
    width, height = PAPERS[paper]
    return (width - left - right) * PX_PER_MM, (height - top - bottom) * PX_PER_MM


def tables_cut_in_print(page, width: float) -> list[str]:
    """Lay the page out for print at the printable width; name every table that does not fit it."""
    page.set_viewport_size({"width": math.floor(width), "height": 1000})
    page.emulate_media(media="print")
    return page.evaluate("""(width) => {
      const cut = [];
      for (const table of document.querySelectorAll('table')) {
        const box = table.closest('.table-region') || table;
        const right = table.getBoundingClientRect().right;
        if (right > width + 0.5 || box.scrollWidth > box.clientWidth + 1 || table.scrollWidth > table.clientWidth + 1)
          cut.push(`${table.querySelector('caption, th')?.textContent.trim()}: right ${right.toFixed(1)} of ${width.toFixed(1)}, `
                   + `scroll ${box.scrollWidth} in ${box.clientWidth}`);
      }
      if (document.documentElement.scrollWidth > width + 1) cut.push(`page ${document.documentElement.scrollWidth} wide`);
      return cut;
    }""", math.floor(width))


def sheets(pdf: bytes) -> int:
    """Count the PDF's pages: its /Type /Page objects (not the /Type /Pages tree)."""
    count = len(re.findall(rb"/Type\s*/Page(?![A-Za-z])", pdf))
    assert count >= 1, "not a PDF with pages"
    return count


def print_and_count(page, paper) -> int:
    width, _height = printable_px(page, paper)
    assert tables_cut_in_print(page, width) == [], paper
    return sheets(page.pdf(format=paper))


def test_numbers_print_whole_on_three_sheets_with_the_headline_and_funnel_first(new_page, demo):
    page = sign_in(new_page, DESKTOP)
    page.goto(demo["numbers"])
    page.get_by_role("heading", name="Stage conversion").wait_for()
    no_sideways_scroll(page)
    screenshot(page, "reports-numbers-desktop")
    assert page.locator("table").count() >= 8
    counts = {}
    for paper in PAPERS:
        counts[paper] = print_and_count(page, paper)
        _width, height = printable_px(page, paper)
        funnel_bottom = page.evaluate("""() => { const s = document.getElementById('h-conversion').closest('section');
                                                 return s.getBoundingClientRect().bottom + window.scrollY; }""")
        assert funnel_bottom <= height, f"{paper}: the funnel ends at {funnel_bottom:.0f}px of a {height:.0f}px sheet"
    assert page.locator(".report-controls").is_hidden() and page.locator(".csv-link").first.is_hidden()
    # Stage settings (an admin's tool: adopt a probability, set maximum days) stay on screen.
    assert page.locator("#calibration").is_hidden()
    screenshot(page, "reports-numbers-print")
    assert counts["A4"] <= 3 and counts["Letter"] <= 3, counts


def test_weekly_review_prints_two_reps_a_sheet(new_page, demo):
    page = sign_in(new_page, DESKTOP)
    page.goto(demo["review"])
    reps = page.locator(".review-owner").count()
    assert reps >= 3
    for paper in PAPERS:
        count = print_and_count(page, paper)
        assert count <= math.ceil(reps / 2) + 1, f"{paper}: {count} sheets for {reps} reps"
    screenshot(page, "reports-review-print")


def test_deal_audit_and_a_drill_down_print_whole(new_page, demo):
    page = sign_in(new_page, DESKTOP)
    page.goto(demo["audit"])
    deals = page.locator(".audit-deal").count()
    assert deals >= 4
    for paper in PAPERS:
        count = print_and_count(page, paper)
        assert count <= math.ceil(deals / 2) + 1, f"{paper}: {count} sheets for {deals} deals"
    page = sign_in(new_page, DESKTOP)
    page.goto(demo["drill"])
    assert page.locator("table tbody tr").count() >= 5
    for paper in PAPERS:
        assert print_and_count(page, paper) <= 2, paper


def png_rows(data: bytes) -> tuple[list[bytearray], int]:
    """Decode an 8-bit RGB(A) PNG (as Chromium's screenshots are): its rows of channel bytes, channels a pixel."""
    pos, idat = 8, b""
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        pos += 12 + length
        if kind == b"IHDR":
            width, height, depth, color = struct.unpack(">IIBB", body[:10])
            assert depth == 8 and color in (2, 6), (depth, color)
        elif kind == b"IDAT":
            idat += body
    n = 3 if color == 2 else 4
    stride = width * n
    raw = zlib.decompress(idat)
    rows, prev = [], bytearray(stride)
    for y in range(height):
        kind, line = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - n] if i >= n else 0
            b, c = prev[i], (prev[i - n] if i >= n else 0)
            if kind == 1:
                line[i] = (line[i] + a) & 255
            elif kind == 2:
                line[i] = (line[i] + b) & 255
            elif kind == 3:
                line[i] = (line[i] + (a + b) // 2) & 255
            elif kind == 4:
                p = a + b - c
                near = a if abs(p - a) <= abs(p - b) and abs(p - a) <= abs(p - c) else b if abs(p - b) <= abs(p - c) else c
                line[i] = (line[i] + near) & 255
        rows.append(line)
        prev = line
    return rows, n


def right_edge_lightness(page, region) -> float:
    """The mean lightness (0-255) of the region's rightmost 6 pixels, as the screen shows them."""
    box = region.bounding_box()
    rows, n = png_rows(page.screenshot(clip={"x": box["x"] + box["width"] - 6, "y": box["y"], "width": 6,
                                             "height": box["height"]}))
    values = [v for row in rows for i, v in enumerate(row) if i % n < 3]
    return sum(values) / len(values)


def scroll_to_end(region):
    region.evaluate("el => { el.scrollLeft = el.scrollWidth; }")


def check_tables_on_a_phone(page) -> int:
    """Every table region on the page: named and focusable, headers whole; a wide one keeps its first
    column in view when scrolled to its end. Return how many were wider than the phone."""
    no_sideways_scroll(page)
    regions = page.locator(".table-region")
    assert regions.count() >= 1
    assert page.evaluate("""() => [...document.querySelectorAll('table')].every(t => t.closest('.table-region'))"""), \
        "a table outside a scrolling region"
    cut = page.evaluate("""() => [...document.querySelectorAll('.table-region thead th')]
                                   .filter(th => th.scrollWidth > th.clientWidth + 1).map(th => th.textContent)""")
    assert cut == [], f"headers cut: {cut}"
    wide = 0
    for i in range(regions.count()):
        region = regions.nth(i)
        assert region.get_attribute("tabindex") == "0" and region.get_attribute("role") == "region"
        assert region.get_attribute("aria-label")
        if not region.evaluate("el => el.scrollWidth > el.clientWidth + 1"):
            continue
        wide += 1
        region.scroll_into_view_if_needed()
        hidden = region.evaluate("el => el.scrollWidth - el.clientWidth")
        before = right_edge_lightness(page, region)
        scroll_to_end(region)
        after = right_edge_lightness(page, region)
        if hidden > CUE_PX:  # a sliver hidden under the cue's own width shows a fainter shadow
            assert before < after - 8, f"no shadow on the right of {region.get_attribute('aria-label')}: {before:.0f} vs {after:.0f}"
        place = region.evaluate("""el => {
          const box = el.getBoundingClientRect(), first = el.querySelector('tbody tr > :first-child').getBoundingClientRect();
          const last = el.querySelector('thead tr > :last-child').getBoundingClientRect();
          return {scrolled: el.scrollLeft, left: box.left, first: first.left, firstRight: first.right,
                  lastRight: last.right, right: box.right, viewport: window.innerWidth};
        }""")
        assert place["scrolled"] > 0
        assert place["lastRight"] <= place["right"] + 1, place  # the far column came into view ...
        assert place["left"] - 1 <= place["first"] and place["first"] >= 0, place  # ... and the first stayed
        assert place["firstRight"] <= place["viewport"], place
    return wide


def test_tables_scroll_in_place_on_a_phone_with_the_first_column_pinned(new_page, demo):
    page = sign_in(new_page, PHONE)
    page.goto(demo["numbers"])
    page.get_by_role("heading", name="Stage conversion").wait_for()
    page.wait_for_load_state("networkidle")
    screenshot(page, "reports-numbers-phone")
    wide = check_tables_on_a_phone(page)
    assert wide >= 3, "the demo's wide tables (time in stage, forecast, accuracy) should scroll on a phone"
    assert blocking_violations(page) == []

    # A keyboard scrolls a region too: focus it, press the right arrow.
    region = page.locator(".table-region", has=page.get_by_role("columnheader", name="75th percentile"))
    region.evaluate("el => { el.scrollLeft = 0; }")
    region.focus()
    page.keyboard.press("ArrowRight")
    page.wait_for_function("el => el.scrollLeft > 0", arg=region.element_handle())

    for name in ("review", "drill", "sequence"):
        page.goto(demo[name])
        page.wait_for_load_state("networkidle")
        wide = check_tables_on_a_phone(page)
        if name == "sequence":
            assert wide == 1, "the per-step table is wider than a phone"
        assert blocking_violations(page) == [], name
        screenshot(page, f"reports-{name}-phone")
