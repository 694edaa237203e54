#!/usr/bin/env python3
"""ci_runner.py: runs the steps of plinth's CI pipelines (scripts/ci/) the
way their runners do, on this machine, for tests/integration/ci_pipelines.sh.

  ci_runner.py github  WORKFLOW EVENT [NUMBER]   EVENT: pull_request.opened,
                                                 pull_request.closed, push, schedule
  ci_runner.py cloudbuild CONFIG KEY=VALUE...    substitutions (_ACTION, _NAME, ...)
  ci_runner.py argo TEMPLATE KEY=VALUE...        workflow parameters

Conventions kept from each runner:
  GitHub Actions: every job on a fresh runner (new workspace and HOME), jobs
    ordered by needs and filtered by their if; run: steps are files run with
    `bash --noprofile --norc -eo pipefail` in the workspace; ${{ }}
    expressions over github/vars/env/steps/runner; GITHUB_PATH, GITHUB_ENV,
    GITHUB_OUTPUT; artefacts only through upload/download-artifact.
    Emulated actions: checkout (a copy of the checkout), auth (workload
    identity federation: needs a provider and a service account, returns an
    access token; no key file), upload/download-artifact; `gh` records PR
    comments.
  Cloud Build: one build = one fresh /workspace shared by its steps; $_SUB
    and ${_SUB} substituted, $$ for a shell $; automapSubstitutions; the
    cloud-sdk image's gcloud talks to the emulator.
  Argo: every container template is a pod with its own file system (its
    absolute /work/... paths live under the pod's directory); git input
    artefacts are checkouts; artefacts and parameters pass only through the
    workflow; withParam fans out over a JSON array with at most the steps
    template's parallelism pods at once.
Environment: CI_CHECKOUT (a prepared checkout to copy), CI_WORK (where
runners, artefact stores and comments live), CI_VARS (JSON: repository
variables), CI_ENV_OVERRIDES (JSON: workflow env values to replace), PLINTH_GCP_ENDPOINT (the emulator).  Prints what ran; exits non-zero when the pipeline failed.
"""
import concurrent.futures
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import yaml

WORK = os.environ["CI_WORK"]
CHECKOUT = os.environ["CI_CHECKOUT"]
counter = [0]
lock = threading.Lock()


def fresh(kind, name):
    with lock:
        counter[0] += 1
    os.makedirs(os.path.join(WORK, kind), exist_ok=True)
    return tempfile.mkdtemp(prefix="%s-" % re.sub(r"[^A-Za-z0-9_.-]", "_", name), dir=os.path.join(WORK, kind))


def checkout(dst):
    os.makedirs(os.path.dirname(dst) or ".", exist_ok=True)
    # hard links: as fast as a runner cache, and nothing in a pipeline edits the checkout in place
    subprocess.run(["cp", "-al", CHECKOUT, dst], check=True)


def log(*a):
    print(*a, flush=True)


