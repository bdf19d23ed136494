"""The web console in headless chromium, driven over the Chrome DevTools protocol (a WebSocket, no browser-automation
library): sign in, open every page, compare what it shows with the API's numbers, click the rollout actions, check
keyboard focus and a viewer key's limits, screenshot each page, and fail on any JavaScript error.

Run by scripts/console/run.sh, which starts Ferry and chromium and prepares the data:
  check.py BASE_URL ADMIN_KEY VIEWER_KEY CHROMIUM_LOG ARTIFACTS_DIR
Exits 1 with the reason on the first failed check. Console bugs known but not fixed yet are listed in KNOWN_BUGS:
their checks print a warning instead of failing (CONSOLE_STRICT=1 makes them fail); a known bug whose check passes
prints a reminder to take it out of the list.

CONSOLE_OVERRIDE_DIR=DIR serves DIR/index.html, DIR/app.js and DIR/app.css (those present) to the browser instead of
the server's /ui, /ui/app.js and /ui/app.css, with the server's headers (its Content-Security-Policy included): a
change to the console can be tried without rebuilding the binary.
"""
import base64
import json
import os
import re
import struct
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

import websocket

BASE, ADMIN, VIEWER, CHROME_LOG, ARTIFACTS = sys.argv[1:6]
BASE = BASE.rstrip("/")
STRICT = os.environ.get("CONSOLE_STRICT") == "1"
# Console bugs this test shows, by name (see the checks that name them). Empty the set once they are fixed.
KNOWN_BUGS: set[str] = set()

# Failed requests the console makes on purpose: (URL pattern, status). Chromium logs each as an error.
EXPECTED_FAILURES = [
    (r"/api/v1/models/[^/]+/retrain/policy$", 404),  # the model page asks for a retraining policy; 404: it has none
]
OVERRIDES = {}
if os.environ.get("CONSOLE_OVERRIDE_DIR"):
    for route, name in (("/ui", "index.html"), ("/ui/app.js", "app.js"), ("/ui/app.css", "app.css")):
        path = os.path.join(os.environ["CONSOLE_OVERRIDE_DIR"], name)
        if os.path.exists(path):
            with open(path, "rb") as f:
                OVERRIDES[route] = f.read()

passed, warnings, shots = [], [], []


class Failure(Exception):
    pass


def ok(message):
    passed.append(message)
    print(f"  ok    {message}", flush=True)


def check(condition, message, detail="", bug=None):
    """Passes, or fails with message and detail; a check of a known bug only warns (unless CONSOLE_STRICT=1)."""
    if condition:
        if bug in KNOWN_BUGS:
            warnings.append(f"known bug '{bug}' did not show ({message}): take it out of KNOWN_BUGS in check.py")
            print(f"  NOTE  {warnings[-1]}", flush=True)
        ok(message)
        return True
    if bug in KNOWN_BUGS and not STRICT:
        warnings.append(f"KNOWN BUG '{bug}': {message} is not true: {detail}")
        print(f"  WARN  {warnings[-1]}", flush=True)
        return False
    raise Failure(f"{message}: {detail}" if detail else message)


# --- the API, for the numbers the pages must show

