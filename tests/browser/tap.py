"""tap.py - what the browser scenarios share: "ok - ..." / "FAIL - ..."
lines with their counts, and wobctl against the test's broker.

Environment: WOBCTL (the binary) and WOB_ENDPOINT (the broker).
"""

import os
import subprocess
import sys

passed = failed = 0


def check(what, condition, detail=""):
    """Prints one check's line and counts it; returns the condition."""
    global passed, failed
    if condition:
        passed += 1
        print(f"ok - {what}", flush=True)
    else:
        failed += 1
        print(f"FAIL - {what}" + (f": {detail}" if detail else ""), file=sys.stderr, flush=True)
    return condition


def summary(name):
    """Prints the counts; returns the exit code (1 if anything failed)."""
    print(f"{name}: {passed} passed, {failed} failed", flush=True)
    return 1 if failed else 0


def wobctl(*args):
    """wobctl's standard output; RuntimeError with its message if it fails."""
    run = subprocess.run([os.environ["WOBCTL"], "--endpoint", os.environ["WOB_ENDPOINT"], *args],
                         capture_output=True, text=True, timeout=30)
    if run.returncode:
        raise RuntimeError(f"wobctl {' '.join(args)}: {run.stderr.strip()}")
    return run.stdout
