"""dashboard.py - the broker's supervisor dashboard in headless Chromium.

Run by tests/dashboard.sh, once its wave has settled (nothing left that can
move; some call orders held).  This script is the supervisor:

  1. the page loads and fills itself from the JSON API, with no console
     errors (console.error, uncaught exceptions, failed loads);
  2. the wave's card shows the numbers `wobctl report --wave W --json` and
     `wobctl status --wave W --json` give, read from the DOM: state, rows,
     progress (done, dispatched, queued, waiting, held, not contacted),
     eligible, contacted, reached, accepted, the three rates, and per
     channel orders, contacted, accepted, success rate and the outcome mix;
  3. the region table shows `wobctl report --by region` for the wave, and a
     click on a province shows its cities (--level city --under P);
     the throughput chart is drawn (an SVG) with the hour's totals of
     /api/throughput; the workers table lists wobctl's workers with their
     done counts; the held orders are named;
  4. the order lookup finds the orders of a number and shows each one's
     history, row for row as `wobctl status --msisdn N --json`;
  5. the page refreshes by itself (a second refresh is awaited);
  6. a screenshot is saved as an artefact.

Environment: DASH_URL, WOB_ENDPOINT, WOBCTL, WAVE, MSISDN (a number of the
wave), ARTEFACTS (where the screenshot goes).
"""

import json
import os
import sys
import traceback
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cdp import Browser, CdpError  # noqa: E402
import tap  # noqa: E402

URL = os.environ["DASH_URL"].rstrip("/")
WAVE = os.environ["WAVE"]
MSISDN = os.environ["MSISDN"]
ARTEFACTS = os.environ["ARTEFACTS"]

check = tap.check


def ctl(*args):
    return json.loads(tap.wobctl("--json", *args))


def api(path):
    with urllib.request.urlopen(URL + path, timeout=10) as response:
        return json.loads(response.read())


def number(text):
    """A number as the page prints it ("1,234" -> 1234)."""
    return int(text.replace(",", "")) if text is not None else None


def pct(rate):
    return f"{rate * 100:.2f}%"


WAVE_DOM = """((wave) => {
  const card = document.querySelector(`.wave[data-wave="${wave}"]`);
  if (!card) return null;
  const f = (root, name) => { const e = root.querySelector(`[data-field="${name}"]`);
                              return e ? e.textContent : null; };
  const fields = {};
  for (const e of card.querySelectorAll(':scope > * [data-field]'))
    if (!e.closest('.channel')) fields[e.dataset.field] = e.textContent;
  const channels = {};
  for (const box of card.querySelectorAll('.channel')) {
    const outcomes = {};
    for (const o of box.querySelectorAll('[data-outcome]')) outcomes[o.dataset.outcome] = o.textContent;
    channels[box.dataset.channel] = { orders: f(box, 'orders'), contacted: f(box, 'contacted'),
      accepted: f(box, 'accepted'), success_rate: f(box, 'success_rate'), outcomes: outcomes,
      segments: box.querySelectorAll('.bar span').length };
  }
  return { fields, channels, segments: card.querySelectorAll(':scope > .bar span').length };
})"""


