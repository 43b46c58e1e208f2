#!/usr/bin/env python3
"""call_agents.py - simulated call-center agents for the README's main job.

Signs N agents in on a wob-call floor through its JSON API (the same API a
dialer or CTI system uses), then works their orders like people would:
take the order on screen, "talk", record an outcome drawn from a mix, with
a lead note for "interested".  Runs until SIGTERM / SIGINT, then signs the
agents out (an order still on screen goes back to the queue).

    tools/call_agents.py http://127.0.0.1:8070 [--agents 6] [--seed 1]
"""

import argparse
import json
import random
import signal
import sys
import time
import urllib.error
import urllib.request

MIX = [("accepted", 0.18), ("interested", 0.22), ("declined", 0.30),
       ("unreachable", 0.20), ("failed", 0.10)]


def call(base, method, path, body=None):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(base + path, data=data, method=method,
                                 headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return json.loads(r.read() or b"null")
    except urllib.error.HTTPError as e:
        return {"error": json.loads(e.read() or b"{}").get("error", str(e)), "status": e.code}


def outcome(rng):
    r, total = rng.random(), 0.0
    for name, weight in MIX:
        total += weight
        if r < total:
            return name
    return MIX[-1][0]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("url")
    ap.add_argument("--agents", type=int, default=6)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    base = args.url.rstrip("/")
    rng = random.Random(args.seed)
    agents = ["agent-%02d" % (i + 1) for i in range(args.agents)]
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    signal.signal(signal.SIGINT, lambda *_: stop.append(1))
    for agent in agents:
        r = call(base, "POST", "/api/signin", {"agent": agent})
        if "error" in r:
            print("call_agents: %s cannot sign in: %s" % (agent, r["error"]), file=sys.stderr)
            return 2
    handled = 0
    while not stop:
        busy = False
        for agent in agents:
            state = call(base, "GET", "/api/next?agent=" + agent)
            order = state.get("order") if isinstance(state, dict) else None
            if not order:
                continue
            busy = True
            result = outcome(rng)
            body = {"agent": agent, "order": order["id"], "outcome": result}
            if result == "interested":
                body["note"] = "lead: wants %s" % (order.get("offers") or ["the offer"])[0]
            r = call(base, "POST", "/api/outcome", body)
            if "error" in r:
                print("call_agents: %s order %s: %s" % (agent, order["id"], r["error"]),
                      file=sys.stderr)
            else:
                handled += 1
        if not busy:
            time.sleep(0.1)
    for agent in agents:
        call(base, "POST", "/api/signout", {"agent": agent})
    print("call_agents: %d calls recorded by %d agents" % (handled, len(agents)), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
