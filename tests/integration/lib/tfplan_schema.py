#!/usr/bin/env python3
"""tfplan_schema.py FILE: validates a JSON plan against Terraform's "JSON
Output Format" (developer.hashicorp.com/terraform/internals/json-format,
format 1.x) as documented there, and against what terraform-json's Plan
type requires on decode (format_version >= 0.1, < 2.0).  Written from the
documentation; exits 1 naming the first violation."""
import json
import sys

ACTIONS = [["no-op"], ["create"], ["read"], ["update"], ["delete", "create"], ["create", "delete"], ["delete"],
           ["forget"]]
REASONS = {"replace_because_cannot_update", "replace_because_tainted", "replace_by_request", "replace_by_triggers",
           "delete_because_no_resource_config", "delete_because_wrong_repetition", "delete_because_count_index",
           "delete_because_each_key", "delete_because_no_module", "read_because_config_unknown",
           "read_because_dependency_pending"}


class Bad(Exception):
    pass


def need(cond, where, what):
    if not cond:
        raise Bad("%s: %s" % (where, what))


def typ(v, t, where):
    need(isinstance(v, t) and not (t is int and isinstance(v, bool)), where,
         "expected %s, found %r" % (getattr(t, "__name__", t), v))


def shape_matches(shape, value, where, allow_missing=True):
    """*_sensitive / after_unknown: true, false, or a structure mirroring
    the value with bools at the leaves."""
    if isinstance(shape, bool):
        return
    if isinstance(shape, dict):
        need(value is None or isinstance(value, dict), where, "object shape over a non-object")
        for k, s in shape.items():
            shape_matches(s, (value or {}).get(k), "%s.%s" % (where, k))
        return
    if isinstance(shape, list):
        need(value is None or isinstance(value, list), where, "array shape over a non-array")
        for i, s in enumerate(shape):
            shape_matches(s, value[i] if value and i < len(value) else None, "%s[%d]" % (where, i))
        return
    raise Bad("%s: shape leaves must be booleans, found %r" % (where, shape))


def leaves_true(shape, path=""):
    if shape is True:
        yield path
    elif isinstance(shape, dict):
        for k, s in shape.items():
            yield from leaves_true(s, path + "." + k if path else k)
    elif isinstance(shape, list):
        for i, s in enumerate(shape):
            yield from leaves_true(s, "%s[%d]" % (path, i))


def get(value, path):
    cur = value
    for part in path.replace("]", "").replace("[", ".").split("."):
        if cur is None or part == "":
            return None
        cur = cur[int(part)] if isinstance(cur, list) else cur.get(part) if isinstance(cur, dict) else None
    return cur


def check_resource_values(r, where):
    for k in ("address", "mode", "type", "name", "provider_name"):
        typ(r.get(k), str, "%s.%s" % (where, k))
    need(r["mode"] in ("managed", "data"), where, "mode")
    typ(r.get("schema_version"), int, where + ".schema_version")
    typ(r.get("values"), dict, where + ".values")
    if "sensitive_values" in r:
        shape_matches(r["sensitive_values"], r["values"], where + ".sensitive_values")
        for p in leaves_true(r["sensitive_values"]):
            need(get(r["values"], p) is None, where, "sensitive value %s present in values" % p)


def check_module(m, where, root=False):
    typ(m, dict, where)
    if not root:
        typ(m.get("address"), str, where + ".address")
    for i, r in enumerate(m.get("resources", [])):
        check_resource_values(r, "%s.resources[%d]" % (where, i))
        if not root:
            need(r["address"].startswith(m["address"] + "."), where, "resource outside its module")
    for i, c in enumerate(m.get("child_modules", [])):
        check_module(c, "%s.child_modules[%d]" % (where, i))


def check_values(v, where):
    typ(v, dict, where)
    for name, o in (v.get("outputs") or {}).items():
        typ(o.get("sensitive"), bool, "%s.outputs.%s.sensitive" % (where, name))
        if o["sensitive"]:
            need("value" not in o or o["value"] is None, where, "sensitive output %s has a value" % name)
    check_module(v.get("root_module", {}), where + ".root_module", root=True)


