/* mask.c: update masks applied to stored documents (see mask.h). */
#include "emulator/mask.h"

#include <stdlib.h>
#include <string.h>

#include "core/jpath.h"

int emu_mask_apply(emu_resp_t *resp, json_t *doc, const json_t *patch, const char *mask,
                   const char *const *fixed, int need_mask) {
    if (!mask || !*mask) {
        if (!need_mask) return 0;
        emu_bad_request(resp, "Invalid update_mask provided: 'update_mask' must contain at least one path.");
        return -1;
    }
    char *m = xstrdup(mask), *save = NULL;
    int rc = 0;
    for (char *f = strtok_r(m, ",", &save); f && rc == 0; f = strtok_r(NULL, ",", &save)) {
        while (*f == ' ')
            f++;
        char top[128];
        snprintf(top, sizeof top, "%.*s", (int)strcspn(f, "."), f);
        if (emu_in_list(fixed, top)) {
            emu_bad_request(resp, "Invalid update_mask: field \"%s\" cannot be updated.", f);
            rc = -1;
            break;
        }
        const json_t *v = jpath_get(patch, f);
        if (v && !json_is_null(v))
            jpath_set_new(doc, f, json_deep_copy(v));
        else
            jpath_del(doc, f);
    }
    free(m);
    return rc;
}
