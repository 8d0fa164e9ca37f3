/* cmd-inspect.c: mlvm inspect RUN: everything about one run, as JSON. */
#include "mlvm-build.h"

#include "cleanup.h"
#include "cli.h"
#include "paths.h"
#include "run.h"
#include "util.h"

#define DOMAIN_XML_MAX (1u << 20)

static int run(struct cli *cli, void *opts, int argc, char **argv)
{
        _cleanup_free_ char *state = mlvm_state_dir(), *xml = NULL, *xpath = NULL, *dir = NULL;
        _cleanup_json_ json_object *r_json = NULL;
        struct mlvm_err e = { 0 };
        char id[RUN_ID_LEN + 1];
        json_object *x;

        if (run_resolve(state, argv[0], id, &e) < 0 || run_load(state, id, &r_json, &e) < 0)
                return cli_fail(cli, &e);
        json_object_object_add(r_json, "state", json_object_new_string(run_effective_state(state, r_json, id)));
        xpath = run_file(state, id, "domain.xml");
        if (read_file_capped(xpath, DOMAIN_XML_MAX, &xml, NULL) == 0)
                json_object_object_add(r_json, "domain_xml", json_object_new_string(xml));
        dir = run_dir(state, id);
        json_object_object_add(r_json, "run_dir", json_object_new_string(dir));
        double created = json_object_object_get_ex(r_json, "created_at", &x) ? json_object_get_double(x) : 0;
        double ready = json_object_object_get_ex(r_json, "ready_at", &x) ? json_object_get_double(x) : 0;
        if (json_object_object_get_ex(r_json, "timings", &x) && created && ready)
                json_object_object_add(x, "created_to_ready_s", json_object_new_double(ready - created));
        cli_print_json(r_json);
        return EXIT_OK;
}

const struct verb verb_inspect = {
        .name = "inspect",
        .summary = "Everything about one run as JSON: config, image, volumes, domain XML, transport, timings",
        .usage = "NAME|RUN",
        .help = "",
        .args = { .min = 1, .max = 1, .name = "name or run id" },
        .run = run,
};
