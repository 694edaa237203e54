#!/usr/bin/python3
"""gen-gcp-schema.py: generates providers/gcp/data/gcp_api.json, the Google
API shapes plinth embeds (see providers/gcp/schema.h), from the Google Cloud
CLI's generated apitools clients.

Run:  /usr/bin/python3 scripts/gen-gcp-schema.py [OUT]
      (OUT defaults to providers/gcp/data/gcp_api.json; the SDK root comes
      from `gcloud info`, or $CLOUDSDK_ROOT, or /usr/lib/google-cloud-sdk.)

Output format (minified JSON; keys kept short because the file is embedded
into every binary):

  {"apis": {
     API: {
       "messages": { MSG: [FIELD, ...], ... },
       "enums":    { ENUM: ["VALUE", ...], ... },
       "methods":  [ {"id": "compute.networks.insert", "m": "POST",
                      "p": "compute/v1/projects/{project}/global/networks",
                      "q": ["requestId"], "b": "Network" or null,
                      "r": "Operation" or null}, ... ] } } }
    ("b": request body message, "r": response message; null for none, and
    "r" is null for media downloads, whose body is the object's bytes.)

  FIELD = [json_name, kind, flags, ref, value_kind]
    kind:  "string" | "int" | "int64" | "double" | "bool" | "enum" |
           "message" | "map" | "any"
    flags: bit 0 = repeated, bit 1 = output only (from the docstring)
    ref:   message name (kind message, or map of messages), enum name
           (kind enum, or map of enums), else null
    value_kind: only for kind "map": the kind of the map's values.

  Message names drop the package prefix and keep nesting with dots
  ("Bucket.CorsValueListEntry"); enum names likewise
  ("Firewall.DirectionValueValuesEnum").  apitools' map wrapper messages
  (XxxValue with one repeated additionalProperties field) become kind "map"
  and are not emitted themselves.  Only messages reachable from the methods'
  request bodies and responses are emitted.

  "p" is the path below the host (the client's BASE_URL path + the method's
  path).  For {+name}-style paths the flat_path is used when there is one, so
  every {x} is a single segment.  Storage's media upload paths are added as
  extra methods with the same id (upload/... and resumable/upload/...; PUT
  continues a resumable session), and its media downloads as download/....

  aiplatform is restricted to the services of the platform resources plinth
  manages (AIPLATFORM_BASE), and gets synthetic per-resource operation
  methods (".../tensorboards/{tensorboardsId}/operations/{operationsId}"),
  which the real API serves but gcloud's trimmed client lacks.
"""

import json
import os
import re
import subprocess
import sys
from urllib.parse import urlparse

APIS = [
    ("compute", "v1"),
    ("container", "v1"),
    ("sqladmin", "v1beta4"),
    ("storage", "v1"),
    ("iam", "v1"),
    ("iamcredentials", "v1"),
    ("cloudresourcemanager", "v1"),
    ("serviceusage", "v1"),
    ("servicenetworking", "v1"),
    ("artifactregistry", "v1"),
    ("secretmanager", "v1"),
    ("aiplatform", "v1"),
    ("dns", "v1"),
    ("pubsub", "v1"),
    ("logging", "v2"),
    ("cloudkms", "v1"),
    ("monitoring", "v3"),
    # No typed resource: served through gcp.api_resource (and the
    # emulator's generic handler), e.g. in tests/integration/gcp_api_resource.sh.
    ("workflows", "v1"),
    ("cloudscheduler", "v1"),
    ("cloudtasks", "v2"),
    ("run", "v2"),
    ("notebooks", "v2"),
    ("bigquery", "v2"),
    ("cloudbuild", "v1"),
]

# aiplatform is huge: only the services of the platform resources plinth
# manages (and their long-running operations) are kept.
AIPLATFORM_BASE = ["metadataStores", "tensorboards", "featurestores", "featureOnlineStores",
                   "featureOnlineStores_featureViews", "featureGroups", "endpoints", "datasets",
                   "indexEndpoints", "indexes", "operations"]
AIPLATFORM_SERVICES = set(["projects_locations"]
                          + ["projects_locations_" + b for b in AIPLATFORM_BASE]
                          + ["projects_locations_" + b + "_operations" for b in AIPLATFORM_BASE])
