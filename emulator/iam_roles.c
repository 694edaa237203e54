/* iam_roles.c: IAM's predefined roles (roles.get, roles.list) for the roles
 * platform specs and plinth's modules grant, with their titles and a few of
 * their permissions; a role outside the list is NOT_FOUND, as an unknown
 * predefined role is. */
#include <stdlib.h>
#include <string.h>

#include "emulator/emu.h"

static const struct {
    const char *name, *title, *perms;
} roles[] = {
    {"owner", "Owner", "resourcemanager.projects.setIamPolicy"},
    {"editor", "Editor", "compute.instances.create"},
    {"viewer", "Viewer", "resourcemanager.projects.get"},
    {"artifactregistry.reader", "Artifact Registry Reader",
     "artifactregistry.repositories.downloadArtifacts"},
    {"artifactregistry.writer", "Artifact Registry Writer", "artifactregistry.repositories.uploadArtifacts"},
    {"cloudkms.cryptoKeyEncrypterDecrypter", "Cloud KMS CryptoKey Encrypter/Decrypter",
     "cloudkms.cryptoKeyVersions.useToEncrypt"},
    {"cloudsql.client", "Cloud SQL Client", "cloudsql.instances.connect"},
    {"cloudsql.instanceUser", "Cloud SQL Instance User", "cloudsql.instances.login"},
    {"container.admin", "Kubernetes Engine Admin", "container.clusters.create"},
    {"container.developer", "Kubernetes Engine Developer", "container.deployments.create"},
    {"container.viewer", "Kubernetes Engine Viewer", "container.clusters.get"},
    {"iam.serviceAccountUser", "Service Account User", "iam.serviceAccounts.actAs"},
    {"iam.serviceAccountTokenCreator", "Service Account Token Creator", "iam.serviceAccounts.getAccessToken"},
    {"iam.workloadIdentityUser", "Workload Identity User", "iam.serviceAccounts.getAccessToken"},
    {"logging.logWriter", "Logs Writer", "logging.logEntries.create"},
    {"monitoring.metricWriter", "Monitoring Metric Writer", "monitoring.timeSeries.create"},
    {"monitoring.viewer", "Monitoring Viewer", "monitoring.timeSeries.list"},
    {"pubsub.publisher", "Pub/Sub Publisher", "pubsub.topics.publish"},
    {"pubsub.subscriber", "Pub/Sub Subscriber", "pubsub.subscriptions.consume"},
    {"secretmanager.secretAccessor", "Secret Manager Secret Accessor", "secretmanager.versions.access"},
    {"stackdriver.resourceMetadata.writer", "Stackdriver Resource Metadata Writer",
     "stackdriver.resourceMetadata.write"},
    {"storage.admin", "Storage Admin", "storage.buckets.create"},
    {"storage.objectAdmin", "Storage Object Admin", "storage.objects.create"},
    {"storage.objectViewer", "Storage Object Viewer", "storage.objects.get"},
};

static json_t *role_doc(size_t i) {
    char *name = xasprintf("roles/%s", roles[i].name);
    json_t *d =
        json_pack("{s:s,s:s,s:s,s:[s],s:s,s:s}", "name", name, "title", roles[i].title, "description",
                  roles[i].title, "includedPermissions", roles[i].perms, "stage", "GA", "etag", "AA==");
    free(name);
    return d;
}

void emu_iam_role_get(emu_t *emu, const emu_req_t *req, emu_resp_t *resp) {
    for (size_t i = 0; i < sizeof roles / sizeof *roles; i++)
        if (!strcmp(roles[i].name, req->params[0])) {
            resp->body = role_doc(i);
            return;
        }
    emu_not_found(resp, "The role named roles/%s was not found.", req->params[0]);
}

void emu_iam_role_list(emu_t *emu, const emu_req_t *req, emu_resp_t *resp) {
    json_t *items = json_array();
    for (size_t i = 0; i < sizeof roles / sizeof *roles; i++)
        json_array_append_new(items, role_doc(i));
    resp->body = json_object();
    emu_page_into(req, resp->body, "roles", items, "pageSize", 300, true);
    json_decref(items);
}
