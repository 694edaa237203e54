/* ui_json.h: the machine-readable stream of `plan|apply|destroy|drift
 * --json`: one JSON object per line on stdout, in the shape of Terraform's
 * machine-readable UI (docs/json-formats.md).  Every message has
 * "@level", "@message", "@module" ("plinth.ui"), "@timestamp" and "type":
 *
 *   version          first: {"plinth": VERSION, "ui": "1.2"}
 *   planned_change   {"change": {"resource": R, "action": A, "reason"?}}
 *   resource_drift   {"change": {"resource": R, "action": "update", "paths"}}
 *   apply_start      {"hook": {"resource": R, "action": A}}
 *   apply_progress   {"hook": {"resource": R, "action": A, "elapsed_seconds", "message"?}}
 *   apply_complete   {"hook": {"resource": R, "action": A, "elapsed_seconds", "id_value"?}}
 *   apply_errored    {"hook": {"resource": R, "action": A, "elapsed_seconds"}}
 *   diagnostic       {"diagnostic": {"severity", "summary", "address"?}}
 *   change_summary   {"changes": {"add", "change", "replace", "remove", "operation"}}
 *   outputs          {"outputs": {NAME: {"value"?, "sensitive"}}}
 *   drift_summary    {"drifted": N, "resources": [ADDR...]}   (plinth drift)
 *   log              any other line plinth prints
 * R = {"addr", "module", "resource", "implied_provider", "resource_type",
 * "resource_name"}.  Secrets are never written (sensitive outputs carry no
 * value).  The stream is process-wide (one command per process) and
 * thread-safe; ui.c forwards to it while it is on. */
#ifndef PLINTH_UI_JSON_H
#define PLINTH_UI_JSON_H

#include <jansson.h>
#include <stdbool.h>

#include "core/engine.h"

#define UIJ_VERSION "1.2"

void uij_begin(void); /* turns the stream on and writes the version message */
bool uij_on(void);

void uij_log(const char *level, const char *text);
void uij_log_at(const char *level, const char *addr, const char *text); /* "addr: text", with "address" */
void uij_diag(const char *severity, const char *where, const char *msg);
/* planned_change / resource_drift for every item, then change_summary. */
void uij_plan(const plan_t *p, const char *operation);
/* verb as given to ui_step_*: "Creating", "Creation complete", ... */
void uij_step(const char *type, const char *addr, const char *verb, double elapsed, const char *detail);
void uij_summary(const plan_t *p, const char *operation, bool done);
void uij_outputs(const json_t *outputs);
/* Any message: type plus the fields of body (stolen). */
void uij_emit(const char *level, const char *type, const char *message, json_t *body);

#endif
