#!/usr/bin/env node
// gen-k8s-schema.mjs: writes emulator/k8s_schema_data.c, the OpenAPI
// schema of the built-in Kubernetes kinds the emulator serves: for each
// model reachable from those kinds, its fields (JSON name -> type) and
// required fields.  Source: the models the @kubernetes/client-node npm
// package generates from the upstream OpenAPI spec (dist/gen/models: the
// attributeTypeMap of each .js for names and types, the .d.ts for which
// properties are required).
//
//   node scripts/gen-k8s-schema.mjs [PACKAGE_DIR]
//
// Without PACKAGE_DIR the package is fetched with `npm pack` (version below)
// into a temporary directory.  Type codes in the output: s string, i integer,
// n number, b boolean, q quantity (string or number), is int-or-string,
// x anything, a model name, "[T" a list of T, "{T" a map of T.
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { pathToFileURL } from "node:url";

const VERSION = "2.0.1";
const KINDS = {
  "v1/Namespace": "V1Namespace", "v1/Pod": "V1Pod", "v1/Service": "V1Service", "v1/ConfigMap": "V1ConfigMap",
  "v1/Secret": "V1Secret", "v1/ServiceAccount": "V1ServiceAccount",
  "v1/PersistentVolumeClaim": "V1PersistentVolumeClaim", "v1/PersistentVolume": "V1PersistentVolume",
  "v1/Endpoints": "V1Endpoints", "v1/Event": "CoreV1Event", "v1/Node": "V1Node", "v1/LimitRange": "V1LimitRange",
  "v1/ResourceQuota": "V1ResourceQuota", "apps/v1/Deployment": "V1Deployment", "apps/v1/StatefulSet": "V1StatefulSet",
  "apps/v1/DaemonSet": "V1DaemonSet", "apps/v1/ReplicaSet": "V1ReplicaSet", "batch/v1/Job": "V1Job",
  "batch/v1/CronJob": "V1CronJob", "rbac.authorization.k8s.io/v1/Role": "V1Role",
  "rbac.authorization.k8s.io/v1/RoleBinding": "V1RoleBinding", "rbac.authorization.k8s.io/v1/ClusterRole": "V1ClusterRole",
  "rbac.authorization.k8s.io/v1/ClusterRoleBinding": "V1ClusterRoleBinding",
  "apiextensions.k8s.io/v1/CustomResourceDefinition": "V1CustomResourceDefinition",
  "networking.k8s.io/v1/Ingress": "V1Ingress", "networking.k8s.io/v1/IngressClass": "V1IngressClass",
  "networking.k8s.io/v1/NetworkPolicy": "V1NetworkPolicy", "scheduling.k8s.io/v1/PriorityClass": "V1PriorityClass",
  "storage.k8s.io/v1/StorageClass": "V1StorageClass",
  "admissionregistration.k8s.io/v1/ValidatingWebhookConfiguration": "V1ValidatingWebhookConfiguration",
  "admissionregistration.k8s.io/v1/MutatingWebhookConfiguration": "V1MutatingWebhookConfiguration",
  "policy/v1/PodDisruptionBudget": "V1PodDisruptionBudget",
  "autoscaling/v2/HorizontalPodAutoscaler": "V2HorizontalPodAutoscaler", "coordination.k8s.io/v1/Lease": "V1Lease",
};
// Quantities are typed string by the generator; the API takes numbers too.
const QUANTITY_MAPS = new Set(["requests", "limits", "capacity", "allocatable", "hard", "used", "overhead", "default",
  "defaultRequest", "max", "min", "maxLimitRequestRatio"]);
const QUANTITY_FIELDS = new Set(["sizeLimit", "storage"]);

function packageDir() {
  if (process.argv[2]) return process.argv[2];
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "k8s-schema-"));
  execFileSync("npm", ["pack", `@kubernetes/client-node@${VERSION}`, "--silent"], { cwd: tmp, stdio: ["ignore", "pipe", "inherit"] });
  const tgz = fs.readdirSync(tmp).find((f) => f.endsWith(".tgz"));
  execFileSync("tar", ["xzf", tgz], { cwd: tmp });
  return path.join(tmp, "package");
}

function required(dts) {
  const req = new Set();
  for (const m of dts.matchAll(/^\s+'([^']+)'(\??):/gm)) if (!m[2]) req.add(m[1]);
  return req;
}

function code(t, name) {
  if (t === "string" || t === "Date") return QUANTITY_FIELDS.has(name) ? "q" : "s";
  if (t === "boolean") return "b";
  if (t === "number") return "i";
  if (t === "V1MicroTime" || t === "V1Time") return "s";
  if (t === "any" || t === "object") return "x";
  if (t === "IntOrString") return "is";
  let m = t.match(/^Array<(.+)>$/);
  if (m) return "[" + code(m[1], "");
  m = t.match(/^\{ \[key: string\]: (.+); \}$/);
  if (m) return "{" + (m[1] === "string" && QUANTITY_MAPS.has(name) ? "q" : code(m[1], ""));
  if (/^V\d|^Core|^Storage|^Discovery|^Events|^Authentication|^Rbac|^Admission|^Apiextensions|^Flowcontrol/.test(t)) return t;
  throw new Error(`unknown type ${t}`);
}

const dir = path.join(packageDir(), "dist", "gen", "models");
const models = {};
async function visit(name) {
  if (models[name] || /^[a-z[{]/.test(name)) return;
  const mod = await import(pathToFileURL(path.join(dir, `${name}.js`)).href);
  const cls = mod[name];
  const req = required(fs.readFileSync(path.join(dir, `${name}.d.ts`), "utf8"));
  const fields = {};
  models[name] = { f: fields, r: [] };
  for (const a of cls.attributeTypeMap) {
    let c = code(a.type, a.baseName);
    if (a.type === "number") c = a.format === "double" ? "n" : "i";
    fields[a.baseName] = c;
    if (req.has(a.name)) models[name].r.push(a.baseName);
  }
  for (const c of Object.values(fields)) await visit(c.replace(/^[[{]+/, ""));
}
for (const m of Object.values(KINDS)) await visit(m);

const json = JSON.stringify({ source: `@kubernetes/client-node ${VERSION}`, kinds: KINDS, models });
const chunks = json.match(/[\s\S]{1,3000}/g).map((c) => JSON.stringify(c));
const out = `/* k8s_schema_data.c: GENERATED by scripts/gen-k8s-schema.mjs from the
 * @kubernetes/client-node ${VERSION} models (upstream OpenAPI); do not edit. */
const char emu_k8s_schema_json[] =
${chunks.join("\n")};
`;
fs.writeFileSync(new URL("../emulator/k8s_schema_data.c", import.meta.url), out);
console.log(`k8s_schema_data.c: ${Object.keys(KINDS).length} kinds, ${Object.keys(models).length} models, ${json.length} bytes`);
