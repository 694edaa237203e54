#!/usr/bin/env python3
"""cdp.py: drives Debian's headless Chromium through the DevTools protocol
over a pipe (--remote-debugging-pipe: commands on fd 3, answers on fd 4,
each message JSON ended by a NUL byte), so browser tests need neither a
WebSocket library nor anything from outside Debian.

As a module: Browser(chromium_path, user_data_dir) with goto(url),
eval(js), wait_for(js, timeout), screenshot(path), close().
"""
import base64
import json
import os
import subprocess
import time


class Browser:
    def __init__(self, chromium, user_data_dir, width=1200, height=1600):
        r3, w3 = os.pipe()  # our commands -> chromium's fd 3
        r4, w4 = os.pipe()  # chromium's fd 4 -> our answers
        # Chromium reads fd 3 and writes fd 4: put the pipe ends there in the child.
        # preexec_fn runs before the child closes what pass_fds does not
        # name, so 3 and 4 are listed; the ends go through high numbers
        # first so that neither dup2 clobbers the other's source.
        def child_fds():
            a, b = os.dup(r3) + 100, os.dup(w4) + 100
            os.dup2(r3, a)
            os.dup2(w4, b)
            os.dup2(a, 3)
            os.dup2(b, 4)
        self.proc = subprocess.Popen(
            [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             "--disable-dev-shm-usage", "--remote-debugging-pipe", "--user-data-dir=" + user_data_dir,
             "--window-size=%d,%d" % (width, height), "about:blank"],
            pass_fds=(3, 4), preexec_fn=child_fds, stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        os.close(r3)
        os.close(w4)
        self.wr, self.rd = w3, r4
        self.buf = b""
        self.next_id = 0
        self.events = []
        targets = self.call("Target.getTargets")["targetInfos"]
        page = [t for t in targets if t["type"] == "page"][0]
        self.session = self.call("Target.attachToTarget", targetId=page["targetId"], flatten=True)["sessionId"]
        self.call("Page.enable", session=True)
        self.call("Runtime.enable", session=True)

    def _send(self, msg):
        os.write(self.wr, json.dumps(msg).encode() + b"\0")

    def _recv(self, timeout):
        end = time.time() + timeout
        while b"\0" not in self.buf:
            if time.time() > end:
                raise TimeoutError("no answer from chromium")
            import select
            r, _, _ = select.select([self.rd], [], [], max(0.0, end - time.time()))
            if r:
                chunk = os.read(self.rd, 1 << 20)
                if not chunk:
                    raise RuntimeError("chromium closed the pipe")
                self.buf += chunk
        msg, self.buf = self.buf.split(b"\0", 1)
        return json.loads(msg)

    def call(self, method, session=False, timeout=30, **params):
        self.next_id += 1
        msg = {"id": self.next_id, "method": method, "params": params}
        if session:
            msg["sessionId"] = self.session
        self._send(msg)
        while True:
            m = self._recv(timeout)
            if m.get("id") == self.next_id:
                if "error" in m:
                    raise RuntimeError("%s: %s" % (method, m["error"]))
                return m.get("result", {})
            self.events.append(m)

    def goto(self, url):
        self.call("Page.navigate", session=True, url=url)
        self.wait_for("document.readyState === 'complete'")

    def eval(self, js):
        r = self.call("Runtime.evaluate", session=True, expression=js, awaitPromise=True, returnByValue=True)
        if "exceptionDetails" in r:
            raise RuntimeError("js error: %s" % json.dumps(r["exceptionDetails"])[:500])
        return r["result"].get("value")

    def wait_for(self, js, timeout=30):
        end = time.time() + timeout
        while time.time() < end:
            try:
                if self.eval(js):
                    return
            except RuntimeError:
                pass
            time.sleep(0.1)
        raise TimeoutError("timed out waiting for: " + js)

    def text(self):
        return self.eval("document.body.innerText")

    def screenshot(self, path):
        data = self.call("Page.captureScreenshot", session=True, format="png")["data"]
        with open(path, "wb") as f:
            f.write(base64.b64decode(data))

    def close(self):
        try:
            self.call("Browser.close", timeout=5)
        except Exception:
            pass
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
