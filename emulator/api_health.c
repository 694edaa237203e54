/* api_health.c: the apiserver's health endpoints at the host root
 * (/healthz, /readyz, /livez), where kubectl get --raw and load balancers
 * ask: every emulated cluster shares this server, so they say "ok" while
 * it runs.  The same paths below a cluster (/k8s/<id>/healthz) are
 * api_k8s.c's. */
#include <stdio.h>
#include <string.h>

#include "emulator/emu.h"

static void ok(emu_t *emu, const emu_req_t *req, emu_resp_t *resp) {
    (void)emu;
    (void)req;
    resp->raw = xstrdup("ok");
    resp->raw_len = 2;
    snprintf(resp->content_type, sizeof resp->content_type, "text/plain; charset=utf-8");
}

static const emu_route_t routes[] = {{"GET", "", ok}};

const emu_api_t emu_api_healthz = {"healthz", routes, 1, NULL};
const emu_api_t emu_api_readyz = {"readyz", routes, 1, NULL};
const emu_api_t emu_api_livez = {"livez", routes, 1, NULL};
