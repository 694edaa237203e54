#!/usr/bin/env python3
"""argo_schema.py CRD_FILE YAML...: checks every template of the
WorkflowTemplates (and CronWorkflows' workflowSpec templates) in YAML
against upstream Argo's structural schema of a Template, taken from a CRD
that embeds it in full (WorkflowTaskSet's spec.tasks values), the way a
kube-apiserver with strict field validation would: types, required fields,
int-or-string, and no unknown fields (a steps group, a bare list in YAML, is
checked as the ParallelSteps object it decodes to).  Also checks what Argo itself checks
when it accepts a template: the entrypoint and every step's template exist,
steps refer only to earlier steps' outputs, withParam steps are inside a
template with bounded parallelism.  Exits 1 naming each violation."""
import re
import sys
import yaml

errors = []


def check(schema, v, where):
    if v is None:
        return
    if schema.get("x-kubernetes-int-or-string"):
        if not isinstance(v, (int, str)) or isinstance(v, bool):
            errors.append("%s: expected an integer or a string, found %r" % (where, v))
        return
    t = schema.get("type")
    ok = {"object": dict, "array": list, "string": str, "boolean": bool, "integer": int, "number": (int, float)}
    if t and not isinstance(v, ok[t]) or (t in ("integer", "number") and isinstance(v, bool)):
        errors.append("%s: expected %s, found %r" % (where, t, v if not isinstance(v, (dict, list)) else type(v).__name__))
        return
    if "enum" in schema and v not in schema["enum"]:
        errors.append("%s: %r not one of %s" % (where, v, schema["enum"]))
    if isinstance(v, dict):
        props = schema.get("properties")
        addl = schema.get("additionalProperties")
        for r in schema.get("required", []):
            if r not in v:
                errors.append("%s: missing required field %s" % (where, r))
        for k, x in v.items():
            if props and k in props:
                check(props[k], x, "%s.%s" % (where, k))
            elif isinstance(addl, dict):
                check(addl, x, "%s.%s" % (where, k))
            elif props is not None and not schema.get("x-kubernetes-preserve-unknown-fields"):
                errors.append("%s: unknown field %s" % (where, k))
    if isinstance(v, list) and "items" in schema:
        for i, x in enumerate(v):
            check(schema["items"], x, "%s[%d]" % (where, i))


def semantics(name, spec):
    tmpl = {t["name"]: t for t in spec.get("templates", [])}
    if spec.get("entrypoint") and spec["entrypoint"] not in tmpl:
        errors.append("%s: entrypoint %s is not a template" % (name, spec["entrypoint"]))
    for t in tmpl.values():
        earlier = set()
        for group in t.get("steps") or []:
            for st in group:
                if st["template"] not in tmpl:
                    errors.append("%s.%s.%s: no template %s" % (name, t["name"], st["name"], st["template"]))
                text = yaml.safe_dump(st)
                for ref in re.findall(r"steps\.([A-Za-z0-9-]+)\.outputs", text):
                    if ref not in earlier:
                        errors.append("%s.%s.%s: uses outputs of %s, not an earlier step" % (name, t["name"], st["name"], ref))
                if "withParam" in st and not t.get("parallelism"):
                    errors.append("%s.%s.%s: withParam fan-out without parallelism" % (name, t["name"], st["name"]))
            earlier |= {st["name"] for st in group}


def main():
    crd = yaml.safe_load(open(sys.argv[1]))
    root = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    template = root["properties"]["spec"]["properties"]["tasks"]["additionalProperties"]
    n = 0
    for path in sys.argv[2:]:
        for doc in yaml.safe_load_all(open(path)):
            if not doc:
                continue
            name = "%s/%s" % (doc["kind"], doc["metadata"]["name"])
            spec = doc["spec"] if doc["kind"] == "WorkflowTemplate" else doc["spec"].get("workflowSpec", {})
            for i, t in enumerate(spec.get("templates", [])):
                # Argo's Go type of a steps group is ParallelSteps{steps}, encoded as a bare list
                t = dict(t, steps=[{"steps": g} for g in t["steps"]]) if "steps" in t else t
                check(template, t, "%s.spec.templates[%d](%s)" % (name, i, t.get("name")))
                n += 1
            semantics(name, spec)
    for e in errors:
        print(e)
    print("%d templates checked against the upstream Template schema, %d problems" % (n, len(errors)))
    sys.exit(1 if errors or n == 0 else 0)


if __name__ == "__main__":
    main()
