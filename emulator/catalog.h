/* catalog.h: the fixed catalogue the emulator serves and checks against:
 * regions and their zones, machine types (vCPUs, memory, built-in GPUs)
 * and accelerator types, with the names Google uses.  All data static. */
#ifndef PLINTH_EMU_CATALOG_H
#define PLINTH_EMU_CATALOG_H

#include <stddef.h>

typedef struct emu_machine {
    const char *name; /* "e2-standard-4" */
    int vcpus;
    int memory_mb;
    const char *gpu; /* accelerator built in ("nvidia-l4"), or NULL */
    int gpus;
} emu_machine_t;

typedef struct emu_region {
    const char *name;  /* "europe-west1" */
    const char *zones; /* zone suffixes: "bcd" */
} emu_region_t;

/* NULL-terminated tables. */
extern const emu_machine_t emu_machines[];
extern const emu_region_t emu_regions[];
extern const char *const emu_accelerators[]; /* "nvidia-tesla-t4", ... */

/* The machine type named name (may be "zones/z/machineTypes/x" or a URL), or NULL. */
const emu_machine_t *emu_machine_find(const char *name);
/* The region named name, or NULL. */
const emu_region_t *emu_region_find(const char *name);
/* 1 when zone ("europe-west1-b") is a zone of a catalogued region. */
int emu_zone_valid(const char *zone);
/* 1 when name is a catalogued accelerator type. */
int emu_accelerator_valid(const char *name);

#endif