def api(path, key=ADMIN, method="GET", body=None):
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(BASE + path, method=method, data=data, headers={
        "Authorization": f"Bearer {key}", "Accept": "application/json", "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.load(response)
    except urllib.error.HTTPError as error:
        raise Failure(f"API {method} {path} answered {error.code}: {error.read()[:300]!r}")


def wait_api(path, predicate, what, timeout=6):
    deadline = time.monotonic() + timeout
    while True:
        value = api(path)
        if predicate(value):
            return value
        if time.monotonic() > deadline:
            raise Failure(f"the API did not show {what} within {timeout} s: {json.dumps(value)[:400]}")
        time.sleep(0.1)


# --- the browser

class Browser:
    # Read by the helpers below from the page; "none yet" rows of empty tables count as no rows.
    PRELUDE = r"""
const $m = document.querySelector('#main');
const tableRows = (caption, prefix) => {
  const t = [...$m.querySelectorAll('table')].find((t) => t.caption && (prefix ? t.caption.textContent.startsWith(caption) : t.caption.textContent === caption));
  if (!t) return null;
  const rows = [...t.tBodies[0].rows].map((r) => [...r.cells].map((c) => c.textContent.trim()));
  return rows.length === 1 && rows[0].length === 1 && rows[0][0] === 'none yet' ? [] : rows;
};
"""

    def __init__(self, ws_url):
        self.ws = websocket.create_connection(ws_url, timeout=20, suppress_origin=True)
        self.next_id = 0
        self.errors = []       # JavaScript errors and failed loads the page reported
        self.allowed = list(EXPECTED_FAILURES)  # (url regex, status) of failed requests expected

    # DevTools messages: answers by id; events are looked at as they arrive.
    def call(self, method, timeout=15, **params):
        self.next_id += 1
        ident = self.next_id
        self.ws.send(json.dumps({"id": ident, "method": method, "params": params}))
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise Failure(f"chromium did not answer {method} within {timeout} s")
            self.ws.settimeout(remaining)
            try:
                message = json.loads(self.ws.recv())
            except websocket.WebSocketTimeoutException:
                continue
            if message.get("id") == ident:
                if "error" in message:
                    raise Failure(f"DevTools {method} failed: {message['error']}")
                return message.get("result", {})
            if "method" in message:
                self.event(message["method"], message.get("params", {}))

    def send(self, method, **params):
        """A command whose answer nobody waits for (call() skips answers to other ids)."""
        self.next_id += 1
        self.ws.send(json.dumps({"id": self.next_id, "method": method, "params": params}))

    def event(self, method, params):
        if method == "Fetch.requestPaused":
            path = urllib.parse.urlsplit(params["request"]["url"]).path
            body = OVERRIDES.get(path)
            if body is None or params.get("responseStatusCode") != 200:
                self.send("Fetch.continueRequest", requestId=params["requestId"])
            else:
                headers = [h for h in params.get("responseHeaders", []) if h["name"].lower() != "content-length"]
                self.send("Fetch.fulfillRequest", requestId=params["requestId"], responseCode=200, responseHeaders=headers,
                          body=base64.b64encode(body).decode())
        elif method == "Runtime.exceptionThrown":
            details = params.get("exceptionDetails", {})
            text = details.get("exception", {}).get("description") or details.get("text", "")
            self.errors.append(f"uncaught exception: {text} ({details.get('url', '')}:{details.get('lineNumber', '?')})")
        elif method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
            args = " ".join(str(a.get("value", a.get("description", ""))) for a in params.get("args", []))
            self.errors.append(f"console.{params['type']}: {args}")
        elif method == "Log.entryAdded" and params.get("entry", {}).get("level") == "error":
            entry = params["entry"]
            url, text = entry.get("url", ""), entry.get("text", "")
            if entry.get("source") == "network" and any(
                    re.search(pattern, url) and f"status of {status}" in text for pattern, status in self.allowed):
                return
            if url.endswith("/favicon.ico") and "favicon" in KNOWN_BUGS and not STRICT:
                if not any("'favicon'" in w for w in warnings):
                    warnings.append(f"KNOWN BUG 'favicon': the page logs an error: {text} {url}")
                    print(f"  WARN  {warnings[-1]}", flush=True)
                return
            self.errors.append(f"{entry.get('source')} error: {text} {url}".strip())

    def no_errors(self, step):
        self.pump(0.05)
        if self.errors:
            raise Failure(f"the page reported errors during {step}:\n    " + "\n    ".join(self.errors))

    def pump(self, seconds):
        """Lets seconds pass while reading events (a no-op evaluation keeps the loop in call())."""
        end = time.monotonic() + seconds
        while True:
            self.call("Runtime.evaluate", expression="0")
            if time.monotonic() >= end:
                return
            time.sleep(min(0.05, max(0, end - time.monotonic())))

    def js(self, expression, await_promise=False):
        result = self.call("Runtime.evaluate", expression=f"(async () => {{ {self.PRELUDE} return ({expression}); }})()"
                           if await_promise else f"(() => {{ {self.PRELUDE} return ({expression}); }})()",
                           returnByValue=True, awaitPromise=await_promise)
        if "exceptionDetails" in result:
            details = result["exceptionDetails"]
            raise Failure(f"evaluating {expression[:120]!r} threw: "
                          f"{details.get('exception', {}).get('description') or details.get('text')}")
        return result["result"].get("value")

    def state(self):
        return self.js("""({hash: location.hash, page: $m.getAttribute('data-page'), h1: $m.querySelector('h1')?.textContent,
            notices: [...$m.querySelectorAll('.notice')].map((n) => n.textContent)})""")

    def wait(self, expression, what, timeout=8):
        deadline = time.monotonic() + timeout
        while True:
            value = self.js(expression)
            if value:
                return value
            if time.monotonic() > deadline:
                raise Failure(f"timed out after {timeout} s waiting for {what}; the page: {json.dumps(self.state())}")
            time.sleep(0.05)

    def reload(self, page):
        """Loads the page again (what a person pressing F5 gets): no focus anywhere yet, Tab starts at the top."""
        self.js("($m.removeAttribute('data-page'), true)")
        self.call("Page.reload", ignoreCache=True)
        self.wait(f"document.readyState === 'complete' && $m.getAttribute('data-page') === {json.dumps(page)}",
                  f"the reloaded page to render '{page}'")

    def go(self, route, page, h1):
        """Follows a hash route as a link would and waits for its render (data-page set again, the route's h1)."""
        self.js(f"($m.removeAttribute('data-page'), location.hash = {json.dumps(route)}, true)")
        self.wait(f"location.hash === {json.dumps(route)} && $m.getAttribute('data-page') === {json.dumps(page)} && "
                  f"[{json.dumps(h1)}, 'Something went wrong'].includes($m.querySelector('h1')?.textContent)", f"{route} to render")
        now = self.state()
        check(now["h1"] == h1, f"{route} renders with heading '{h1}'", json.dumps(now))
        check(self.js("document.title") == f"{h1} · Ferry", f"{route} sets the document title '{h1} · Ferry'",
              self.js("document.title"))
        # Leftovers of a value the page failed to format (traffic bars are looked at by their own check).
        junk = self.js(r"""(() => { const copy = $m.cloneNode(true); copy.querySelectorAll('svg.split').forEach((s) => s.remove());
            return copy.textContent.match(/\[object \w+\]|\bundefined\b|\bNaN\b/)?.[0] ?? null; })()""")
        check(junk is None, f"{route} shows no '[object …]', 'undefined' or 'NaN'", f"it shows {junk!r}")
        self.no_errors(route)

    def next_refresh(self):
        """Waits for the page's own periodic re-render (a running rollout's page redraws itself every 2 s): right after
        one, a click has about 2 s before the buttons are replaced again."""
        self.js("($m.querySelector('h1').dataset.seen = 'yes', true)")
        self.wait("$m.querySelector('h1') && !$m.querySelector('h1').dataset.seen", "the page's periodic refresh", timeout=6)

    def box(self, element, what):
        """The centre of an element, scrolled into view, after checking a click there would reach it."""
        found = self.js(f"""(() => {{ const el = {element}; if (!el) return null;
            el.scrollIntoView({{block: 'center'}}); const r = el.getBoundingClientRect();
            const x = r.x + r.width / 2, y = r.y + r.height / 2, hit = document.elementFromPoint(x, y);
            return {{x, y, width: r.width, height: r.height, reaches: !!hit && (hit === el || el.contains(hit))}}; }})()""")
        check(found is not None, f"{what} is on the page", json.dumps(self.state()))
        check(found["width"] > 0 and found["height"] > 0 and found["reaches"],
              f"{what} is visible and nothing covers it", json.dumps(found))
        return found

    def click(self, element, what):
        at = self.box(element, what)
        for kind in ("mouseMoved", "mousePressed", "mouseReleased"):
            self.call("Input.dispatchMouseEvent", type=kind, x=at["x"], y=at["y"], button="left" if kind != "mouseMoved" else "none",
                      clickCount=0 if kind == "mouseMoved" else 1)

    def key(self, name):
        code = {"Tab": 9, "Enter": 13}[name]
        common = {"key": name, "code": name, "windowsVirtualKeyCode": code, "nativeVirtualKeyCode": code}
        if name == "Enter":
            self.call("Input.dispatchKeyEvent", type="keyDown", text="\r", unmodifiedText="\r", **common)
        else:
            self.call("Input.dispatchKeyEvent", type="rawKeyDown", **common)
        self.call("Input.dispatchKeyEvent", type="keyUp", **common)

    def type(self, text):
        self.call("Input.insertText", text=text)

    def focused(self):
        return self.js("""(() => { const a = document.activeElement;
            return !a ? null : a.tagName === 'BUTTON' ? 'button:' + a.textContent
              : (a.id ? '#' + a.id : a.tagName.toLowerCase() + (a.className ? '.' + a.className : '')); })()""")

    def screenshot(self, name, what):
        metrics = self.call("Page.getLayoutMetrics")
        size = metrics["cssContentSize"]
        shot = self.call("Page.captureScreenshot", format="png", captureBeyondViewport=True,
                         clip={"x": 0, "y": 0, "width": size["width"], "height": size["height"], "scale": 1})
        data = base64.b64decode(shot["data"])
        check(data[:8] == b"\x89PNG\r\n\x1a\n", f"screenshot {name} is a PNG")
        width, height = struct.unpack(">II", data[16:24])
        path = os.path.join(ARTIFACTS, f"{len(shots) + 1:02d}-{name}.png")
        with open(path, "wb") as out:
            out.write(data)
        shots.append((path, width, height, what))
        print(f"  shot  {path} ({width}x{height}): {what}", flush=True)

    def allow(self, pattern, status):
        self.allowed.append((pattern, status))


def button_named(text, within="div.actions"):
    return f"[...document.querySelectorAll({json.dumps(within + ' button')})].find((b) => b.textContent === {json.dumps(text)})"


def devtools_url():
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            with open(CHROME_LOG, errors="replace") as log:
                found = re.search(r"DevTools listening on (ws://\S+)", log.read())
        except FileNotFoundError:
            found = None
        if found:
            return found.group(1)
        time.sleep(0.1)
    raise Failure("chromium did not print 'DevTools listening on ws://...' within 20 s (see its log below)")


def open_tab():
    endpoint = devtools_url()
    host = re.match(r"ws://([^/]+)/", endpoint).group(1)
    # /json/new answers the new tab with its own WebSocket (newer chromium wants PUT for it).
    request = urllib.request.Request(f"http://{host}/json/new?about:blank", method="PUT")
    with urllib.request.urlopen(request, timeout=10) as response:
        target = json.load(response)
    print(f"chromium: {endpoint}; tab {target['id']}", flush=True)
    return Browser(target["webSocketDebuggerUrl"])


# --- the checks

def sign_in_page(b):
    print("sign-in", flush=True)
    b.call("Page.navigate", url=f"{BASE}/ui")
    b.wait("document.readyState === 'complete' && $m.getAttribute('data-page') === 'signin'", "/ui to render the sign-in page")
    check(b.js("location.hash") == "#/signin", "/ui without a key lands on #/signin", b.js("location.href"))
    check(b.js("$m.querySelector('h1')?.textContent") == "Sign in to Ferry", "the sign-in page has the heading 'Sign in to Ferry'")
    check(b.js("document.querySelector('label[for=key]')?.textContent") == "API key", "the key input #key is labelled 'API key'")
    check(b.js("document.querySelector('#key')?.type") == "password", "the key input is a password field")
    check(b.js("document.querySelectorAll('#nav a').length") == 0, "no navigation links before signing in")
    b.no_errors("loading /ui")
    b.screenshot("signin", "the sign-in form")

    # Keyboard only: from the top of the page (reloaded: the first load moved focus to <main>) Tab reaches the skip link, then the key input; type a wrong key, Tab to
    # 'Sign in' and press Enter. An alert, nothing kept.
    b.allow(r"/api/v1/whoami$", 401)
    b.reload("signin")
    order = []
    for _ in range(2):
        b.key("Tab")
        order.append(b.focused())
    b.type("fry_consoletest_this_is_not_a_key_0000000000000000")
    b.key("Tab")
    order.append(b.focused())
    check(order == ["a.skip", "#key", "button:Sign in"], "Tab moves through the skip link, the key input and 'Sign in'",
          f"focus went {order}")
    b.key("Enter")
    alert = b.wait("$m.querySelector('[role=alert]')?.textContent", "an error notice after a wrong key")
    check("not valid" in alert, "a wrong key shows an error notice (role=alert)", alert)
    check(b.js("location.hash") == "#/signin" and b.js("sessionStorage.length") == 0,
          "a wrong key keeps the page on #/signin and stores nothing", str(b.js("({...sessionStorage})")))
    b.no_errors("a wrong key")
    b.screenshot("signin-error", "the sign-in form after a wrong key, with its error notice")

    # The admin key with the mouse: click into the field, replace its text, click 'Sign in'.
    b.click("document.querySelector('#key')", "the key input")
    b.js("(document.querySelector('#key').select(), true)")
    b.type(ADMIN)
    b.click(button_named("Sign in", "form"), "the 'Sign in' button")
    b.wait("$m.getAttribute('data-page') === 'models' && $m.querySelector('h1')?.textContent === 'Models'", "the models page after signing in")
    check(b.js("sessionStorage.getItem('ferry.key')") == ADMIN, "the key is kept in sessionStorage")
    check(ADMIN not in b.js("location.href") and ADMIN not in b.js("document.cookie"), "the key is in neither the URL nor a cookie")
    who = b.js("document.querySelector('#nav .who')?.textContent")
    check(who is not None and who.startswith("admin (admin)"), "the navigation names the key: 'admin (admin)'", repr(who))
    links = b.js("[...document.querySelectorAll('#nav a')].map((a) => a.textContent)")
    missing = [x for x in ["Models", "Endpoints", "Jobs", "Alerts", "Audit", "Keys"] if x not in links]
    check(not missing, "an admin sees the Models, Endpoints, Jobs, Alerts, Audit and Keys sections", f"the navigation {links} lacks {missing}")
    check(b.js("document.querySelector('#nav a[aria-current=page]')?.textContent") == "Models", "the Models link is marked aria-current")


def skip_link(b):
    # On a signed-in page, reloaded (the key stays in sessionStorage): Tab to 'Skip to content' and press Enter. It
    # should move focus to <main> and keep the page.
    b.reload("models")
    b.key("Tab")
    check(b.focused() == "a.skip", "the first Tab reaches 'Skip to content'", b.focused())
    visible = b.js("(() => { const r = document.activeElement.getBoundingClientRect(); return r.left >= 0 && r.width > 0; })()")
    check(visible, "the focused skip link is on screen")
    b.key("Enter")
    b.pump(0.6)
    now = b.state()
    check(now["hash"] == "#/models" and now["h1"] == "Models" and b.focused() == "#main",
          "Enter on 'Skip to content' focuses <main> and keeps the Models page", f"after it: {json.dumps(now)}, focus {b.focused()}",
          bug="skip-link")
    b.no_errors("the skip link")


def models_page(b):
    print("models", flush=True)
    if b.state()["hash"] != "#/models":
        b.go("#/models", "models", "Models")
    listed = api("/api/v1/models")["items"]
    rows = b.js("tableRows('Registered models')")
    check(rows is not None and len(rows) == len(listed), f"the models table has the API's {len(listed)} model(s)", str(rows))
    fraud = next((r for r in rows if r[0] == "fraud"), None)
    want = next(m for m in listed if m["name"] == "fraud")
    check(fraud is not None, "the models table lists 'fraud'", str(rows))
    check(fraud[2] == str(want["latest_version"]), f"fraud's latest version is {want['latest_version']}", str(fraud))
    aliases = ", ".join(f"{a} → {v}" for a, v in want["aliases"].items())
    check(fraud[3] == aliases, f"fraud's aliases read '{aliases}'", str(fraud))
    check(b.js("$m.querySelector('a[href=\"#/models/fraud\"]') !== null"), "the model name links to #/models/fraud")
    b.screenshot("models", "the models table")


def plain_links(b, where):
    """Each non-route link of the page must open when clicked: a click is a navigation without the Authorization
    header the page sends with its API calls."""
    links = b.js("[...$m.querySelectorAll('a[href]')].map((a) => a.getAttribute('href')).filter((h) => !h.startsWith('#'))")
    for href in links:
        b.allow(re.escape(href) + "$", 401)
        status = b.js(f"fetch({json.dumps(href)}, {{credentials: 'omit', cache: 'no-store'}}).then((r) => r.status)", await_promise=True)
        check(status == 200, f"the link {href} on {where} opens with a plain click", f"it answers {status} without the key",
              bug="card-link" if "/card" in href else None)


def model_page(b):
    print("model fraud", flush=True)
    b.go("#/models/fraud", "models", "Model fraud")
    versions = api("/api/v1/models/fraud/versions")["items"]
    history = api("/api/v1/models/fraud/alias-history")["items"]
    drift = api("/api/v1/models/fraud/drift")
    perf = api("/api/v1/models/fraud/performance")

    rows = b.js("tableRows('Versions')")
    check(sorted(r[0] for r in rows) == sorted(str(v["version"]) for v in versions),
          f"the versions table lists versions {sorted(v['version'] for v in versions)}", str([r[0] for r in rows]))
    described = {r[0]: r[3] for r in rows}
    check(described.get("2") == "v2", "version 2 shows its description 'v2'", str(described))
    check([r[0] for r in rows if "production" in r[4]] == ["1"], "the production alias shows on version 1")
    by_number = {str(v["version"]): v for v in versions}
    check(all(r[7] == by_number[r[0]]["format"] for r in rows), "each version shows its format", str([r[7] for r in rows]))
    check(all(r[9] == ("unsigned" if "signature" not in by_number[r[0]] else r[9]) for r in rows),
          "each unsigned version says so in its signature column", str([r[9] for r in rows]))

    rows = b.js("tableRows('Alias history')")
    check(len(rows) == len(history) and rows[0][:2] == [history[-1]["alias"], str(history[-1]["to"])],
          f"the alias history has the API's {len(history)} move(s), newest first", str(rows))

    latest = max(versions, key=lambda v: v["version"])
    caption = b.js("[...$m.querySelectorAll('caption')].map((c) => c.textContent).find((t) => t.startsWith('Inputs of version'))")
    check(caption == f"Inputs of version {latest['version']}", f"the inputs shown are those of the latest version, {latest['version']}",
          f"the page shows '{caption}'", bug="latest-version")
    features = [f["name"] for f in latest["input_schema"]["features"]]
    rows = b.js("tableRows('Inputs of version', true)")
    check([r[0] for r in rows] == features, f"the inputs table lists the {len(features)} input features", str(rows))
    plain_links(b, "the model page")

    expected = f"Version {drift['version']}: {drift['current_rows']} recent rows against {drift['reference_rows']} reference rows."
    check(b.js(f"[...$m.querySelectorAll('p')].some((p) => p.textContent === {json.dumps(expected)})"),
          f"the drift summary reads '{expected}'")
    charts = b.js("""[...$m.querySelectorAll('figure.chart:not(.wide)')].map((f) => ({caption: f.querySelector('figcaption')?.textContent,
        name: f.querySelector('figcaption strong')?.textContent, svg: !!f.querySelector('svg.dist'),
        label: f.querySelector('svg.dist')?.getAttribute('aria-label'), role: f.querySelector('svg.dist')?.getAttribute('role'),
        bars: f.querySelectorAll('svg.dist rect').length}))""")
    series = drift["features"] + drift["outputs"]
    check(len(charts) == len(series), f"one drift chart per feature and output ({len(drift['features'])} + {len(drift['outputs'])})",
          f"the page has {len(charts)}")
    for chart, want in zip(charts, series):
        name = want["name"]
        check(chart["name"] == name, f"chart for {name} is in the API's order", str(chart["name"]))
        found = re.match(rf"^{re.escape(name)} PSI (\S+?)(,|$)", chart["caption"] or "")
        shown = float(found.group(1)) if found else None
        check(shown is not None and abs(shown - want["psi"]) <= 0.006 * max(1, abs(want["psi"])),
              f"chart {name}: caption 'NAME PSI x' with the API's PSI {want['psi']:.3g}", repr(chart["caption"]))
        if want.get("bins"):
            check(chart["svg"] and chart["role"] == "img" and chart["label"].startswith(f"{name}: ")
                  and chart["bars"] == 2 * len(want["bins"]["reference"]),
                  f"chart {name}: an svg.dist (role img, text alternative) with a reference and a current bar per bin", str(chart))
    hatched(b, "figure.chart svg.dist", "drift charts")
    overall = perf.get("overall", {})
    perf_rows = b.js(f"tableRows('Version {perf['version']} on predictions with ground truth')")
    check(perf_rows is not None, f"the performance table is that of version {perf['version']}")
    check(perf_rows[0][0] == str(overall.get("count")), f"the performance table counts {overall.get('count')} labelled rows", str(perf_rows))
    over_time(b)
    b.screenshot("model-fraud", "the model page: versions, alias history, inputs, serving, traffic and latency over time, drift charts with PSI over time, performance over time")


def since(seconds=3600):
    return urllib.parse.quote(time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - seconds)))


