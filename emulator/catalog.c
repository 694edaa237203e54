/* catalog.c: regions, zones, machine and accelerator types (see catalog.h).
 * A subset of Google's public catalogue: the families platform engineers
 * use for GKE and VMs; a name outside it is refused as Google refuses an
 * unknown one. */
#include "emulator/catalog.h"

#include <string.h>

const emu_machine_t emu_machines[] = {
    {"e2-micro", 2, 1024, NULL, 0},
    {"e2-small", 2, 2048, NULL, 0},
    {"e2-medium", 2, 4096, NULL, 0},
    {"e2-standard-2", 2, 8192, NULL, 0},
    {"e2-standard-4", 4, 16384, NULL, 0},
    {"e2-standard-8", 8, 32768, NULL, 0},
    {"e2-standard-16", 16, 65536, NULL, 0},
    {"e2-standard-32", 32, 131072, NULL, 0},
    {"e2-highmem-2", 2, 16384, NULL, 0},
    {"e2-highmem-4", 4, 32768, NULL, 0},
    {"e2-highmem-8", 8, 65536, NULL, 0},
    {"e2-highcpu-8", 8, 8192, NULL, 0},
    {"n1-standard-1", 1, 3840, NULL, 0},
    {"n1-standard-2", 2, 7680, NULL, 0},
    {"n1-standard-4", 4, 15360, NULL, 0},
    {"n1-standard-8", 8, 30720, NULL, 0},
    {"n1-standard-16", 16, 61440, NULL, 0},
    {"n1-highmem-8", 8, 53248, NULL, 0},
    {"n2-standard-2", 2, 8192, NULL, 0},
    {"n2-standard-4", 4, 16384, NULL, 0},
    {"n2-standard-8", 8, 32768, NULL, 0},
    {"n2-standard-16", 16, 65536, NULL, 0},
    {"n2-standard-32", 32, 131072, NULL, 0},
    {"n2-highmem-8", 8, 65536, NULL, 0},
    {"n2d-standard-4", 4, 16384, NULL, 0},
    {"n2d-standard-8", 8, 32768, NULL, 0},
    {"c2-standard-8", 8, 32768, NULL, 0},
    {"c3-standard-8", 8, 32768, NULL, 0},
    {"t2d-standard-4", 4, 16384, NULL, 0},
    {"g2-standard-4", 4, 16384, "nvidia-l4", 1},
    {"g2-standard-8", 8, 32768, "nvidia-l4", 1},
    {"g2-standard-12", 12, 49152, "nvidia-l4", 1},
    {"g2-standard-16", 16, 65536, "nvidia-l4", 1},
    {"g2-standard-24", 24, 98304, "nvidia-l4", 2},
    {"a2-highgpu-1g", 12, 87040, "nvidia-tesla-a100", 1},
    {"a2-highgpu-2g", 24, 174080, "nvidia-tesla-a100", 2},
    {"a2-ultragpu-1g", 12, 174080, "nvidia-a100-80gb", 1},
    {"a3-highgpu-8g", 208, 1904640, "nvidia-h100-80gb", 8},
    {NULL, 0, 0, NULL, 0},
};

const emu_region_t emu_regions[] = {
    {"europe-west1", "bcd"},       {"europe-west2", "abc"},
    {"europe-west3", "abc"},       {"europe-west4", "abc"},
    {"europe-north1", "abc"},      {"us-central1", "abcf"},
    {"us-east1", "bcd"},           {"us-east4", "abc"},
    {"us-west1", "abc"},           {"us-west2", "abc"},
    {"asia-east1", "abc"},         {"asia-northeast1", "abc"},
    {"asia-southeast1", "abc"},    {"australia-southeast1", "abc"},
    {"southamerica-east1", "abc"}, {NULL, NULL},
};

const char *const emu_accelerators[] = {"nvidia-tesla-t4",   "nvidia-tesla-v100", "nvidia-tesla-p4",
                                        "nvidia-tesla-p100", "nvidia-tesla-a100", "nvidia-a100-80gb",
                                        "nvidia-l4",         "nvidia-h100-80gb",  NULL};

const emu_machine_t *emu_machine_find(const char *name) {
    if (!name) return NULL;
    const char *slash = strrchr(name, '/');
    if (slash) name = slash + 1;
    for (const emu_machine_t *m = emu_machines; m->name; m++)
        if (!strcmp(m->name, name)) return m;
    return NULL;
}

const emu_region_t *emu_region_find(const char *name) {
    if (!name) return NULL;
    for (const emu_region_t *r = emu_regions; r->name; r++)
        if (!strcmp(r->name, name)) return r;
    return NULL;
}

int emu_zone_valid(const char *zone) {
    const char *dash = zone ? strrchr(zone, '-') : NULL;
    if (!dash || strlen(dash) != 2) return 0;
    for (const emu_region_t *r = emu_regions; r->name; r++)
        if (strlen(r->name) == (size_t)(dash - zone) && !strncmp(r->name, zone, (size_t)(dash - zone)))
            return strchr(r->zones, dash[1]) != NULL;
    return 0;
}

int emu_accelerator_valid(const char *name) {
    for (const char *const *a = emu_accelerators; name && *a; a++)
        if (!strcmp(*a, name)) return 1;
    return 0;
}
