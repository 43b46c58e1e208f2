"""call_console.py - the call-center console end to end, in headless Chromium.

Run by tests/call.sh, which starts a broker (--test-clock, short leases),
wob-call and submits a one-step call wave; this script is the agent and the
dialer:

  1. an agent signs in on the page and works through the wave, one order
     at a time: the customer view shows the order's target (checked against
     the CSV and the broker), and each outcome button is used once
     (accepted, interested with a note, declined, unreachable, wrong number,
     failed); `wobctl status ORDER --json` must show each state, outcome
     and note;
  2. "call back at" a time half an hour ahead: the order waits (deferred),
     the broker's test clock is moved two hours on, and the same order comes
     back to the same agent, attempt 2, though another agent is free;
  3. the JSON API refuses bad input with clear 4xx errors and carries on;
  4. a second wave for numbers already called: the page shows the previous
     contact; the agent closes the page, is signed out after the idle
     timeout, and the order goes back to the queue, then to another agent
     (signed in through the API);
  5. that agent walks away (idle_ms grows): the lease is not extended, and
     the agent is signed out before it runs out; the order is queued again;
  6. no console errors on the page; a screenshot is saved as an artefact.

Environment: CALL_URL, WOB_ENDPOINT, WOBCTL, TARGETS (the wave's CSV), WORK
(a scratch directory), ARTEFACTS (where the screenshot goes).
"""

import csv
import json
import os
import sys
import time
import traceback
import urllib.error
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cdp import Browser, CdpError  # noqa: E402
import tap  # noqa: E402

URL = os.environ["CALL_URL"].rstrip("/")
TARGETS = os.environ["TARGETS"]
WORK = os.environ["WORK"]
ARTEFACTS = os.environ["ARTEFACTS"]

check = tap.check


def ctl(*args):
    return tap.wobctl(*args)


def status(order_id):
    return json.loads(ctl("--json", "status", str(order_id)))