def chart_points(b, label):
    """The points of the line chart whose text alternative starts with label: [[series, value], ...], or None."""
    return b.js(f"""(() => {{ const s = [...$m.querySelectorAll('svg.line')].find((s) => s.getAttribute('aria-label').startsWith({json.dumps(label)}));
        return s ? [...s.querySelectorAll('.point')].map((p) => [p.getAttribute('data-series'), Number(p.getAttribute('data-value'))]) : null; }})()""")


def close(a, b, tolerance=1e-9):
    return a is not None and b is not None and abs(a - b) <= tolerance * max(1, abs(b))


def over_time(b):
    """The model page's figures over time (the last hour, per minute) against the API's series."""
    traffic = api(f"/api/v1/models/fraud/traffic?since={since()}&every=60")
    points = chart_points(b, "Requests and errors per period")
    check(points is not None, "the model page draws requests and errors per period", str(b.state()))
    shown = sum(v for s, v in points if s == "requests")
    want = sum(p["requests"] for p in traffic["periods"])
    check(want >= 30 and shown == want, f"the requests per period add up to the API's {want}", f"the chart adds up to {shown}")
    check(sum(v for s, v in points if s == "errors") == sum(p["errors"] for p in traffic["periods"]), "the errors per period are the API's")
    latency = chart_points(b, "Latency per period")
    want_p99 = sorted(p["p99_ms"] for p in traffic["periods"] if p.get("p99_ms") is not None)
    shown_p99 = sorted(v for s, v in latency or [] if s == "p99")
    check(len(shown_p99) == len(want_p99) and all(close(x, y) for x, y in zip(shown_p99, want_p99)),
          f"the latency chart's p99 points are the API's {want_p99}", str(shown_p99))
    check(b.js("$m.querySelector('#range')?.value") == "hour", "the range picker offers the last hour, per minute, by default")

    drift = api(f"/api/v1/models/fraud/drift?since={since()}&every=60")
    sparks = b.js("""[...$m.querySelectorAll('figure.chart')].filter((f) => f.querySelector('svg.dist'))
        .map((f) => [f.querySelector('figcaption strong').textContent, [...f.querySelectorAll('svg.line.small .point')].map((p) => Number(p.getAttribute('data-value')))])""")
    names = [f["name"] for f in drift["series"][-1]["features"] + drift["series"][-1]["outputs"]]
    check(len(sparks) == len(names) and all(len(v) >= 1 for _, v in sparks),
          f"every drift chart has its PSI over time ({len(names)} charts)", str(sparks)[:300])
    last = {f["name"]: f["psi"] for f in drift["series"][-1]["features"] + drift["series"][-1]["outputs"]}
    for name, values in sparks:
        check(close(values[-1], last.get(name), 1e-6), f"{name}: the last PSI point is the API's {last.get(name):.4g}", str(values))

    perf = api(f"/api/v1/models/fraud/performance?since={since()}&every=60")
    points = chart_points(b, "ROC AUC per period")
    want = [p["overall"].get("roc_auc") for p in perf["series"]]
    check(points is not None and [v for s, v in points if s == "overall"] == [v for v in want if v is not None] and want,
          f"the performance chart draws ROC AUC per period, the API's {want}", str(points))
    # Cohorts by is_night: one line per cohort, named as the API's segments.
    b.js("(() => { const s = $m.querySelector('#cohorts'); s.value = 'is_night'; s.dispatchEvent(new Event('change')); return true; })()")
    b.wait("[...$m.querySelectorAll('svg.line')].some((s) => s.getAttribute('aria-label').startsWith('ROC AUC per period by is_night'))",
           "the performance chart by is_night")
    perf = api(f"/api/v1/models/fraud/performance?since={since()}&every=60&segment_by=is_night")
    cohorts = sorted({c["segment"] for p in perf["series"] for c in p.get("segments") or []})
    drawn = sorted({s for s, _ in chart_points(b, "ROC AUC per period by is_night") if s != "overall"})
    check(cohorts and drawn == cohorts, f"the chart by is_night has one series per cohort {cohorts}", str(drawn))
    b.no_errors("the figures over time")