# logging and monitoring: only the project-level services of the resources
# plinth manages (metrics, sinks; alert policies, notification channels,
# uptime checks), which keeps the embedded file small.
LOGGING_SERVICES = {"projects_metrics", "projects_sinks", "projects_locations_operations"}
MONITORING_SERVICES = {"projects_alertPolicies", "projects_notificationChannels",
                       "projects_notificationChannelDescriptors", "projects_uptimeCheckConfigs"}
# Cloud Run and Workbench: the services and instances plinth manages and
# their operations.
RUN_SERVICES = {"projects_locations_services", "projects_locations_operations"}
NOTEBOOKS_SERVICES = {"projects_locations_instances", "projects_locations_operations"}
BIGQUERY_SERVICES = {"datasets"}
CLOUDBUILD_SERVICES = {"projects_locations_triggers", "projects_locations_operations"}
ONLY_SERVICES = {"aiplatform": AIPLATFORM_SERVICES, "logging": LOGGING_SERVICES, "bigquery": BIGQUERY_SERVICES,
                 "cloudbuild": CLOUDBUILD_SERVICES,
                 "monitoring": MONITORING_SERVICES, "run": RUN_SERVICES, "notebooks": NOTEBOOKS_SERVICES}

# If the whole file gets too big, compute is restricted to these services.
COMPUTE_SERVICES = {
    "networks", "subnetworks", "firewalls", "routers", "globalAddresses",
    "addresses", "instances", "globalOperations", "regionOperations",
    "zoneOperations", "projects", "zones", "regions",
}
MAX_BYTES = 3 * 1024 * 1024


def sdk_root():
    root = os.environ.get("CLOUDSDK_ROOT")
    if root:
        return root
    try:
        out = subprocess.run(
            ["gcloud", "info", "--format=value(installation.sdk_root)"],
            capture_output=True, text=True, check=True, timeout=120)
        if out.stdout.strip():
            return out.stdout.strip()
    except (OSError, subprocess.SubprocessError):
        pass
    return "/usr/lib/google-cloud-sdk"


ROOT = sdk_root()
sys.path[:0] = [os.path.join(ROOT, "lib"), os.path.join(ROOT, "lib", "third_party")]

import importlib  # noqa: E402

from apitools.base.protorpclite import message_types, messages  # noqa: E402
from apitools.base.py import base_api, encoding, extra_types  # noqa: E402

# A field is output only when its description starts with the marker (after
# "Optional." / "Required." / "Immutable." / "Deprecated." words) or says
# "[Output Only]:"; a marker later in the text is usually conditional
# ("Output only for PARTNER type") and does not count.
OUTPUT_ONLY_RE = re.compile(
    r"^\s*(?:(?:optional|required|immutable|deprecated)\.\s*)*"
    r"\[?\s*output[ -]only\b(?![ -]for\b)|\[output only\]:|OUTPUT_ONLY", re.I)


def short_name(cls):
    """'storage.Bucket.LabelsValue' -> 'Bucket.LabelsValue'."""
    return cls.definition_name().split(".", 1)[1]


_doc_cache = {}


def field_docs(cls):
    """Parses the 'Attributes:' section of a message docstring into
    {python_field_name: description}."""
    if cls in _doc_cache:
        return _doc_cache[cls]
    docs = {}
    doc = cls.__doc__ or ""
    lines = doc.splitlines()
    in_attrs = False
    cur = None
    base_indent = None
    for line in lines:
        stripped = line.strip()
        if stripped == "Attributes:" or stripped == "Fields:":
            in_attrs = True
            base_indent = None
            continue
        if not in_attrs:
            continue
        if not stripped:
            continue
        indent = len(line) - len(line.lstrip())
        m = re.match(r"\s*([A-Za-z_][A-Za-z0-9_]*):\s?(.*)$", line)
        if m and (base_indent is None or indent == base_indent):
            base_indent = indent
            cur = m.group(1)
            docs[cur] = m.group(2)
        elif cur is not None and base_indent is not None and indent > base_indent:
            docs[cur] += " " + stripped
        elif base_indent is not None and indent < base_indent:
            in_attrs = False
    _doc_cache[cls] = docs
    return docs


def is_map_message(cls):
    fields = list(cls.all_fields())
    return (len(fields) == 1 and fields[0].name == "additionalProperties"
            and fields[0].repeated and isinstance(fields[0], messages.MessageField))