def scenario(browser):
    page = browser.new_page(URL + "/")
    check("the page's title names the dashboard", "dashboard" in page.evaluate("document.title"))
    page.wait_for("Number(document.body.dataset.refreshed || 0) >= 1", 15, "the first refresh")
    check("the page says it is live", page.text("#conn") == "live", page.text("#conn"))

    # --- 2. the wave's numbers, from the DOM -------------------------------------
    report = ctl("report", "--wave", WAVE)
    status = ctl("status", "--wave", WAVE)
    shown = page.evaluate(f"{WAVE_DOM}({json.dumps(WAVE)})")
    check(f"the wave {WAVE} has a card", shown is not None)
    if shown is None:
        return page
    f = shown["fields"]
    s = status["by_state"]
    check("state shown", f.get("state") == status["state"], f.get("state"))
    check("rows shown", number(f.get("rows")) == status["rows"], f.get("rows"))
    progress = {
        "progress.total": sum(s.values()),
        "progress.done": s["done"] + s["failed"] + s["transferred"] + s["expired"] + s["cancelled"],
        "progress.dispatched": s["dispatched"],
        "progress.queued": s["queued"] + s["received"],
        "progress.waiting": s["deferred"] + s["retry"],
        "progress.held": s["held"],
        "progress.excluded": s["filtered"] + s["merged"] + s["control"],
    }
    for key, want in progress.items():
        check(f"{key} shown = {want} (wobctl status --wave)", number(f.get(key)) == want, f.get(key))
    check("the progress bar has a segment per non-empty part",
          shown["segments"] == sum(1 for k, v in progress.items() if v and k != "progress.total"),
          shown["segments"])
    total = report["total"]
    for key in ("eligible", "contacted", "reached", "accepted"):
        check(f"report.{key} shown = {total[key]} (wobctl report)",
              number(f.get("report." + key)) == total[key], f.get("report." + key))
    for key in ("contact_rate", "success_rate", "conversion_per_contact"):
        check(f"report.{key} shown = {pct(total[key])} (wobctl report)",
              f.get("report." + key) == pct(total[key]), f.get("report." + key))
    channels = {c["channel"]: c for c in status.get("channels", [])}
    by_outcome_channel = {c["channel"] or "(none)": c["by_outcome"] for c in api(f"/api/waves/{WAVE}")["channels"]}
    check("a box per channel of the report",
          sorted(shown["channels"]) == sorted(r["channel"] for r in report["by_channel"]),
          sorted(shown["channels"]))
    for row in report["by_channel"]:
        box = shown["channels"].get(row["channel"], {})
        name = row["channel"]
        check(f"{name}: orders, contacted, accepted, success rate shown as wobctl report",
              number(box.get("orders")) == row["orders"] and number(box.get("contacted")) == row["contacted"]
              and number(box.get("accepted")) == row["accepted"] and box.get("success_rate") == pct(row["success_rate"]),
              f"{box} vs {row}")
        want = {o: n for o, n in by_outcome_channel.get(name, {}).items() if n}
        got = {o: number(n) for o, n in box.get("outcomes", {}).items()}
        check(f"{name}: outcome mix shown ({want})", got == want, got)
    outcomes_total = {}
    for counts in by_outcome_channel.values():
        for o, n in counts.items():
            outcomes_total[o] = outcomes_total.get(o, 0) + n
    check("the outcome mixes add up to wobctl status --wave's outcomes",
          outcomes_total == status["by_outcome"], f"{outcomes_total} vs {status['by_outcome']}")
    del channels

    # --- 3. throughput, workers, held ---------------------------------------------
    throughput = api("/api/throughput")
    chart = page.evaluate("(() => { const s = document.querySelector('#throughput svg');"
                          " return s && { d: Number(s.dataset.dispatched), f: Number(s.dataset.finished),"
                          " bars: s.querySelectorAll('rect').length }; })()")
    check("the throughput chart is drawn", chart is not None and chart["bars"] > 0, chart)
    if chart:
        check("the chart's hour totals are /api/throughput's",
              chart["d"] == sum(m["dispatched"] for m in throughput["minutes"])
              and chart["f"] == sum(m["finished"] for m in throughput["minutes"]),
              f"{chart} vs {throughput['dispatched_total']}/{throughput['finished_total']}")
        check("leases granted in the hour cover every contacted order",
              chart["d"] >= report["total"]["contacted"], chart)
    workers = ctl("workers")
    rows = page.evaluate("[...document.querySelectorAll('#workers tr[data-worker]')].map((r) =>"
                         " [r.dataset.worker, r.querySelector('[data-field=done]').textContent,"
                         "  r.querySelector('[data-field=capacity]').textContent])")
    check("the workers table lists wobctl's workers with capacity and done",
          sorted((w, number(d), number(c)) for w, d, c in rows)
          == sorted((w["id"], w["done"], w["capacity"]) for w in workers["workers"]),
          f"{rows} vs {workers['workers']}")
    held = page.evaluate("[...document.querySelectorAll('#held [data-held]')].map((e) => e.textContent)")
    check("held orders are named with their count and reason",
          len(held) == len(workers["held"]) and all(
              f"{h['orders']:,} order" in t and h["reason"].replace("_", " ") in t
              for h, t in zip(sorted(workers["held"], key=lambda h: (h["channel"], h["reason"])), held)),
          f"{held} vs {workers['held']}")

    # --- 3b. the region table, and a drill-down to a province's cities -------------
    page.evaluate(f"(() => {{ const s = document.getElementById('region-wave'); s.value = {json.dumps(WAVE)};"
                  " s.dispatchEvent(new Event('change')); })()")
    page.wait_for(f"document.getElementById('regions').dataset.wave === {json.dumps(WAVE)}"
                  " && document.getElementById('regions').dataset.under === ''", 10, "the wave's region table")
    region_rows = ("[...document.querySelectorAll('#regions tr[data-region]')].map((r) =>"
                   " [r.dataset.region, r.querySelector('[data-field=orders]').textContent,"
                   "  r.querySelector('[data-field=accepted]').textContent,"
                   "  r.querySelector('[data-field=success_rate]').textContent])")
    by_region = ctl("report", "--wave", WAVE, "--by", "region")
    got = [(r, number(o), number(a), rate) for r, o, a, rate in page.evaluate(region_rows)]
    want = [(r["region"], r["orders"], r["accepted"], pct(r["success_rate"])) for r in by_region["by_region"]]
    check(f"the region table shows wobctl report --by region's {len(want)} provinces", got == want and want,
          f"{got} vs {want}")
    if want:
        province = want[0][0]
        page.click(f"#regions a[data-under={json.dumps(province, ensure_ascii=False)}]")
        page.wait_for(f"document.getElementById('regions').dataset.under === {json.dumps(province)}", 10,
                      f"the cities of {province}")
        cities = ctl("report", "--wave", WAVE, "--by", "region", "--level", "city", "--under", province)
        got = [(r, number(o), number(a), rate) for r, o, a, rate in page.evaluate(region_rows)]
        want = [(r["region"], r["orders"], r["accepted"], pct(r["success_rate"])) for r in cities["by_region"]]
        check(f"a click on {province} shows its cities as wobctl report --level city --under", got == want and want,
              f"{got} vs {want}")
        total = page.evaluate("document.querySelector('#regions tr.total [data-field=orders]').textContent")
        check(f"the total row is {province}'s", number(total) == cities["total"]["orders"], total)

    # --- 4. order lookup by number ---------------------------------------------------
    orders = ctl("status", "--msisdn", MSISDN)
    page.type("#lookup-q", MSISDN)
    page.click("#lookup-btn")
    page.wait_for(f"document.querySelectorAll('#lookup-result .order').length === {len(orders)}", 10,
                  f"{len(orders)} order(s) for {MSISDN} on the page")
    found = page.evaluate("[...document.querySelectorAll('#lookup-result .order')].map((o) => ({"
                          " id: Number(o.dataset.order),"
                          " msisdn: o.querySelector('[data-field=msisdn]').textContent,"
                          " history: [...o.querySelectorAll('table.history tbody tr')].map((r) =>"
                          "   [...r.cells].map((c) => c.textContent)) }))")
    check(f"the lookup by number {MSISDN} finds its orders",
          [o["id"] for o in found] == [o["id"] for o in orders], f"{found} vs {orders}")
    for o, want in zip(found, orders):
        got = [(h[1], h[2], h[3], h[4]) for h in o["history"]]
        expected = [(h["from"], h["to"], h["actor"], h["reason"]) for h in want["history"]]
        check(f"order {o['id']}: its history shown row for row ({len(expected)} entries)",
              got == expected and o["msisdn"] == MSISDN, f"{got} vs {expected}")
    check("the lookup says how many orders it found",
          page.text("#lookup-message").startswith(f"{len(orders)} order"), page.text("#lookup-message"))

    # --- 5. live refresh ----------------------------------------------------------------
    before = int(page.evaluate("document.body.dataset.refreshed"))
    page.wait_for(f"Number(document.body.dataset.refreshed) > {before}", 15, "a refresh by itself")
    check("the page refreshes by itself", True)
    check("the lookup result stays through refreshes",
          page.evaluate("document.querySelectorAll('#lookup-result .order').length") == len(orders))
    return page


def main():
    browser = None
    page = None
    try:
        browser = Browser()
        page = scenario(browser)
        check("no console errors on the page", not page.errors, "; ".join(page.errors))
        path = page.screenshot(os.path.join(ARTEFACTS, "dashboard.png"))
        check("screenshot saved", os.path.getsize(path) > 0)
    except (CdpError, RuntimeError, OSError, KeyError, ValueError, TypeError) as e:
        check("the browser scenario runs to its end", False, f"{e}\n{traceback.format_exc()}")
        if page is not None:
            print("page console:\n  " + "\n  ".join(page.console[-30:]), file=sys.stderr)
            try:
                page.screenshot(os.path.join(ARTEFACTS, "dashboard.png"))
            except CdpError:
                pass
    finally:
        if browser is not None:
            browser.close()
    return tap.summary("dashboard.py")


if __name__ == "__main__":
    sys.exit(main())
