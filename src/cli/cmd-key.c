/* cmd-key.c: mlvm key gen | ls | export | trust. */
#include "mlvm-build.h"

#include "cleanup.h"
#include "cli.h"
#include "keys.h"
#include "paths.h"
#include "util.h"

static int gen(struct cli *cli, void *opts, int argc, char **argv)
{
        _cleanup_free_ char *state = mlvm_state_dir();
        const char *name = argc ? argv[0] : "default";
        struct mlvm_err e = { 0 };
        char id[KEY_ID_LEN + 1];

        if (mkdir_p(state, 0700) < 0 || key_gen(state, name, id, &e) < 0)
                return e.msg[0] ? cli_fail(cli, &e) : (cli_error(cli, "state directory %s", state), EXIT_FAIL);
        if (cli->json) {
                _cleanup_json_ json_object *j = json_object_new_object();
                json_object_object_add(j, "name", json_object_new_string(name));
                json_object_object_add(j, "id", json_object_new_string(id));
                cli_print_json(j);
        } else if (cli->verbosity >= 0)
                printf("key %s: id %s (private key %s/keys/%s.key, mode 0600)\n", name, id, state, name);
        return EXIT_OK;
}

static int ls(struct cli *cli, void *opts, int argc, char **argv)
{
        _cleanup_free_ char *state = mlvm_state_dir();
        struct mlvm_err e = { 0 };
        struct key_info *k = NULL;
        size_t n = 0;

        if (key_list(state, &k, &n, &e) < 0)
                return cli_fail(cli, &e);
        if (cli->json) {
                _cleanup_json_ json_object *a = json_object_new_array();
                for (size_t i = 0; i < n; i++) {
                        json_object *x = json_object_new_object();
                        json_object_object_add(x, "name", json_object_new_string(k[i].name));
                        json_object_object_add(x, "id", json_object_new_string(k[i].id));
                        json_object_object_add(x, "private", json_object_new_boolean(k[i].has_private));
                        json_object_object_add(x, "trusted", json_object_new_boolean(k[i].trusted));
                        json_object_array_add(a, x);
                }
                cli_print_json(a);
        } else {
                printf("%-24s %-16s %-8s %s\n", "NAME", "ID", "PRIVATE", "TRUSTED");
                for (size_t i = 0; i < n; i++)
                        printf("%-24s %-16s %-8s %s\n", k[i].name, k[i].id, k[i].has_private ? "yes" : "no",
                               k[i].trusted ? "yes" : "no");
        }
        key_list_free(k, n);
        return EXIT_OK;
}

static int export(struct cli *cli, void *opts, int argc, char **argv)
{
        _cleanup_free_ char *state = mlvm_state_dir(), *pem = NULL;
        struct mlvm_err e = { 0 };

        if (key_export_public(state, argv[0], &pem, &e) < 0)
                return cli_fail(cli, &e);
        fputs(pem, stdout);
        return EXIT_OK;
}

static int trust(struct cli *cli, void *opts, int argc, char **argv)
{
        _cleanup_free_ char *state = mlvm_state_dir();
        struct mlvm_err e = { 0 };
        char id[KEY_ID_LEN + 1];

        if (mkdir_p(state, 0700) < 0 || key_trust_file(state, argv[0], id, &e) < 0)
                return e.msg[0] ? cli_fail(cli, &e) : (cli_error(cli, "state directory %s", state), EXIT_FAIL);
        if (cli->verbosity >= 0 && !cli->json)
                printf("trusted key %s from %s\n", id, argv[0]);
        return EXIT_OK;
}

static const struct subverb subs[] = {
        { "gen", { .min = 0, .max = 1, .name = "NAME" }, gen },
        { "ls", { .min = 0, .max = 0 }, ls },
        { "export", { .min = 1, .max = 1, .name = "NAME" }, export },
        { "trust", { .min = 1, .max = 1, .name = "public key FILE (PEM)" }, trust },
        { NULL },
};

const struct verb verb_key = {
        .name = "key",
        .summary = "Make, list, export and trust Ed25519 signing keys",
        .usage = "gen [NAME] | ls | export NAME | trust FILE",
        .help = "  gen [NAME]          make a key pair (default name: default); private key mode 0600\n"
                "  ls                  list key pairs and trusted publisher keys\n"
                "  export NAME         print NAME's public key (PEM)\n"
                "  trust FILE          trust a publisher's public key (PEM, Ed25519) for image import\n",
        .subs = subs,
};