def check_change(c, where, output=False):
    typ(c, dict, where)
    need(c.get("actions") in ACTIONS, where, "actions %r is not one of the documented lists" % c.get("actions"))
    for k in ("before", "after", "after_unknown", "before_sensitive", "after_sensitive"):
        need(k in c, where, "missing " + k)
    a = c["actions"]
    if a == ["create"]:
        need(c["before"] is None, where, "create with a before value")
    if a == ["delete"]:
        need(c["after"] is None, where, "delete with an after value")
    if output:
        return
    shape_matches(c["after_unknown"], c["after"], where + ".after_unknown")
    for p in leaves_true(c["after_unknown"]):
        need(get(c["after"], p) is None, where, "unknown %s has a value in after" % p)
    for side in ("before", "after"):
        shape_matches(c[side + "_sensitive"], c[side], "%s.%s_sensitive" % (where, side))
        for p in leaves_true(c[side + "_sensitive"]):
            need(get(c[side], p) is None, where, "sensitive %s shown in %s" % (p, side))
    if "replace_paths" in c:
        typ(c["replace_paths"], list, where + ".replace_paths")
        for p in c["replace_paths"]:
            typ(p, list, where + ".replace_paths[]")
            for step in p:
                need(isinstance(step, (str, int)), where, "path step %r" % step)


def validate(doc):
    fv = doc.get("format_version")
    typ(fv, str, "format_version")
    major, minor = (int(x) for x in fv.split(".")[:2])
    need((major, minor) >= (0, 1) and major < 2, "format_version", "terraform-json accepts >= 0.1, < 2.0: " + fv)
    typ(doc.get("terraform_version"), str, "terraform_version")
    for k in ("variables", "output_changes"):
        if k in doc:
            typ(doc[k], dict, k)
    for name, v in (doc.get("variables") or {}).items():
        need("value" in v, "variables." + name, "missing value")
    check_values(doc["planned_values"], "planned_values")
    ps = doc.get("prior_state")
    if ps is not None:
        typ(ps.get("format_version"), str, "prior_state.format_version")
        check_values(ps["values"], "prior_state.values")
    typ(doc.get("resource_changes"), list, "resource_changes")
    seen = set()
    for i, rc in enumerate(doc["resource_changes"]):
        where = "resource_changes[%d]" % i
        for k in ("address", "mode", "type", "name", "provider_name"):
            typ(rc.get(k), str, "%s.%s" % (where, k))
        need(rc["address"] not in seen, where, "duplicate address")
        seen.add(rc["address"])
        if "module_address" in rc:
            need(rc["address"].startswith(rc["module_address"] + "."), where, "module_address not a prefix")
        check_change(rc["change"], where + ".change")
        if "action_reason" in rc:
            need(rc["action_reason"] in REASONS, where, "action_reason %r" % rc["action_reason"])
    for name, c in (doc.get("output_changes") or {}).items():
        check_change(c, "output_changes." + name, output=True)
    for i, rc in enumerate(doc.get("resource_drift") or []):
        check_change(rc["change"], "resource_drift[%d].change" % i)
    cfg = doc.get("configuration")
    if cfg is not None:
        typ(cfg, dict, "configuration")
        for i, r in enumerate((cfg.get("root_module") or {}).get("resources", [])):
            for k in ("address", "mode", "type", "name"):
                typ(r.get(k), str, "configuration.root_module.resources[%d].%s" % (i, k))
            for ek, ev in (r.get("expressions") or {}).items():
                need(isinstance(ev, dict) and ("constant_value" in ev or "references" in ev),
                     "configuration...%s" % ek, "expression without constant_value or references")


def main():
    doc = json.load(open(sys.argv[1]))
    try:
        validate(doc)
    except (Bad, KeyError, TypeError, ValueError) as e:
        print("invalid plan JSON: %s" % e)
        sys.exit(1)
    print("valid: format %s, %d resource changes" % (doc["format_version"], len(doc["resource_changes"])))


if __name__ == "__main__":
    main()