def fairness_page(b):
    print("fairness", flush=True)
    b.go("#/fairness/fraud/is_night", "fairness", "Fairness")
    report = api(f"/api/v1/models/fraud/fairness?attribute=is_night&since={since()}&every=60")
    rows = b.js("tableRows('Version', true)")
    want = [[g, f"{r['count']:,}"] for g, r in sorted(report["by_group"].items())] + [["overall", f"{report['overall']['count']:,}"]]
    check(rows is not None and [r[:2] for r in rows] == want, f"the fairness table has the API's groups and counts {want}", str(rows))
    disparities = b.js("tableRows('Disparities between the groups')")
    shown = float(disparities[0][1]) if disparities else None
    check(close(shown, report["demographic_parity_difference"], 1e-3),
          f"the demographic parity difference is the API's {report['demographic_parity_difference']:.4g}", str(disparities))
    points = chart_points(b, "Differences between the groups per period")
    check(points is not None and len([1 for s, _ in points if s == "demographic parity"]) == len(report["series"]),
          f"the chart has a demographic parity point per period ({len(report['series'])})", str(points))
    check(b.js("$m.querySelector('#fair-attribute').value") == "is_night", "the group picker shows is_night")
    b.screenshot("fairness", "the fairness page: rates per group of is_night, the disparities, their differences over time")


