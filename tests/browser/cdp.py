"""cdp.py - a small Chrome DevTools Protocol driver for wob's browser tests.

Starts headless Chromium (the Debian package `chromium`) with a throw-away
profile and talks CDP over a WebSocket (the Debian package
python3-websocket), so browser tests need no npm, Selenium or driver
binary.  What a test needs and nothing more:

    browser = Browser()                      # headless, own profile
    page = browser.new_page(url)             # waits for the load event
    page.type("#agent-id", "a1")             # focus + real text input
    page.click("#signin-btn")                # real mouse events at its centre
    page.wait_visible("#desk", timeout=10)   # polls with a deadline
    page.evaluate("document.title")          # JS, value returned
    page.screenshot("out.png")
    assert not page.errors                   # console errors, exceptions
    page.close(); browser.close()

Every wait has a deadline and fails with what it was waiting for; nothing
sleeps a fixed time to synchronise.  Console errors (console.error,
uncaught exceptions, failed loads in the Log domain) are collected per page
from the moment it opens.
"""

import base64
import json
import os
import shutil
import subprocess
import tempfile
import time

import websocket


class CdpError(Exception):
    """The browser failed, refused a command, or a wait ran out of time."""


def find_chromium():
    """Path of a Chromium binary: $CHROMIUM, else the usual names on PATH."""
    candidates = [os.environ.get("CHROMIUM")] if os.environ.get("CHROMIUM") else []
    candidates += ["chromium", "chromium-browser", "google-chrome", "google-chrome-stable"]
    for name in candidates:
        path = shutil.which(name)
        if path:
            return path
    return None


