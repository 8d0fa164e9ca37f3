/* cmd-key.c: mlvm key gen | ls | export | trust. */
#include "mlvm-build.h"

#include "cli.h"
#include "keys.h"
#include "paths.h"
#include "cleanup.h"
#include "util.h"

static int run(struct cli *cli, int argc, char **argv)
{
        struct mlvm_err e = { 0 };
        char id[KEY_ID_LEN + 1];
        int r = cli_parse(cli, &verb_key, argc, argv, "", NULL, NULL, NULL);

        if (r == CLI_HELP_DONE)
                return EXIT_OK;
        if (r < 0)
                return EXIT_USAGE;
        if (r >= argc)
                return cli_usage_error(cli, "missing subcommand: gen, ls, export or trust"), EXIT_USAGE;
        _cleanup_free_ char *state = mlvm_state_dir();
        const char *sub = argv[r];
        int nargs = argc - r - 1;
        char **args = argv + r + 1;

        if (streq(sub, "gen")) {
                if (nargs > 1)
                        return cli_usage_error(cli, "key gen takes at most one NAME"), EXIT_USAGE;
                const char *name = nargs ? args[0] : "default";
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
        if (streq(sub, "ls")) {
                struct key_info *k = NULL;
                size_t n = 0;
                if (nargs)
                        return cli_usage_error(cli, "key ls takes no arguments"), EXIT_USAGE;
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
        if (streq(sub, "export")) {
                _cleanup_free_ char *pem = NULL;
                if (nargs != 1)
                        return cli_usage_error(cli, "key export needs one NAME"), EXIT_USAGE;
                if (key_export_public(state, args[0], &pem, &e) < 0)
                        return cli_fail(cli, &e);
                fputs(pem, stdout);
                return EXIT_OK;
        }
        if (streq(sub, "trust")) {
                if (nargs != 1)
                        return cli_usage_error(cli, "key trust needs one public key FILE (PEM)"), EXIT_USAGE;
                if (mkdir_p(state, 0700) < 0 || key_trust_file(state, args[0], id, &e) < 0)
                        return e.msg[0] ? cli_fail(cli, &e) : (cli_error(cli, "state directory %s", state), EXIT_FAIL);
                if (cli->verbosity >= 0 && !cli->json)
                        printf("trusted key %s from %s\n", id, args[0]);
                return EXIT_OK;
        }
        cli_usage_error(cli, "unknown subcommand '%s'", sub);
        return EXIT_USAGE;
}

const struct verb verb_key = {
        .name = "key",
        .run = run,
        .summary = "Make, list, export and trust Ed25519 signing keys",
        .usage = "gen [NAME] | ls | export NAME | trust FILE",
        .help = "  gen [NAME]          make a key pair (default name: default); private key mode 0600\n"
                "  ls                  list key pairs and trusted publisher keys\n"
                "  export NAME         print NAME's public key (PEM)\n"
                "  trust FILE          trust a publisher's public key (PEM, Ed25519) for image import\n",
};