def split_label(name, variants):
    total = sum(v["weight"] for v in variants) or 1
    return f"traffic of {name}: " + ", ".join(f"{v['model']}:{v['version']} {round(v['weight'] / total * 100)}%" for v in variants)


def hatched(b, scope, where):
    """Series 1 (current, candidate) differs from series 0 by a pattern as well as a colour, as the legend shows."""
    fills = b.js(f"[...$m.querySelectorAll({json.dumps(scope + ' rect.series-1')})].map((r) => getComputedStyle(r).fill)")
    check(bool(fills) and all(f.startswith("url(") for f in fills), f"{where}: the orange bars are hatched (an SVG pattern fill), as in the legend",
          f"their fills: {sorted(set(fills))}", bug="hatch")


def split_bars(b, index, variants, where):
    """The index-th traffic bar (svg.split) draws one rect per variant, as wide as its share of the 600-unit bar."""
    bars = b.js(f"""[...([...$m.querySelectorAll('svg.split')][{index}]?.querySelectorAll('rect') ?? [])].map((r) =>
        [r.querySelector('title')?.textContent, Number(r.getAttribute('width')), r.getBoundingClientRect().width])""")
    total = sum(v["weight"] for v in variants) or 1
    want = [(f"{v['model']}:{v['version']}: {round(v['weight'] / total * 100)}%", v["weight"] / total * 600) for v in variants]
    drawn = len(bars) == len(want) and all(
        title == t and abs(width - w) < 0.01 and (shown > 0 or w == 0) for (title, width, shown), (t, w) in zip(bars, want))
    text = b.js(f"[...$m.querySelectorAll('svg.split')][{index}]?.textContent")
    check(drawn, f"{where}: the traffic bar draws a bar per variant as wide as its share ({', '.join(t for t, _ in want)})",
          f"bars {bars}, the svg's text {text!r}", bug="split-empty")


def endpoints_page(b):
    print("endpoints", flush=True)
    b.go("#/endpoints", "endpoints", "Endpoints")
    listed = api("/api/v1/endpoints")["items"]
    rows = b.js("tableRows('Endpoints and their traffic')")
    check([r[0] for r in rows] == [e["name"] for e in listed], f"the endpoints table lists {[e['name'] for e in listed]}", str(rows))
    labels = b.js("[...$m.querySelectorAll('svg.split')].map((s) => s.getAttribute('aria-label'))")
    want = [split_label(e["name"], e["variants"]) for e in listed]
    check(labels == want, "each endpoint's traffic bar (svg.split) describes the API's split", f"{labels} != {want}")
    for index, e in enumerate(listed):
        split_bars(b, index, e["variants"], f"endpoints page, {e['name']}")
    b.screenshot("endpoints", "the endpoints table with each endpoint's traffic split")


def rollout_view(b, who):
    """The endpoint page against GET /api/v1/endpoints/fraud-ep and its rollout events; answers the API's rollout."""
    detail = api("/api/v1/endpoints/fraud-ep")
    events = api("/api/v1/endpoints/fraud-ep/rollout/events")["items"]
    r = detail["rollout"]
    rollout, plan = r["rollout"], r["rollout"]["plan"]
    status = rollout["status"]
    b.wait(f"document.querySelector('#rollout-state strong')?.textContent === {json.dumps(status)}",
           f"#rollout-state to show '{status}'")
    state = b.js("document.querySelector('#rollout-state').textContent")
    stable, candidate = rollout["stable"], rollout["candidate"]
    parts = [f"{stable['model']}:{stable['version']} → {candidate['model']}:{candidate['version']}", status,
             f"candidate at {r['candidate_percent']:g}%", f"step {rollout['step'] + 1} of {len(plan['steps'])}",
             "steps " + " → ".join(f"{s:g}" for s in plan["steps"]) + "%", f"bake {plan['bake_seconds']:g} s"]
    missing = [p for p in parts if p not in state]
    check(not missing, f"#rollout-state shows {who}: status '{status}', candidate at {r['candidate_percent']:g}%, the step and plan",
          f"{state!r} lacks {missing}")
    label = b.js("$m.querySelector('svg.split')?.getAttribute('aria-label')")
    want = split_label("fraud-ep", detail["endpoint"]["variants"])
    check(label == want, f"the live traffic bar reads '{want}'", repr(label))
    split_bars(b, 0, detail["endpoint"]["variants"], f"endpoint page, {who}")
    # A rollout just started has no gate figures until the controller's first look (within its interval); the page
    # refreshes itself while the rollout runs, so page and API are compared until both have seen the same look.
    deadline = time.time() + 10
    while True:
        rows = b.js("tableRows('Gates at', true)")
        gates = [g["gate"] for g in r["gates"]]
        if [x[0] for x in rows] == gates or time.time() > deadline:
            break
        time.sleep(0.25)
        r = api("/api/v1/endpoints/fraud-ep")["rollout"]
    check([x[0] for x in rows] == gates, f"the gates table lists {gates}", str(rows))
    if r["rollout"]["status"] not in ("running", "paused"):
        check(all(x[3] != "waiting" for x in rows), "an ended rollout's gates wait for nothing", str(rows))
    rows = b.js("tableRows('Rollout timeline')")
    check([(x[0], x[2]) for x in rows] == [(str(e["sequence"]), e["action"]) for e in reversed(events)],
          f"the timeline has the API's {len(events)} event(s), newest first: {[e['action'] for e in reversed(events)]}", str(rows))
    return r