class Connection:
    """One CDP WebSocket: commands with ids, events to a callback."""

    def __init__(self, url, on_event=None, timeout=30):
        # Chromium refuses WebSockets that carry an Origin header it does not
        # know; this client sends none.
        self.ws = websocket.create_connection(url, timeout=timeout, suppress_origin=True)
        self.on_event = on_event
        self.next_id = 0

    def _recv(self, deadline, what):
        left = deadline - time.monotonic()
        if left <= 0:
            raise CdpError(f"timed out waiting for {what}")
        self.ws.settimeout(left)
        try:
            return json.loads(self.ws.recv())
        except websocket.WebSocketTimeoutException:
            raise CdpError(f"timed out waiting for {what}") from None
        except (websocket.WebSocketConnectionClosedException, OSError) as e:
            raise CdpError(f"browser connection lost while waiting for {what}: {e}") from None

    def _dispatch(self, message):
        if "method" in message and self.on_event:
            self.on_event(message)

    def call(self, method, params=None, timeout=30):
        """Sends a command and returns its result (events meanwhile go to
        on_event)."""
        self.next_id += 1
        msg_id = self.next_id
        self.ws.send(json.dumps({"id": msg_id, "method": method, "params": params or {}}))
        deadline = time.monotonic() + timeout
        while True:
            message = self._recv(deadline, f"the answer to {method}")
            if message.get("id") == msg_id:
                if "error" in message:
                    raise CdpError(f"{method}: {message['error'].get('message')}")
                return message.get("result", {})
            self._dispatch(message)

    def pump(self, seconds):
        """Handles events for up to `seconds` (returns early on none)."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            try:
                self._dispatch(self._recv(deadline, "events"))
            except CdpError:
                return

    def close(self):
        try:
            self.ws.close()
        except Exception:
            pass


class Page:
    """One tab, with its own CDP connection."""

    def __init__(self, browser, target_id, ws_url):
        self.browser = browser
        self.target_id = target_id
        self.errors = []        # console errors, uncaught exceptions, failed loads
        self.console = []       # every console message, for diagnosis
        self.events = []        # other events, for wait_event
        self.conn = Connection(ws_url, on_event=self._event)
        for domain in ("Page", "Runtime", "Log"):
            self.conn.call(domain + ".enable")
        self.closed = False

    def _event(self, message):
        method, params = message["method"], message.get("params", {})
        if method == "Runtime.consoleAPICalled":
            text = " ".join(str(a.get("value", a.get("description", ""))) for a in params.get("args", []))
            self.console.append(f"{params.get('type')}: {text}")
            if params.get("type") in ("error", "assert"):
                self.errors.append(f"console.{params.get('type')}: {text}")
        elif method == "Runtime.exceptionThrown":
            details = params.get("exceptionDetails", {})
            exc = details.get("exception", {})
            self.errors.append("uncaught: " + (exc.get("description") or details.get("text", "?")))
        elif method == "Log.entryAdded":
            entry = params.get("entry", {})
            self.console.append(f"log {entry.get('level')}: {entry.get('text')} {entry.get('url', '')}")
            if entry.get("level") == "error":
                self.errors.append(f"log: {entry.get('text')} {entry.get('url', '')}".strip())
        else:
            self.events.append(message)

    def wait_event(self, method, timeout=30):
        """Waits for an event named method (seen since the last goto)."""
        deadline = time.monotonic() + timeout
        while True:
            for i, message in enumerate(self.events):
                if message["method"] == method:
                    del self.events[: i + 1]
                    return message.get("params", {})
            if time.monotonic() >= deadline:
                raise CdpError(f"timed out after {timeout}s waiting for event {method}")
            self.conn.pump(min(0.1, max(0.0, deadline - time.monotonic())))

    def goto(self, url, timeout=30):
        """Navigates and waits for the load event."""
        self.events.clear()
        result = self.conn.call("Page.navigate", {"url": url}, timeout)
        if result.get("errorText"):
            raise CdpError(f"cannot open {url}: {result['errorText']}")
        self.wait_event("Page.loadEventFired", timeout)

    def evaluate(self, expression, timeout=30):
        """Evaluates JS (promises awaited) and returns its value."""
        result = self.conn.call("Runtime.evaluate", {
            "expression": expression, "returnByValue": True, "awaitPromise": True,
            "userGesture": True}, timeout)
        if "exceptionDetails" in result:
            details = result["exceptionDetails"]
            text = details.get("exception", {}).get("description") or details.get("text")
            raise CdpError(f"JavaScript failed: {text}\n  in: {expression[:200]}")
        return result.get("result", {}).get("value")

    def wait_for(self, expression, timeout=10, what=None):
        """Waits until the JS expression is truthy; returns its value."""
        deadline = time.monotonic() + timeout
        while True:
            value = self.evaluate(expression)
            if value:
                return value
            if time.monotonic() >= deadline:
                raise CdpError(f"timed out after {timeout}s waiting for {what or expression}")
            self.conn.pump(0.05)    # poll interval, handling events meanwhile

    @staticmethod
    def _q(selector):
        return f"document.querySelector({json.dumps(selector)})"

    def visible(self, selector):
        return bool(self.evaluate(
            f"(() => {{ const e = {self._q(selector)}; if (!e) return false;"
            f" const r = e.getBoundingClientRect();"
            f" return !e.closest('[hidden]') && r.width > 0 && r.height > 0; }})()"))

    def wait_visible(self, selector, timeout=10):
        return self.wait_for(
            f"(() => {{ const e = {self._q(selector)}; if (!e) return false;"
            f" const r = e.getBoundingClientRect();"
            f" return !e.closest('[hidden]') && r.width > 0 && r.height > 0; }})()",
            timeout, f"{selector} to be visible")

    def text(self, selector):
        return self.evaluate(f"(() => {{ const e = {self._q(selector)};"
                             f" return e ? e.textContent : null; }})()")

    def click(self, selector):
        """Clicks the element's centre with real mouse events; fails if it
        is hidden or covered by something else."""
        point = self.evaluate(
            f"(() => {{ const e = {self._q(selector)}; if (!e) return 'missing';"
            f" e.scrollIntoView({{block: 'center', inline: 'center'}});"
            f" const r = e.getBoundingClientRect();"
            f" if (r.width === 0 || r.height === 0) return 'hidden';"
            f" const x = r.left + r.width / 2, y = r.top + r.height / 2;"
            f" const hit = document.elementFromPoint(x, y);"
            f" if (!hit || !(hit === e || e.contains(hit))) return 'covered';"
            f" if (e.disabled) return 'disabled';"
            f" return [x, y]; }})()")
        if not isinstance(point, list):
            raise CdpError(f"cannot click {selector}: it is {point}")
        x, y = point
        self.conn.call("Input.dispatchMouseEvent", {"type": "mouseMoved", "x": x, "y": y})
        for kind in ("mousePressed", "mouseReleased"):
            self.conn.call("Input.dispatchMouseEvent", {
                "type": kind, "x": x, "y": y, "button": "left", "clickCount": 1})

    def type(self, selector, text, clear=True):
        """Focuses the field and inserts text as keyboard input would."""
        ok = self.evaluate(
            f"(() => {{ const e = {self._q(selector)}; if (!e) return false; e.focus();"
            f" if ({'true' if clear else 'false'}) {{ e.select && e.select(); }}"
            f" return document.activeElement === e; }})()")
        if not ok:
            raise CdpError(f"cannot type into {selector}: missing or not focusable")
        if clear:
            self.conn.call("Input.dispatchKeyEvent", {"type": "keyDown", "key": "Backspace",
                                                     "code": "Backspace", "windowsVirtualKeyCode": 8})
            self.conn.call("Input.dispatchKeyEvent", {"type": "keyUp", "key": "Backspace",
                                                     "code": "Backspace", "windowsVirtualKeyCode": 8})
        self.conn.call("Input.insertText", {"text": text})

    def set_value(self, selector, value):
        """Sets a field's value the way a picker would (date/time inputs)."""
        self.evaluate(
            f"(() => {{ const e = {self._q(selector)}; e.focus(); e.value = {json.dumps(value)};"
            f" e.dispatchEvent(new Event('input', {{bubbles: true}}));"
            f" e.dispatchEvent(new Event('change', {{bubbles: true}})); }})()")

    def screenshot(self, path):
        data = self.conn.call("Page.captureScreenshot", {"format": "png",
                                                         "captureBeyondViewport": True})["data"]
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        with open(path, "wb") as out:
            out.write(base64.b64decode(data))
        return path

    def close(self):
        """Closes the tab, as a user closing it would."""
        if self.closed:
            return
        self.closed = True
        self.browser.conn.call("Target.closeTarget", {"targetId": self.target_id})
        self.conn.close()