def json_field_name(cls, field):
    return encoding.GetCustomJsonFieldMapping(cls, python_name=field.name) or field.name


def scalar_kind(field):
    """(kind, ref_class) for one field, ignoring repetition."""
    if isinstance(field, message_types.DateTimeField):
        return "string", None
    if isinstance(field, messages.EnumField):
        return "enum", field.type
    if isinstance(field, messages.MessageField):
        t = field.type
        if t in (extra_types.JsonValue, extra_types.JsonObject, extra_types.JsonArray):
            return "any", None
        if t is message_types.DateTimeMessage:
            return "string", None
        return "message", t
    if isinstance(field, messages.BooleanField):
        return "bool", None
    if isinstance(field, messages.FloatField):
        return "double", None
    if isinstance(field, messages.IntegerField):
        v = field.variant
        if v in (messages.Variant.INT64, messages.Variant.UINT64, messages.Variant.SINT64):
            return "int64", None
        return "int", None
    if isinstance(field, (messages.StringField, messages.BytesField)):
        return "string", None
    return "any", None


class ApiGen:
    def __init__(self, name):
        self.name = name
        self.messages = {}   # name -> [fields]
        self.enums = {}      # name -> [values]
        self.methods = []

    def add_enum(self, etype):
        n = short_name(etype)
        if n in self.enums:
            return n
        vals = []
        for v in sorted(etype, key=lambda e: e.number):
            vals.append(encoding.GetCustomJsonEnumMapping(etype, python_name=v.name) or v.name)
        self.enums[n] = vals
        return n

    def add_message(self, cls):
        """Adds cls and everything it reaches; returns its name."""
        n = short_name(cls)
        if n in self.messages:
            return n
        self.messages[n] = None  # placeholder against cycles
        docs = field_docs(cls)
        out = []
        for f in sorted(cls.all_fields(), key=lambda f: f.number):
            jname = json_field_name(cls, f)
            kind, ref = scalar_kind(f)
            flags = 1 if f.repeated else 0
            if OUTPUT_ONLY_RE.search(docs.get(f.name, "")):
                flags |= 2
            refname = None
            vkind = None
            if kind == "message" and is_map_message(ref):
                prop = list(ref.all_fields())[0].type
                vfield = prop.field_by_name("value")
                vkind, vref = scalar_kind(vfield)
                kind = "map"
                if vkind == "message":
                    if is_map_message(vref):
                        vkind, refname = "any", None  # map of maps: not seen in practice
                    else:
                        refname = self.add_message(vref)
                elif vkind == "enum":
                    refname = self.add_enum(vref)
                if vfield.repeated:
                    vkind = "any"  # repeated map values are not a JSON shape we check
                    refname = None
            elif kind == "message":
                refname = self.add_message(ref)
            elif kind == "enum":
                refname = self.add_enum(ref)
            row = [jname, kind, flags, refname]
            if kind == "map":
                row.append(vkind)
            out.append(row)
        self.messages[n] = out
        return n

    def to_json(self):
        return {"messages": self.messages, "enums": self.enums, "methods": self.methods}