def actions(b):
    return b.js("[...document.querySelectorAll('div.actions button')].map((x) => x.textContent)")


def endpoint_page(b):
    print("endpoint fraud-ep", flush=True)
    b.go("#/endpoints/fraud-ep", "endpoints", "Endpoint fraud-ep")
    r = rollout_view(b, "the running rollout")
    check(r["rollout"]["status"] == "running", "the rollout is running before the clicks", r["rollout"]["status"])
    check(actions(b) == ["Pause", "Promote", "Roll back"], "an admin sees Pause, Promote and Roll back", str(actions(b)))
    candidate = "{model}:{version}".format(**r["rollout"]["candidate"])
    classes = b.js("Object.fromEntries([...$m.querySelectorAll('svg.split rect')].map((x) => [x.querySelector('title').textContent.split(':').slice(0, 2).join(':'), x.getAttribute('class')]))")
    check(classes.get(candidate) == "series-1", f"the candidate {candidate} is drawn orange and hatched (series-1), as the legend says",
          f"bar classes {classes}", bug="split-colours")
    hatched(b, "svg.split", "the traffic bar")
    shadows = api("/api/v1/endpoints/fraud-ep")["endpoint"]["shadows"]
    section = b.js("[...$m.querySelectorAll('h2')].some((h) => h.textContent === 'Shadow comparison')")
    shown = b.js("$m.querySelector('pre')?.textContent")
    check(section == bool(shadows), f"the shadow comparison shows only for an endpoint with shadows (this one has {len(shadows)})",
          f"the page shows it: {shown!r}", bug="empty-shadow")
    # A keyboard user on 'Roll back' of a running rollout: the page refreshes itself every 2 s.
    b.js(f"({button_named('Roll back')}.focus(), true)")
    b.next_refresh()
    b.pump(0.1)
    check(b.focused() == "button:Roll back", "keyboard focus on 'Roll back' survives the page's 2-second refresh",
          f"focus moved to {b.focused()}", bug="refresh-focus")
    b.screenshot("endpoint", "the endpoint page with a running canary: traffic split, rollout state, gates, actions, timeline")

    # A phone: 390 x 844, touch, no horizontal scrolling of the page.
    b.call("Emulation.setDeviceMetricsOverride", width=390, height=844, deviceScaleFactor=2, mobile=True)
    b.pump(0.3)
    width = b.js("[document.documentElement.scrollWidth, window.innerWidth]")
    check(width[0] <= width[1], "at 390 px wide the page does not scroll sideways", f"content {width[0]} px in {width[1]} px")
    b.screenshot("endpoint-phone", "the endpoint page at a phone's width (390 px, mobile)")
    b.call("Emulation.clearDeviceMetricsOverride")
    b.pump(0.2)
    b.no_errors("the endpoint page")


def jobs_page(b):
    print("jobs", flush=True)
    b.go("#/jobs", "jobs", "Batch jobs")
    listed = api("/api/v1/jobs")["items"]
    rows = b.js("tableRows('Jobs, newest first')")
    check([r[0] for r in rows] == [j["id"] for j in listed], f"the jobs table lists the API's {len(listed)} job(s) in its order", str(rows))
    first = listed[0]
    check(rows[0][1] == f"{first['model']}:{first['version']}" and rows[0][2] == first["state"] and rows[0][4] == str(first["progress"]["rows_done"]),
          f"job {first['id']}: {first['model']}:{first['version']}, {first['state']}, {first['progress']['rows_done']} rows", str(rows[0]))
    bar = b.js("$m.querySelector('progress') && [$m.querySelector('progress').value, $m.querySelector('progress').getAttribute('aria-label')]")
    check(bar and abs(bar[0] - first["progress"]["fraction"]) < 1e-9 and bar[1] == f"{first['id']} progress",
          "the job's progress bar has its fraction and a label", str(bar))
    b.screenshot("jobs", "the batch jobs table")


def alerts_page(b):
    print("alerts", flush=True)
    b.go("#/alerts", "alerts", "Alerts")
    events = api("/api/v1/alerts/events")["items"]
    rows = b.js("tableRows('Alert events, newest first')")
    check(len(rows) == len(events) and len(events) >= 2, f"the alerts table has the API's {len(events)} events", str(rows))
    newest = sorted(events, key=lambda e: e["sequence"], reverse=True)
    check([r[2] for r in rows] == [e["rule"] for e in newest], f"alert events are newest first, as captioned: {[e['rule'] for e in newest]}",
          f"the page shows {[r[2] for r in rows]}", bug="alerts-order")
    check(all(r[1] == "fraud" and r[3] == "inactive → firing" for r in rows), "each event shows its model and 'inactive → firing'", str(rows))
    rules = api("/api/v1/models/fraud/alerts")["items"]
    shown = b.js("tableRows('Alert rules and their state')")
    want = sorted([["fraud", x["rule"]["name"], x["status"]["state"]] for x in rules])
    check(shown is not None and sorted([r[0], r[1], r[3]] for r in shown) == want, f"the rules table has the API's rules and states {want}", str(shown))
    b.screenshot("alerts", "the alerts page: every rule with its state now, and the events")


def shadow_page(b):
    print("endpoint shadow-ep", flush=True)
    report = wait_api("/api/v1/endpoints/shadow-ep/shadow", lambda r: r["items"] and r["items"][0]["compared"] >= 10, "10 shadow comparisons")
    b.go("#/endpoints/shadow-ep", "endpoints", "Endpoint shadow-ep")
    rows = b.js("tableRows('Shadows against the answering version on mirrored traffic')")
    want = [[f"{x['shadow']['model']}:{x['shadow']['version']}", f"{x['compared']:,}", f"{x['shadow_errors']:,}"] for x in report["items"]]
    check(rows is not None and [r[:3] for r in rows] == want, f"the shadow table shows the API's comparison {want}", str(rows))
    b.screenshot("endpoint-shadow", "an endpoint with a shadow: the split and the shadow comparison table")


