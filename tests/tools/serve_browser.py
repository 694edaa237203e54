#!/usr/bin/env python3
"""serve_browser.py URL REQUESTER_TOKEN APPROVER_TOKEN OUTDIR: the web page of
`plinth serve` in a real headless Chromium (issue 19, acceptance 2): the
requester signs in with ?token=, sees the catalogue, fills the
artifact_registry form, sees the plan; the approver opens the same page and
approves; the requester's page follows the run live and shows `applied`
and the outputs.  Values from the request are shown as text, never markup.
Screenshots go to OUTDIR."""
import os
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cdp import Browser  # noqa: E402

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")


def check(cond, what):
    if not cond:
        raise SystemExit("FAIL: " + what)


def main():
    url, ana, bo, out = sys.argv[1:5]
    os.makedirs(out, exist_ok=True)
    tmp = tempfile.mkdtemp()
    req = Browser(CHROMIUM, os.path.join(tmp, "ana"))
    appr = None
    try:
        req.goto(url + "/?token=" + ana)
        check("token" not in req.eval("location.href"), "the token stays in the address bar")
        req.wait_for("document.querySelector('#module-artifact_registry form') !== null")
        text = req.text()
        check("Catalogue" in text and "artifact_registry" in text, "catalogue not shown: " + text[:300])
        check("ana (requester)" in text, "signed-in user not shown")
        req.screenshot(os.path.join(out, "serve-catalog.png"))
        # Fill the form as a person would, field by field, and submit it.
        req.eval("""(() => {
          const f = document.querySelector('#module-artifact_registry form');
          const set = (n, v) => { const e = f.querySelector('[name="' + n + '"]'); e.focus(); e.value = v;
            e.dispatchEvent(new Event('input', { bubbles: true })); };
          set('__name', 'web-imgs'); set('name', 'web-imgs'); set('location', 'europe-west1');
          set('description', '<img src=x onerror="document.title=1">'); set('__ttl', '72h');
          f.querySelector('button[type=submit]').click();
        })()""")
        req.wait_for("location.pathname.startsWith('/env/')")
        req.wait_for("document.getElementById('plan') !== null", timeout=90)
        env_path = req.eval("location.pathname")
        text = req.text()
        check("module.env.gcp.artifact_registry_repository.images" in text, "plan not shown: " + text[:500])
        check("Plan: 1 to create" in text, "plan summary not shown")
        check(req.eval("document.querySelector('#plan .add') !== null"), "plan lines are not coloured")
        check("<img src=x onerror=" in text, "the hostile description is not shown as text")
        check(req.eval("document.querySelector('main img') === null") and req.eval("document.title") != "1",
              "a request value became markup")
        check(req.eval("document.getElementById('btn-approve') === null"), "requester is offered Approve")
        req.screenshot(os.path.join(out, "serve-plan.png"))
        # The approver approves on the same page.
        appr = Browser(CHROMIUM, os.path.join(tmp, "bo"))
        appr.goto(url + env_path + "?token=" + bo)
        appr.wait_for("document.getElementById('btn-approve') !== null")
        check("bo (approver)" in appr.text(), "approver not signed in")
        appr.eval("document.getElementById('btn-approve').click()")
        # The requester's page follows the run through the event stream.
        req.wait_for("document.getElementById('status').textContent === 'applied'", timeout=120)
        req.wait_for("document.querySelectorAll('#outputs tr').length >= 2")
        text = req.text()
        check("europe-west1-docker.pkg.dev/plinth-demo/web-imgs" in text, "outputs not shown: " + text[-800:])
        check("approved by bo" in text, "approver not shown")
        check(req.eval("document.getElementById('btn-destroy') !== null"), "requester not offered Destroy")
        req.screenshot(os.path.join(out, "serve-applied.png"))
        # Destroy from the page.
        req.eval("document.getElementById('btn-destroy').click()")
        req.wait_for("document.getElementById('status').textContent === 'destroyed'", timeout=120)
        req.screenshot(os.path.join(out, "serve-destroyed.png"))
        print("serve_browser: catalogue, form, plan, approval, applied with outputs, destroyed: ok")
    finally:
        req.close()
        if appr:
            appr.close()


if __name__ == "__main__":
    main()