def run_proc(argv, cwd, env, label):
    log("---- %s: %s (in %s)" % (label, " ".join(argv[:2]), os.path.relpath(cwd, WORK)))
    p = subprocess.run(argv, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    for line in p.stdout.splitlines():
        log("    " + line)
    log("    [exit %d]" % p.returncode)
    return p.returncode


# ---------------------------------------------------------------- GitHub --

def gh_lookup(name, ctx):
    name = name.strip()
    m = re.fullmatch(r"'([^']*)'", name)
    if m:
        return m.group(1)
    cur = ctx
    for part in name.split("."):
        if isinstance(cur, dict) and part in cur:
            cur = cur[part]
        else:
            return ""
    return cur


def gh_expr(expr, ctx):
    """a || b, a && b, a == b, a != b, !a over dotted names and 'strings'."""
    expr = expr.strip()
    if "||" in expr:
        for part in expr.split("||"):
            v = gh_expr(part, ctx)
            if v not in ("", None, False, 0):
                return v
        return ""
    if "&&" in expr:
        v = True
        for part in expr.split("&&"):
            v = gh_expr(part, ctx)
            if v in ("", None, False, 0):
                return False
        return v
    for op in ("==", "!="):
        if op in expr:
            a, b = expr.split(op, 1)
            eq = str(gh_expr(a, ctx)) == str(gh_expr(b, ctx))
            return eq if op == "==" else not eq
    if expr.startswith("!"):
        return gh_expr(expr[1:], ctx) in ("", None, False, 0)
    return gh_lookup(expr, ctx)


def gh_sub(s, ctx):
    if not isinstance(s, str):
        return s
    return re.sub(r"\$\{\{(.*?)\}\}", lambda m: str(gh_expr(m.group(1), ctx)), s)


def gh_action(uses, with_, ws, ctx, step_out, job):
    name = uses.split("@")[0]
    if name == "actions/checkout":
        shutil.rmtree(ws)
        checkout(ws)
    elif name == "google-github-actions/auth":
        if with_.get("credentials_json"):
            log("    auth: a service-account key was given: keys are not allowed")
            return 1
        if not with_.get("workload_identity_provider") or not with_.get("service_account"):
            log("    auth: needs workload_identity_provider and service_account")
            return 1
        if with_.get("token_format") != "access_token":
            log("    auth: token_format must be access_token (plinth reads GOOGLE_OAUTH_ACCESS_TOKEN)")
            return 1
        step_out["access_token"] = "ya29.wif-%s-%d" % (job, counter[0])
        log("    auth: OIDC token exchanged through %s for %s" % (with_["workload_identity_provider"],
                                                                with_["service_account"]))
    elif name == "actions/upload-artifact":
        store = os.path.join(WORK, "gh-artifacts", with_["name"])
        os.makedirs(store, exist_ok=True)
        for rel in [l.strip() for l in str(with_["path"]).splitlines() if l.strip()]:
            src = os.path.join(ws, rel)
            if not os.path.exists(src):
                log("    upload-artifact: no file %s" % rel)
                return 1
            shutil.copy2(src, store)
        log("    uploaded artefact %s: %s" % (with_["name"], sorted(os.listdir(store))))
    elif name == "actions/download-artifact":
        store = os.path.join(WORK, "gh-artifacts", with_["name"])
        if not os.path.isdir(store):
            log("    download-artifact: no artefact %s" % with_["name"])
            return 1
        dst = os.path.join(ws, with_.get("path", "."))
        for f in os.listdir(store):
            shutil.copy2(os.path.join(store, f), dst)
        log("    downloaded artefact %s" % with_["name"])
    else:
        log("    unknown action %s" % uses)
        return 1
    return 0


FAKE_GH = r"""#!/bin/sh
# gh pr comment N [--edit-last] --body-file F: records the comment
set -e
[ "$1 $2" = "pr comment" ] || { echo "fake gh: only 'pr comment'" >&2; exit 1; }
n=$3; shift 3; edit=0; body=""
while [ $# -gt 0 ]; do
  case "$1" in --edit-last) edit=1 ;; --body-file) body=$2; shift ;; esac; shift
done
[ -n "$GH_TOKEN" ] || { echo "gh: GH_TOKEN not set" >&2; exit 4; }
d="$CI_WORK/comments/$n"; mkdir -p "$d"
if [ $edit = 1 ]; then
  last=$(ls "$d" 2>/dev/null | sort | tail -n 1)
  [ -n "$last" ] || { echo "no comments found for current user" >&2; exit 1; }
  cp "$body" "$d/$last"
else
  cp "$body" "$d/$(date +%s%N).md"
fi
"""


def gh_job(wf, jname, job, ctx):
    base = fresh("gh", jname)
    ws, home, tmp = (os.path.join(base, x) for x in ("workspace", "home", "tmp"))
    for d in (ws, home, tmp, os.path.join(base, "bin")):
        os.makedirs(d)
    with open(os.path.join(base, "bin", "gh"), "w") as f:
        f.write(FAKE_GH)
    os.chmod(os.path.join(base, "bin", "gh"), 0o755)
    ghpath, ghenv = os.path.join(base, "github_path"), os.path.join(base, "github_env")
    open(ghpath, "w").close()
    open(ghenv, "w").close()
    paths = [os.path.join(base, "bin")]
    extra_env = {}
    ctx = dict(ctx, runner={"temp": tmp}, steps={})
    ctx["env"] = {k: gh_sub(v, ctx) for k, v in (wf.get("env") or {}).items()}
    ctx["env"].update(json.loads(os.environ.get("CI_ENV_OVERRIDES", "{}")))  # as a fork would edit them
    ctx["env"].update({k: gh_sub(v, ctx) for k, v in (job.get("env") or {}).items()})
    log("== job %s (fresh runner %s)" % (jname, os.path.relpath(base, WORK)))
    for i, st in enumerate(job["steps"]):
        out = {}
        sid = st.get("id", "step%d" % i)
        if "uses" in st:
            with_ = {k: gh_sub(v, ctx) for k, v in (st.get("with") or {}).items()}
            log("---- %s: uses %s" % (jname, st["uses"]))
            rc = gh_action(st["uses"], with_, ws, ctx, out, jname)
        else:
            script = os.path.join(tmp, "step%d.sh" % i)
            with open(script, "w") as f:
                f.write(gh_sub(st["run"], ctx))
            env = dict(os.environ)
            env.update(ctx["env"])
            env.update(extra_env)
            env.update({k: str(gh_sub(v, ctx)) for k, v in (st.get("env") or {}).items()})
            outf = os.path.join(tmp, "out%d" % i)
            open(outf, "w").close()
            env.update(HOME=home, RUNNER_TEMP=tmp, GITHUB_WORKSPACE=ws, GITHUB_PATH=ghpath, GITHUB_ENV=ghenv,
                       GITHUB_OUTPUT=outf, CI="true", GITHUB_ACTIONS="true", CI_WORK=WORK,
                       GITHUB_ACTOR="octocat", GITHUB_EVENT_NAME=ctx["github"]["event_name"])
            env["PATH"] = ":".join(paths + [env["PATH"]])
            rc = run_proc(["bash", "--noprofile", "--norc", "-eo", "pipefail", script], ws, env,
                          "%s: %s" % (jname, st.get("name", "run")))
            for line in open(outf):
                if "=" in line:
                    k, v = line.rstrip("\n").split("=", 1)
                    out[k] = v
            paths = [l.strip() for l in open(ghpath) if l.strip()][::-1] + [os.path.join(base, "bin")]
            for line in open(ghenv):
                if "=" in line:
                    k, v = line.rstrip("\n").split("=", 1)
                    extra_env[k] = v
        ctx["steps"][sid] = {"outputs": out}
        if rc != 0:
            log("== job %s FAILED at step %d" % (jname, i))
            return False
    return True


def github(path, event, number=None):
    wf = yaml.safe_load(open(path))
    name, _, action = event.partition(".")
    gctx = {"event_name": name, "event": {"action": action, "number": number,
                                          "pull_request": {"number": number}},
            "ref": "refs/heads/main", "token": "ghs_test_token"}
    ctx = {"github": gctx, "vars": json.loads(os.environ.get("CI_VARS", "{}")), "secrets": {}}
    jobs = wf["jobs"]
    done, ok = [], True
    while len(done) < len(jobs):
        progressed = False
        for jname, job in jobs.items():
            if jname in done:
                continue
            needs = job.get("needs") or []
            needs = [needs] if isinstance(needs, str) else needs
            if not all(n in done for n in needs):
                continue
            done.append(jname)
            progressed = True
            cond = job.get("if")
            if (cond and not gh_expr(cond, ctx)) or any(n in skipped for n in needs):
                skipped.add(jname)
                continue
            if not gh_job(wf, jname, job, ctx):
                return False
        if not progressed:
            raise SystemExit("jobs with unsatisfiable needs")
    return ok


skipped = set()

# ----------------------------------------------------------- Cloud Build --


def cb_sub(s, subs):
    if not isinstance(s, str):
        return s
    s = s.replace("$$", "\0")
    s = re.sub(r"\$\{(_[A-Z0-9_]+)\}|\$(_[A-Z0-9_]+)", lambda m: subs[m.group(1) or m.group(2)], s)
    return s.replace("\0", "$")


def cloudbuild(path, kv):
    cfg = yaml.safe_load(open(path))
    subs = dict(cfg.get("substitutions") or {})
    subs.update(kv)
    ws = os.path.join(fresh("cloudbuild", kv.get("_ACTION", "build")), "workspace")
    checkout(ws)
    log("== build %s (fresh /workspace %s)" % (kv, os.path.relpath(ws, WORK)))
    gcloud = os.path.join(WORK, "gcloud-config")
    for st in cfg["steps"]:
        image = cb_sub(st["name"], subs)
        env = dict(os.environ)
        if (cfg.get("options") or {}).get("automapSubstitutions"):
            env.update(subs)
        for e in st.get("env") or []:
            k, v = cb_sub(e, subs).split("=", 1)
            v = v.replace("/workspace", ws)
            env[k] = v
        if "cloud-sdk" in image:
            env.update(CLOUDSDK_CONFIG=gcloud, CLOUDSDK_AUTH_DISABLE_CREDENTIALS="1",
                       CLOUDSDK_CORE_PROJECT="ci-infra", CLOUDSDK_CORE_DISABLE_PROMPTS="1",
                       CLOUDSDK_COMPONENT_MANAGER_DISABLE_UPDATE_CHECK="1",
                       CLOUDSDK_API_ENDPOINT_OVERRIDES_STORAGE=os.environ["PLINTH_GCP_ENDPOINT"] + "/storage/storage/v1/")
        env["HOME"] = os.path.join(os.path.dirname(ws), "home-" + st.get("id", "step"))
        os.makedirs(env["HOME"], exist_ok=True)
        args = [cb_sub(a, subs).replace("/workspace", ws) for a in st.get("args") or []]
        argv = [st.get("entrypoint", "bash")] + args
        cwd = os.path.join(ws, st.get("dir", ""))
        if run_proc(argv, cwd, env, "step %s [%s]" % (st.get("id", "?"), image)) != 0:
            log("== build FAILED at step %s" % st.get("id"))
            return False
    return True

# ------------------------------------------------------------------ Argo --


class Argo:
    def __init__(self, path, params):
        docs = [d for d in yaml.safe_load_all(open(path)) if d and d.get("kind") == "WorkflowTemplate"]
        self.wt = docs[0]
        self.spec = self.wt["spec"]
        self.tmpl = {t["name"]: t for t in self.spec["templates"]}
        self.params = {p["name"]: p.get("value", "") for p in self.spec["arguments"]["parameters"]}
        self.params.update(params)
        self.name = self.wt["metadata"]["name"] + "-test"
        self.store = os.path.join(WORK, "argo-artifacts")
        os.makedirs(self.store, exist_ok=True)

    def sub(self, s, scope):
        if not isinstance(s, str):
            return s

        def one(m):
            key = m.group(1).strip()
            if key in scope:
                v = scope[key]
                return v if isinstance(v, str) else json.dumps(v)
            raise SystemExit("argo: unresolved {{%s}}" % key)
        return re.sub(r"\{\{([^}]+)\}\}", one, s)

    def scope(self, extra=None):
        s = {"workflow.parameters." + k: v for k, v in self.params.items()}
        s["workflow.name"] = self.name
        s.update(extra or {})
        return s

    def container(self, t, args, stepname):
        pod = fresh("argo-pods", stepname)
        scope = self.scope({"inputs.parameters." + k: v for k, v in args["parameters"].items()})
        m = lambda p: pod + p if p.startswith("/") else p
        inp = t.get("inputs") or {}
        for a in inp.get("artifacts") or []:
            dst = m(a["path"])
            if "git" in a:
                checkout(dst)
            elif a["name"] in args["artifacts"]:
                src = os.path.join(self.store, args["artifacts"][a["name"]])
                os.makedirs(os.path.dirname(dst), exist_ok=True)
                subprocess.run(["cp", "-a", src, dst], check=True)
            else:
                raise SystemExit("argo: no input artefact %s" % a["name"])
        c = t["container"]
        rw = lambda s: re.sub(r"(?<![\w/])/work/", pod + "/work/", self.sub(s, scope))
        argv = [rw(x) for x in (c.get("command") or []) + (c.get("args") or [])]
        env = dict(os.environ, HOME=pod + "/home")
        for e in c.get("env") or []:
            env[e["name"]] = rw(e.get("value", ""))
        cwd = m(c.get("workingDir", "/"))
        os.makedirs(cwd, exist_ok=True)
        rc = run_proc(argv, cwd, env, "pod %s" % stepname)
        outs = {"parameters": {}, "artifacts": {}}
        if rc == 0:
            o = t.get("outputs") or {}
            for a in o.get("artifacts") or []:
                key = "%s.%s" % (os.path.basename(pod), a["name"])
                subprocess.run(["cp", "-a", m(a["path"]), os.path.join(self.store, key)], check=True)
                outs["artifacts"][a["name"]] = key
            for p in o.get("parameters") or []:
                outs["parameters"][p["name"]] = open(m(p["valueFrom"]["path"])).read().strip()
        return rc == 0, outs

    def steps(self, t, args):
        results = {}
        par = int(t.get("parallelism", 1 << 30))
        for group in t["steps"]:
            for st in group:
                scope = self.scope()
                for name, r in results.items():
                    if isinstance(r, list):
                        scope["steps.%s.outputs.parameters" % name] = json.dumps([x["parameters"] for x in r])
                    else:
                        for k, v in r["parameters"].items():
                            scope["steps.%s.outputs.parameters.%s" % (name, k)] = v
                        for k, v in r["artifacts"].items():
                            scope["steps.%s.outputs.artifacts.%s" % (name, k)] = v
                if "when" in st:
                    a, op, b = re.split(r"\s*(==|!=)\s*", self.sub(st["when"], scope).strip())
                    if (a == b) != (op == "=="):
                        log("---- step %s skipped (when)" % st["name"])
                        continue
                items = [None]
                if "withParam" in st:
                    items = json.loads(self.sub(st["withParam"], scope))
                    log("---- step %s: withParam over %d items, parallelism %d" % (st["name"], len(items), par))

                def run_item(item, i):
                    sc = dict(scope)
                    if isinstance(item, dict):
                        sc.update({"item." + k: ("null" if v is None else v) for k, v in item.items()})
                    a = st.get("arguments") or {}
                    targs = {"parameters": {p["name"]: self.sub(p["value"], sc) for p in a.get("parameters") or []},
                             "artifacts": {x["name"]: self.sub(x["from"], sc) for x in a.get("artifacts") or []}}
                    return self.run(st["template"], targs, "%s-%d" % (st["name"], i) if item else st["name"])
                with concurrent.futures.ThreadPoolExecutor(max_workers=min(par, max(1, len(items)))) as ex:
                    res = list(ex.map(lambda p: run_item(*p), [(it, i) for i, it in enumerate(items)]))
                if not all(ok for ok, _ in res):
                    log("---- step %s FAILED" % st["name"])
                    return False, {}
                results[st["name"]] = [o for _, o in res] if "withParam" in st else res[0][1]
        return True, {"parameters": {}, "artifacts": {}}

    def run(self, name, args, stepname):
        t = self.tmpl[name]
        if "steps" in t:
            return self.steps(t, args)
        return self.container(t, args, stepname)


def argo(path, kv):
    a = Argo(path, kv)
    log("== workflow %s %s" % (a.name, kv))
    ok, _ = a.run(a.spec["entrypoint"], {"parameters": {}, "artifacts": {}}, "main")
    log("== workflow %s" % ("Succeeded" if ok else "Failed"))
    return ok


def main():
    kind = sys.argv[1]
    if kind == "github":
        ok = github(sys.argv[2], sys.argv[3], sys.argv[4] if len(sys.argv) > 4 else None)
    else:
        kv = dict(x.split("=", 1) for x in sys.argv[3:])
        ok = cloudbuild(sys.argv[2], kv) if kind == "cloudbuild" else argo(sys.argv[2], kv)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