def audit_page(b):
    print("audit", flush=True)
    # More than the page's 100 entries: 100 description changes, the last one back to the original description.
    original = api("/api/v1/models/fraud")["description"]
    for i in range(100):
        api("/api/v1/models/fraud", method="PATCH", body={"description": original if i == 99 else f"console test change {i}"})
    b.go("#/audit", "audit", "Audit trail")
    verify = api("/api/v1/audit/verify")
    check(verify["intact"] and verify["entries"] > 100, f"the API finds the audit chain intact with {verify['entries']} entries")
    notice = b.js("[...$m.querySelectorAll('.notice')].map((n) => [n.textContent, n.className, n.getAttribute('role')])")
    want = f"The hash chain of {verify['entries']} entries is intact."
    check(notice == [[want, "notice ok", "status"]], f"the page says '{want}' (a status notice)", str(notice))
    rows = b.js("tableRows('Entries')")
    check(len(rows) == 100, "the entries table shows 100 entries", str(len(rows)))
    check(rows[0][0] == str(verify["entries"]), f"the entries table starts with the newest entry, #{verify['entries']}",
          f"it starts at #{rows[0][0]} and ends at #{rows[-1][0]}", bug="audit-newest")
    b.screenshot("audit", "the audit trail: chain verdict and entries")


def keys_page(b):
    print("keys", flush=True)
    b.go("#/keys", "keys", "API keys")
    listed = api("/api/v1/keys")["items"]
    rows = b.js("tableRows('Keys')")
    check(sorted((r[0], r[1], r[2]) for r in rows) == sorted((k["id"], k["name"], k["role"]) for k in listed),
          f"the keys table lists the API's {len(listed)} keys with names and roles", str(rows))
    check(not any(ADMIN in " ".join(r) or VIEWER in " ".join(r) for r in rows), "no key's secret is on the page")
    b.screenshot("keys", "the API keys table (admins only)")


def approvals_page(b):
    print("approvals", flush=True)
    # A deployer asks to move the protected alias 'staging' of fraud to version 2; the admin (signed in) approves it.
    api("/api/v1/models/fraud/aliases/staging/protection", method="PUT", body={"expires_after_seconds": 3600})
    deployer = api("/api/v1/keys", method="POST", body={"name": "console-deployer", "role": "deployer"})["secret"]
    asked = api("/api/v1/models/fraud/aliases/staging", key=deployer, method="PUT", body={"version": 2, "reason": "console test"})
    request = asked["approval"]
    check(request["state"] == "pending", f"moving a protected alias filed approval request {request['id']}", json.dumps(asked))
    b.go("#/approvals", "approvals", "Approvals")
    rows = b.js("tableRows('Waiting for a decision')")
    check(rows is not None and len(rows) == 1 and rows[0][0] == request["id"] and rows[0][1] == "fraud@staging"
          and rows[0][2] == request["change"]["summary"] and rows[0][3] == request["requested_by"],
          "the page lists the pending request with its target, change and requester", str(rows))
    protected = b.js("tableRows('Protected aliases and endpoints')")
    check(protected == [["fraud@staging", "1 h", "–", protected[0][3] if protected else ""]], "the protections table shows fraud@staging, 1 h", str(protected))
    b.screenshot("approvals", "the approvals page: a pending request with Approve and Reject, the protections")
    b.click(button_named("Approve", "span.actions"), "the 'Approve' button")
    wait_api("/api/v1/models/fraud/aliases", lambda v: any(a["name"] == "staging" and a["version"] == 2 for a in v["items"]),
             "the alias staging of fraud at version 2 after Approve")
    b.wait("tableRows('Requests, newest first')?.[0]?.[4] === 'approved'", "the request to show as approved")
    done = b.js("tableRows('Requests, newest first')[0]")
    check(done[0] == request["id"] and done[5].startswith("admin") and done[7] == "alias 'staging' of model 'fraud' points at version 2",
          "the request is approved by the admin, with what was done", str(done))
    check(b.js("tableRows('Waiting for a decision')") is None, "nothing waits any more", "")
    b.no_errors("the approvals page")


def cost_page(b):
    print("cost", flush=True)
    b.go("#/cost", "cost", "Cost")
    report = api("/api/v1/cost")
    rows = b.js("tableRows('Per model version')")
    want = [[m["model"], str(m["version"]), f"{m['requests']:,}", f"{m['predictions']:,}"] for m in report["models"]]
    check(rows is not None and [r[:4] for r in rows] == want, f"the cost page lists the API's {len(want)} version(s) with requests and predictions",
          f"page {rows}, API {want}")
    clients = b.js("tableRows('Per client')")
    check(clients is not None and sorted(r[0] for r in clients) == sorted(p["principal"] for p in report["principals"]),
          "the cost page lists the API's clients", str(clients))
    # The model page shows the data validation run the setup made.
    runs = api("/api/v1/models/fraud/validations")["items"]
    b.go("#/models/fraud", "models", "Model fraud")
    shown = b.js("tableRows(\"Files checked against the version's expectations, newest first\")")
    check(shown is not None and [r[0] for r in shown] == [r["id"] for r in runs] and len(runs) >= 1,
          f"the model page lists the API's {len(runs)} validation run(s)", str(shown))
    b.screenshot("cost", "the model page's data validation runs (after the cost page was checked)")


def other_pages(b):
    """Sections of the navigation this test has no own checks for (pages added later): each renders without errors."""
    covered = {"#/models", "#/endpoints", "#/jobs", "#/alerts", "#/audit", "#/keys", "#/approvals", "#/cost", "#/fairness"}
    links = b.js("[...document.querySelectorAll('#nav a')].map((a) => [a.getAttribute('href'), a.textContent])")
    for href, text in links:
        if href in covered:
            continue
        print(f"other page {href}", flush=True)
        b.js(f"($m.removeAttribute('data-page'), location.hash = {json.dumps(href)}, true)")
        page = href.split("/")[1]
        b.wait(f"$m.getAttribute('data-page') === {json.dumps(page)}", f"{href} to render")
        now = b.state()
        check(now["h1"] not in (None, "Something went wrong", "Not found"), f"the {text} page ({href}) renders", json.dumps(now))
        b.no_errors(href)
        b.screenshot(page, f"the {text} page (no checks of its own yet)")


def render_race(b):
    # Two routes in quick succession (a slow page, then a quick one): the page must end on the second.
    # The second change waits for the first one's hashchange, so the model page's render has begun.
    b.js("""($m.removeAttribute('data-page'),
        window.addEventListener('hashchange', () => setTimeout(() => { location.hash = '#/jobs'; }, 0), {once: true}),
        location.hash = '#/models/fraud', true)""")
    b.wait("location.hash === '#/jobs' && $m.getAttribute('data-page')", "a render after two quick route changes")
    b.pump(1.0)
    now = b.state()
    check(now["hash"] == "#/jobs" and now["page"] == "jobs" and now["h1"] == "Batch jobs",
          "after #/models/fraud then at once #/jobs, the jobs page stays", json.dumps(now), bug="render-race")
    b.no_errors("two quick route changes")