def gen_api(api, version, only_services=None):
    pkg = "googlecloudsdk.generated_clients.apis.%s.%s" % (api, version)
    cmod = importlib.import_module("%s.%s_%s_client" % (pkg, api, version))
    mmod = importlib.import_module("%s.%s_%s_messages" % (pkg, api, version))
    client_cls = None
    for v in vars(cmod).values():
        if isinstance(v, type) and issubclass(v, base_api.BaseApiClient) and v is not base_api.BaseApiClient:
            client_cls = v
    client = client_cls(url="https://x/", get_credentials=False)
    base_path = urlparse(client_cls.BASE_URL).path.lstrip("/")
    g = ApiGen(api)
    services = sorted((k, v) for k, v in vars(client).items()
                      if isinstance(v, base_api.BaseApiService))
    for sname, svc in services:
        if only_services is not None and sname not in only_services:
            continue
        uploads = getattr(svc, "_upload_configs", {}) or {}
        for mname in sorted(svc.GetMethodsList()):
            cfg = svc.GetMethodConfig(mname)
            rel = cfg.relative_path or ""
            if "{+" in rel and cfg.flat_path:
                rel = cfg.flat_path
            path = base_path + rel
            req_cls = getattr(mmod, cfg.request_type_name)
            body = None
            rf = cfg.request_field
            if rf == "<request>":
                body = g.add_message(req_cls)
            elif rf:
                f = req_cls.field_by_name(rf)
                if isinstance(f, messages.MessageField):
                    body = g.add_message(f.type)
            query = [encoding.GetCustomJsonFieldMapping(req_cls, python_name=q) or q
                     for q in cfg.query_params]
            resp = None
            if cfg.response_type_name:
                rt = getattr(mmod, cfg.response_type_name, None)
                if rt is not None:
                    resp = g.add_message(rt)
            g.methods.append({"id": cfg.method_id, "m": cfg.http_method, "p": path,
                              "q": query, "b": body, "r": resp})
            if cfg.supports_download and api == "storage":
                # media downloads are also served below download/
                g.methods.append({"id": cfg.method_id, "m": cfg.http_method,
                                  "p": "download/" + path, "q": query, "b": body, "r": None})
            up = uploads.get(mname)
            if up is not None:
                for upath in (up.simple_path, up.resumable_path):
                    if not upath:
                        continue
                    p = upath.lstrip("/")
                    # "upload/v1/{+parent}/files:upload" -> the flat form
                    if cfg.flat_path and "{+" in p and p.endswith(cfg.relative_path):
                        p = p[:len(p) - len(cfg.relative_path)] + cfg.flat_path
                    g.methods.append({"id": cfg.method_id, "m": cfg.http_method, "p": p,
                                      "q": query, "b": body, "r": resp})
                    if upath == up.resumable_path:
                        # the session URL continues with PUT on the same path
                        g.methods.append({"id": cfg.method_id, "m": "PUT", "p": p,
                                          "q": query, "b": None, "r": resp})
                # resumable session uploads also continue at the simple path
                if up.simple_path:
                    p = up.simple_path.lstrip("/")
                    if cfg.flat_path and "{+" in p and p.endswith(cfg.relative_path):
                        p = p[:len(p) - len(cfg.relative_path)] + cfg.flat_path
                    g.methods.append({"id": cfg.method_id, "m": "PUT", "p": p, "q": query,
                                      "b": None, "r": resp})
    return g.to_json()


def add_aiplatform_resource_operations(doc):
    """The real aiplatform API serves each resource's long-running operations
    below the resource (v1/projects/p/locations/l/tensorboards/t/operations/o,
    the name an Operation carries); gcloud's trimmed client only has the
    location-level service.  Adds those methods, shaped like the
    location-level ones."""
    api = doc["apis"].get("aiplatform")
    if not api:
        return
    loc = "v1/projects/{projectsId}/locations/{locationsId}"
    base_ops = {m["id"].rsplit(".", 1)[1]: m for m in api["methods"]
                if m["id"].startswith("aiplatform.projects.locations.operations.")}
    for b in AIPLATFORM_BASE:
        if b == "operations":
            continue
        path = loc
        for coll in b.split("_"):
            path += "/%s/{%sId}" % (coll, coll)
        rid = "aiplatform.projects.locations.%s.operations" % b.replace("_", ".")
        for verb, m in sorted(base_ops.items()):
            if verb == "list":
                p = path + "/operations"
            else:
                suffix = m["p"].rsplit("{operationsId}", 1)[1]
                p = path + "/operations/{operationsId}" + suffix
            api["methods"].append({"id": rid + "." + verb, "m": m["m"], "p": p,
                                   "q": m["q"], "b": m["b"], "r": m.get("r")})


def dump(doc):
    return json.dumps(doc, separators=(",", ":"), sort_keys=True)


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
        here, "..", "providers", "gcp", "data", "gcp_api.json")
    doc = {"apis": {}}
    for api, version in APIS:
        doc["apis"][api] = gen_api(api, version, ONLY_SERVICES.get(api))
    add_aiplatform_resource_operations(doc)
    text = dump(doc)
    if len(text) > MAX_BYTES:
        doc["apis"]["compute"] = gen_api("compute", "v1", COMPUTE_SERVICES)
        text = dump(doc)
    with open(out, "w") as f:
        f.write(text)
        f.write("\n")
    sys.stderr.write("wrote %s (%d bytes)\n" % (out, len(text)))


if __name__ == "__main__":
    main()