class Browser:
    """Headless Chromium with a throw-away profile."""

    def __init__(self, binary=None, timeout=60, window=(1280, 1000)):
        self.binary = binary or find_chromium()
        if not self.binary:
            raise CdpError("Chromium not found: apt-get install chromium (or set $CHROMIUM)")
        self.profile = tempfile.mkdtemp(prefix="wob-cdp-")
        self.log_path = self.profile + ".log"
        args = [self.binary, "--headless=new", "--no-sandbox", "--remote-debugging-port=0",
                "--user-data-dir=" + self.profile, "--no-first-run", "--no-default-browser-check",
                "--disable-gpu", "--disable-dev-shm-usage", "--disable-extensions",
                "--disable-background-networking", "--disable-component-update",
                "--disable-sync", "--disable-default-apps", "--password-store=basic",
                "--disable-background-timer-throttling", "--disable-renderer-backgrounding",
                "--disable-backgrounding-occluded-windows",
                f"--window-size={window[0]},{window[1]}", "about:blank"]
        self.log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(args, stdout=self.log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL)
        port_file = os.path.join(self.profile, "DevToolsActivePort")
        deadline = time.monotonic() + timeout
        lines = []
        while True:
            try:
                with open(port_file) as f:
                    lines = f.read().split("\n")
            except FileNotFoundError:
                pass
            if len(lines) >= 2 and lines[0].strip() and lines[1].strip():
                break
            if self.proc.poll() is not None:
                raise CdpError(f"chromium exited with {self.proc.returncode}: {self._log_tail()}")
            if time.monotonic() >= deadline:
                self.close()
                raise CdpError(f"chromium did not start within {timeout}s: {self._log_tail()}")
            time.sleep(0.05)        # poll for the file, bounded by the deadline
        self.port = int(lines[0])
        self.conn = Connection(f"ws://127.0.0.1:{self.port}{lines[1].strip()}")

    def _log_tail(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read()[-2000:].decode("utf-8", "replace")
        except OSError:
            return ""

    def new_page(self, url=None, timeout=30):
        target = self.conn.call("Target.createTarget", {"url": "about:blank"})["targetId"]
        page = Page(self, target, f"ws://127.0.0.1:{self.port}/devtools/page/{target}")
        if url:
            page.goto(url, timeout)
        return page

    def close(self):
        conn = getattr(self, "conn", None)
        if conn:
            try:
                conn.call("Browser.close", timeout=5)
            except CdpError:
                pass
            conn.close()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()
        shutil.rmtree(self.profile, ignore_errors=True)
        try:
            os.unlink(self.log_path)
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