def wait_until(fn, timeout, what):
    """Polls fn until it returns something truthy, up to timeout seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = fn()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise CdpError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.05)        # poll interval, bounded by the deadline


def api(method, path, body=None, content_type="application/json", raw=None):
    """One API request; returns (HTTP status, decoded JSON body)."""
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    request = urllib.request.Request(URL + path, data=data, method=method)
    if data is not None and content_type:
        request.add_header("Content-Type", content_type)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as e:
        text = e.read()
        try:
            return e.code, json.loads(text)
        except ValueError:
            return e.code, {"error": f"(not JSON) {text[:200]!r}"}


def load_targets():
    with open(TARGETS, newline="", encoding="utf-8") as f:
        return {row["msisdn"]: row for row in csv.DictReader(f)}


def tier(arpu):
    return "platinum" if arpu >= 300 else "gold" if arpu >= 150 else \
           "silver" if arpu >= 60 else "bronze"


SHOWN = """(() => {
  const t = (id) => document.getElementById(id).textContent;
  return {
    id: Number(t('o-id')), attempt: Number(t('o-attempt')), name: t('c-name'),
    msisdn: t('c-msisdn'), tier: t('c-tier'), arpu: t('c-arpu'), tenure: t('c-tenure'),
    segment: t('c-segment'), script: t('script'),
    offers: [...document.querySelectorAll('#offers li')].map((li) => li.textContent),
    previous: [...document.querySelectorAll('#previous tr')].map((r) => r.textContent),
    history: [...document.querySelectorAll('#history tr')].map((r) => r.textContent)
  };
})()"""


def next_order(page, seen, timeout=20):
    """Waits for an order not in seen on the page; returns what it shows."""
    page.wait_for(
        "(() => { const id = document.getElementById('o-id').textContent;"
        " return !document.getElementById('desk').hidden && id !== '' &&"
        f" !{json.dumps(seen)}.includes(Number(id)); }})()",
        timeout, "the next order on the page")
    return page.evaluate(SHOWN)


def recorded(page, order_id):
    page.wait_for("document.getElementById('message').textContent"
                  f".startsWith('Recorded') && document.getElementById('message')"
                  f".textContent.includes('order {order_id}')", 10,
                  f"'Recorded ... order {order_id}' on the page")


def outcome_in_broker(order_id, outcome, timeout=15):
    return wait_until(lambda: (lambda s: s if s["outcome"] == outcome else None)(status(order_id)),
                      timeout, f"order {order_id} to be recorded as {outcome}")


def scenario(browser, targets):
    page = browser.new_page(URL + "/")
    check("the page loads with a sign-in form", page.visible("#signin-form"))
    check("the page's title names the call floor", "call floor" in page.evaluate("document.title"))

    # --- 1. sign in, work through the wave ----------------------------------------
    page.type("#agent-id", "a1")
    page.click("#signin-btn")
    page.wait_visible("#desk", 20)
    check("signed in as a1", page.text("#agent-name") == "a1")
    check("the page says it is connected", page.text("#conn") == "connected")

    seen = []
    plan = [("accepted", "", "done"),
            ("interested", "wants the family 5G plan, call after 18:00", "done"),
            ("declined", "too expensive", "done"),
            ("unreachable", "", "done"),
            ("wrong_number", "number belongs to someone else now", "done"),
            ("failed", "line dropped", "retry")]
    by_outcome = {}
    for outcome, note, state in plan:
        shown = next_order(page, seen)
        oid = shown["id"]
        seen.append(oid)
        st = status(oid)
        target = targets.get(shown["msisdn"])
        check(f"order {oid}: the number shown is the order's target ({shown['msisdn']})",
              st["msisdn"] == shown["msisdn"] and target is not None, f"status says {st['msisdn']}")
        check(f"order {oid}: the name shown is the target's name ({shown['name']})",
              target is not None and target["name"] == shown["name"],
              f"CSV says {target and target['name']}")
        check(f"order {oid}: leased to call:a1 (dispatched)",
              st["state"] == "dispatched" and st["worker"] == "call:a1", f"{st['state']} {st['worker']}")
        if not seen[:-1]:
            arpu = float(target["arpu"])
            offers = target["offer"].split("|")
            check("customer view: value tier from ARPU", shown["tier"] == tier(arpu),
                  f"{shown['tier']} for {arpu}")
            check("customer view: ARPU and tenure", shown["arpu"].startswith(f"{arpu:.2f}")
                  and shown["tenure"].startswith(target["tenure_months"]), str(shown))
            check("customer view: offers in order", shown["offers"] == offers, str(shown["offers"]))
            check("script rendered with {name} and {offer}",
                  shown["script"] == f"Hello {target['name']}, this is about {offers[0]}."
                                     f" Offers: {', '.join(offers)}.", shown["script"])
            check("the order's history is shown",
                  any("leased to call:a1" in h for h in shown["history"]), str(shown["history"]))
        if outcome == "interested":
            page.click("#o-interested")
            page.wait_for("document.getElementById('message').className === 'error'", 5,
                          "the page to ask for a note")
            check("a lead without a note is not recorded",
                  status(oid)["state"] == "dispatched" and page.text("#o-id") == str(oid))
        if note:
            page.type("#note", note)
        page.click(f"#o-{outcome}")
        recorded(page, oid)
        st = outcome_in_broker(oid, outcome)
        check(f"order {oid}: {outcome} recorded: state {state}, note kept",
              st["state"] == state and st["note"] == note, f"{st['state']} {st['note']!r}")
        by_outcome[outcome] = (oid, shown["msisdn"])

    # --- 2. call back -------------------------------------------------------------
    shown = next_order(page, seen)
    cb = shown["id"]
    seen.append(cb)
    page.set_value("#callback-at", "")
    page.click("#o-callback")
    page.wait_for("document.getElementById('message').className === 'error'", 5,
                  "the page to ask for a call-back time")
    check("a call back without a time is not recorded", status(cb)["state"] == "dispatched")
    at = time.localtime(time.time() + 30 * 60)
    page.set_value("#callback-at", time.strftime("%Y-%m-%dT%H:%M", at))
    page.type("#note", "busy, call back in half an hour")
    page.click("#o-callback")
    recorded(page, cb)
    st = outcome_in_broker(cb, "callback")
    check(f"order {cb}: call back recorded, the order waits (deferred)",
          st["state"] == "deferred" and st["worker"] == "call:a1", f"{st['state']} {st['worker']}")
    page.wait_visible("#waiting", 10)
    check("the call-back order does not come back before its time", status(cb)["state"] == "deferred")
    # Another agent with a free desk is signed in (through the API) when the
    # time comes: the call back must still go to a1, who made it.
    got, reply = api("POST", "/api/signin", {"agent": "c1"})
    check("another agent (c1) signs in through the API", got == 200, str(reply))
    ctl("clock", "advance", "2h")
    back = ("!document.getElementById('desk').hidden &&"
            f" document.getElementById('o-id').textContent === '{cb}' &&"
            " document.getElementById('o-attempt').textContent === '2'")
    wait_until(lambda: api("GET", "/api/next?agent=c1")[0] == 200 and page.evaluate(back), 30,
               f"order {cb} to come back to the page (attempt 2)")
    st = status(cb)
    check(f"order {cb} came back at its time to the same agent (call:a1, attempt 2)",
          st["state"] == "dispatched" and st["worker"] == "call:a1" and st["attempts"] == 2,
          f"{st['state']} {st['worker']} {st['attempts']}")
    got, reply = api("GET", "/api/next?agent=c1")
    check("not to the other agent", got == 200 and reply["order"] is None, str(reply))
    got, reply = api("POST", "/api/signout", {"agent": "c1"})
    check("c1 signs out with nothing to return", got == 200 and reply["returned"] is None, str(reply))
    shown = page.evaluate(SHOWN)
    check("the page's history shows the call back",
          any("call-back time reached" in h for h in shown["history"]), str(shown["history"]))
    shot = page.screenshot(os.path.join(ARTEFACTS, "call_console.png"))
    print(f"screenshot: {shot}", flush=True)
    page.click("#o-accepted")
    recorded(page, cb)
    check(f"order {cb}: accepted on the call back", outcome_in_broker(cb, "accepted")["state"] == "done")

    # --- 3. the JSON API refuses bad input ------------------------------------------------
    bad = [
        ("POST", "/api/signin", {"agent": "bad agent!"}, 400, "agent id"),
        ("POST", "/api/signin", {"agent": 7}, 400, "'agent' must be a string"),
        ("POST", "/api/signin", {"agent": "x", "colour": "red"}, 400, "unknown field 'colour'"),
        ("GET", "/api/next?agent=nobody", None, 404, "unknown agent 'nobody'"),
        ("GET", "/api/next", None, 400, "agent"),
        ("POST", "/api/outcome", {"agent": "nobody", "order": cb, "outcome": "accepted"}, 404,
         "unknown agent 'nobody'"),
        ("POST", "/api/outcome", {"agent": "a1", "order": by_outcome["accepted"][0],
                                  "outcome": "accepted"}, 409, "not held by agent a1"),
        ("POST", "/api/outcome", {"agent": "a1", "order": cb, "outcome": "maybe"}, 400,
         "outcome 'maybe'"),
        ("POST", "/api/outcome", {"agent": "a1", "order": cb, "outcome": "callback",
                                  "callback_at": "next tuesday"}, 400, "'next tuesday' is not a time"),
        ("POST", "/api/outcome", {"agent": "a1", "order": "twelve", "outcome": "accepted"}, 400,
         "'order' must be a whole number"),
        ("POST", "/api/signout", {}, 400, "missing field 'agent'"),
        ("POST", "/api/frobnicate", {"agent": "a1"}, 404, "no such path"),
        ("GET", "/api/outcome", None, 405, "use POST"),
    ]
    for method, path, body, code, words in bad:
        got, reply = api(method, path, body)
        check(f"{method} {path} {json.dumps(body) if body is not None else ''} -> {code} "
              f"naming '{words}'", got == code and words in (reply or {}).get("error", ""),
              f"{got} {reply}")
    got, reply = api("POST", "/api/signin", raw=b'{"agent": "a1",', content_type="application/json")
    check("truncated JSON -> 400 saying where", got == 400 and "at byte" in reply["error"], str(reply))
    got, reply = api("POST", "/api/signin", raw=b'{"agent": "a1"}', content_type="text/plain")
    check("a POST that is not application/json -> 415", got == 415, str(reply))
    got, reply = api("POST", "/api/signin", raw=b'{"agent": "' + b"x" * 100000 + b'"}')
    check("a huge body -> 413", got == 413, str(reply))
    got, reply = api("POST", "/api/signin", raw=b'{"agent": "a\xff"}')
    check("invalid UTF-8 -> 400", got == 400 and "UTF-8" in reply["error"], str(reply))
    got, reply = api("GET", "/api/agents")
    check("wob-call carries on after bad input (a1 still signed in)",
          got == 200 and [a["agent"] for a in reply] == ["a1"], str(reply))

    # --- 4. previous contacts; closing the page returns the order -------------------------
    rows = [targets[by_outcome["accepted"][1]], targets[by_outcome["declined"][1]]]
    idle_csv = os.path.join(WORK, "idle.csv")
    with open(TARGETS, newline="", encoding="utf-8") as f:
        header = next(csv.reader(f))
    with open(idle_csv, "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=header)
        writer.writeheader()
        writer.writerows(rows)
    idle_yaml = os.path.join(WORK, "idle.yaml")
    with open(idle_yaml, "w", encoding="utf-8") as f:
        f.write("campaign: C-call-again\nwave: W-call-again\ntargets: idle.csv\n"
                "plan:\n  - channel: call\n")
    ctl("submit", idle_yaml)
    shown = next_order(page, seen)
    a_order = shown["id"]
    earlier = [o for o, m in by_outcome.values() if m == shown["msisdn"]]
    check("the customer view lists the previous contact and its outcome",
          len(shown["previous"]) == 1 and "W-call" in shown["previous"][0]
          and ("accepted" in shown["previous"][0] or "declined" in shown["previous"][0]),
          f"{shown['previous']} (earlier order {earlier})")
    got, reply = api("POST", "/api/signin", {"agent": "b1"})
    check("a second agent signs in through the API", got == 200 and reply["state"]["worker"] == "call:b1",
          str(reply))
    b_order = wait_until(lambda: api("GET", "/api/next?agent=b1")[1].get("order"), 15,
                         "b1's order")["id"]
    check("no console errors on the page", not page.errors, "; ".join(page.errors))
    page.close()
    # b1 keeps its desk (heartbeats) while a1's idle timeout runs out.
    wait_until(lambda: api("GET", "/api/next?agent=b1")[0] == 200
               and status(a_order)["state"] == "queued", 30,
               f"order {a_order} to go back to the queue after the page closed")
    got, reply = api("GET", "/api/next?agent=a1")
    check(f"closing the page: a1 is signed out after the idle timeout, order {a_order} queued",
          got == 404 and "not heard from" in reply["error"], str(reply))
    got, reply = api("POST", "/api/outcome", {"agent": "b1", "order": b_order, "outcome": "declined",
                                              "note": "via the API"})
    check("the API records an outcome", got == 200 and reply["ok"] is True, str(reply))
    check(f"order {b_order}: declined through the API",
          outcome_in_broker(b_order, "declined")["note"] == "via the API")
    wait_until(lambda: (api("GET", "/api/next?agent=b1")[1].get("order") or {}).get("id") == a_order,
               20, f"order {a_order} to reach b1")
    st = status(a_order)
    check(f"order {a_order} is leased to the other agent now",
          st["state"] == "dispatched" and st["worker"] == "call:b1", f"{st['state']} {st['worker']}")

    # --- 5. an agent who walks away loses the order at the lease ----------------------------
    reply = wait_until(lambda: (lambda r: r if r[0] == 404 else None)(
                           api("GET", "/api/next?agent=b1&idle_ms=3600000")), 40,
                       "b1, idle, to be signed out before the lease runs out")[1]
    check("an idle agent's lease is not extended: signed out, reason given",
          "idle past the lease" in reply["error"], str(reply))
    # wob-call hands the order back on its own connection to the broker: this
    # status query, on another, may be answered before the broker read that
    deadline = time.monotonic() + 10
    st = status(a_order)
    while st["state"] != "queued" and time.monotonic() < deadline:
        time.sleep(0.05)
        st = status(a_order)
    check(f"order {a_order} went back to the queue", st["state"] == "queued", st["state"])
    got, reply = api("POST", "/api/signin", {"agent": "b1", "owns": []})
    order = wait_until(lambda: api("GET", "/api/next?agent=b1")[1].get("order"), 15, "b1's order")
    got, reply = api("POST", "/api/outcome", {"agent": "b1", "order": order["id"],
                                              "outcome": "accepted"})
    check("b1 signs in again and finishes the wave", got == 200
          and outcome_in_broker(a_order, "accepted")["state"] == "done", str(reply))
    got, reply = api("POST", "/api/signout", {"agent": "b1"})
    check("sign out through the API", got == 200 and reply["returned"] is None, str(reply))


def main():
    targets = load_targets()
    try:
        with Browser() as browser:
            scenario(browser, targets)
    except Exception:
        traceback.print_exc()
        check("the scenario ran to the end", False)
    return tap.summary("call_console")


if __name__ == "__main__":
    sys.exit(main())