def rollout_actions(b):
    print("rollout actions", flush=True)
    b.go("#/endpoints/fraud-ep", "endpoints", "Endpoint fraud-ep")
    b.wait("document.querySelector('#rollout-state strong')?.textContent === 'running'", "the running rollout")

    b.next_refresh()
    b.click(button_named("Pause"), "the 'Pause' button")
    wait_api("/api/v1/endpoints/fraud-ep/rollout", lambda r: r["rollout"]["status"] == "paused", "status 'paused' after Pause")
    ok("clicking Pause pauses the rollout (API status 'paused')")
    b.wait("document.querySelector('#rollout-state strong')?.textContent === 'paused'", "the page to show 'paused'")
    rollout_view(b, "the paused rollout")
    check(actions(b) == ["Resume", "Promote", "Roll back"], "a paused rollout offers Resume (not Pause), Promote and Roll back", str(actions(b)))
    b.screenshot("endpoint-paused", "the endpoint page after clicking Pause: 'paused', and a Resume button")

    b.next_refresh()
    b.click(button_named("Resume"), "the 'Resume' button")
    wait_api("/api/v1/endpoints/fraud-ep/rollout", lambda r: r["rollout"]["status"] == "running", "status 'running' after Resume")
    ok("clicking Resume resumes the rollout (API status 'running')")
    b.wait("document.querySelector('#rollout-state strong')?.textContent === 'running'", "the page to show 'running'")
    check(actions(b) == ["Pause", "Promote", "Roll back"], "the resumed rollout offers Pause again", str(actions(b)))

    b.next_refresh()
    b.click(button_named("Roll back"), "the 'Roll back' button")
    r = wait_api("/api/v1/endpoints/fraud-ep/rollout", lambda r: r["rollout"]["status"] == "rolled_back", "status 'rolled_back' after Roll back")
    ok("clicking Roll back rolls the rollout back (API status 'rolled_back')")
    check(r["candidate_percent"] == 0, "after the rollback the candidate has 0% of the traffic", str(r["candidate_percent"]))
    b.wait("document.querySelector('#rollout-state strong')?.textContent === 'rolled_back'", "the page to show 'rolled_back'")
    rollout_view(b, "the rolled-back rollout")
    check(actions(b) == [], "a finished rollout offers no actions", str(actions(b)))
    b.no_errors("the rollout actions")
    b.screenshot("endpoint-rolled-back", "the endpoint page after Roll back: 100% on version 1, the whole timeline")


def viewer(b):
    print("viewer", flush=True)
    # A new rollout, so that there is something a deployer could act on.
    api("/api/v1/endpoints/fraud-ep/rollout", method="POST", body={"version": 2, "steps": [10, 50, 100], "bake_seconds": 300})
    b.click(button_named("Sign out", "#nav"), "the 'Sign out' button")
    b.wait("$m.getAttribute('data-page') === 'signin'", "the sign-in page after signing out")
    check(b.js("sessionStorage.getItem('ferry.key')") is None, "signing out forgets the key")
    check(b.js("document.querySelectorAll('#nav a').length") == 0, "signing out empties the navigation")

    # The viewer key by keyboard only: signing out moved focus to <main>; Tab to the key input, type, Enter.
    for _ in range(4):
        b.key("Tab")
        if b.focused() == "#key":
            break
    check(b.focused() == "#key", "Tab reaches the key input after signing out", b.focused())
    b.type(VIEWER)
    b.key("Enter")
    b.wait("$m.getAttribute('data-page') === 'models' && $m.querySelector('h1')?.textContent === 'Models'", "the models page for the viewer")
    who = b.js("document.querySelector('#nav .who')?.textContent")
    check(who is not None and who.startswith("console-viewer (viewer)"), "the navigation names the viewer key", repr(who))
    links = b.js("[...document.querySelectorAll('#nav a')].map((a) => a.textContent)")
    check("Keys" not in links, "a viewer sees no Keys link", str(links))
    check("Audit" not in links, "a viewer sees no Audit link (the audit trail is for admins)", str(links), bug="viewer-audit-link")

    b.go("#/endpoints/fraud-ep", "endpoints", "Endpoint fraud-ep")
    rollout_view(b, "the new rollout to the viewer")
    check(b.js("document.querySelectorAll('div.actions button').length") == 0, "a viewer gets no rollout buttons",
          str(actions(b)))
    b.allow(r"/rollout/pause$", 403)
    status = b.js("fetch('/api/v1/endpoints/fraud-ep/rollout/pause', {method: 'POST', credentials: 'omit', "
                  "headers: {Authorization: 'Bearer ' + sessionStorage.getItem('ferry.key')}}).then((r) => r.status)", await_promise=True)
    check(status == 403, "the viewer's key POSTing rollout/pause from the page is refused with 403", f"answered {status}")
    check(api("/api/v1/endpoints/fraud-ep/rollout")["rollout"]["status"] == "running", "the rollout is still running")
    b.screenshot("endpoint-viewer", "the endpoint page for a viewer: the same state, no action buttons")

    # A pending request: the viewer sees it and no Approve or Reject button.
    api("/api/v1/models/fraud/aliases/staging", method="PUT", body={"version": 1, "reason": "back"})
    b.go("#/approvals", "approvals", "Approvals")
    rows = b.js("tableRows('Waiting for a decision')")
    check(rows is not None and len(rows) == 1 and rows[0][6] == "–", "a viewer sees the pending request without Approve or Reject", str(rows))
    b.screenshot("approvals-viewer", "the approvals page for a viewer: the pending request, no buttons")

    b.allow(r"/api/v1/audit", 403)
    b.go("#/audit", "audit", "Something went wrong")
    alert = b.js("$m.querySelector('[role=alert]')?.textContent")
    check(alert is not None and alert.startswith("This key may not see this"), "a viewer opening #/audit gets a clear 403 notice", repr(alert))
    b.no_errors("the viewer's pages")


def main():
    os.makedirs(ARTIFACTS, exist_ok=True)
    started = time.monotonic()
    b = open_tab()
    for domain in ("Runtime", "Page", "Log"):
        b.call(f"{domain}.enable")
    if OVERRIDES:
        print(f"serving {sorted(OVERRIDES)} from {os.environ['CONSOLE_OVERRIDE_DIR']} instead of the server's", flush=True)
        b.call("Fetch.enable", patterns=[{"urlPattern": f"{BASE}/ui*", "requestStage": "Response"}])
    steps = [sign_in_page, skip_link, models_page, model_page, endpoints_page, endpoint_page, jobs_page, alerts_page,
             audit_page, keys_page, approvals_page, fairness_page, shadow_page, cost_page, other_pages, render_race, rollout_actions, viewer]
    for step in steps:
        step(b)
    b.no_errors("the whole run")
    ok("no JavaScript errors, console errors or unexpected failed requests in the whole run")
    print(f"\nConsole checks: {len(passed)} passed in {time.monotonic() - started:.1f} s; screenshots in {ARTIFACTS}:")
    for path, width, height, what in shots:
        print(f"  {os.path.basename(path)}  {width}x{height}  {what}")
    if warnings:
        print(f"\n{len(warnings)} warning(s):")
        for w in warnings:
            print(f"  {w}")


if __name__ == "__main__":
    try:
        main()
    except Failure as failure:
        print(f"\nFAILED: {failure}", flush=True)
        print(f"({len(passed)} checks passed before it)", flush=True)
        sys.exit(1)
    except (OSError, websocket.WebSocketException) as error:
        print(f"\nFAILED: lost the browser or the server: {type(error).__name__}: {error}", flush=True)
        sys.exit(1)
