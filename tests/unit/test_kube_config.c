#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/alloc.h"
#include "kube/kube_auth.h"
#include "kube/kube_config.h"
#include "kube/kube_util.h"
#include "test.h"

static const char *const base_config =
    "apiVersion: v1\n"
    "kind: Config\n"
    "current-context: dev\n"
    "clusters:\n"
    "- name: c1\n"
    "  cluster:\n"
    "    server: https://127.0.0.1:6443/\n"
    "    certificate-authority-data: LS0tLS1CRUdJTg==\n"
    "- name: c2\n"
    "  cluster: {server: 'https://10.0.0.1', certificate-authority: ca.pem}\n"
    "- name: c3\n"
    "  cluster: {server: 'https://10.0.0.2', insecure-skip-tls-verify: true}\n"
    "contexts:\n"
    "- name: dev\n"
    "  context: {cluster: c1, user: u1, namespace: team}\n"
    "- name: other\n"
    "  context: {cluster: c2, user: u2}\n"
    "- name: insecure\n"
    "  context: {cluster: c3, user: u1}\n"
    "users:\n"
    "- name: u1\n"
    "  user: {token: abc}\n"
    "- name: u2\n"
    "  user:\n"
    "    tokenFile: tok\n"
    "    client-certificate: cert.pem\n"
    "    client-key: /abs/key.pem\n";

TEST(kubeconfig_current_context)
{
    struct kube_config cfg;
    char err[256] = "";
    CHECK_INT_EQ(kube_config_parse(base_config, strlen(base_config), "/etc/kube", NULL, &cfg, err,
                                   sizeof(err)),
                 HO11Y_OK);
    CHECK_STR_EQ(cfg.server, "https://127.0.0.1:6443");
    CHECK_INT_EQ(cfg.ca_len, 10);
    CHECK_STR_EQ((const char *)cfg.ca_data, "-----BEGIN");
    CHECK(cfg.ca_file == NULL);
    CHECK_STR_EQ(cfg.token, "abc");
    CHECK_STR_EQ(cfg.namespace, "team");
    CHECK_INT_EQ(cfg.insecure, 0);
    kube_config_cleanup(&cfg);
    kube_config_cleanup(NULL);
}

TEST(kubeconfig_named_context_relative_paths)
{
    struct kube_config cfg;
    char err[256] = "";
    CHECK_INT_EQ(kube_config_parse(base_config, strlen(base_config), "/etc/kube", "other", &cfg,
                                   err, sizeof(err)),
                 HO11Y_OK);
    CHECK_STR_EQ(cfg.server, "https://10.0.0.1");
    CHECK_STR_EQ(cfg.ca_file, "/etc/kube/ca.pem");
    CHECK_INT_EQ(cfg.insecure, 0);
    CHECK_STR_EQ(cfg.token_file, "/etc/kube/tok");
    CHECK_STR_EQ(cfg.cert_file, "/etc/kube/cert.pem");
    CHECK_STR_EQ(cfg.key_file, "/abs/key.pem");
    CHECK(cfg.namespace == NULL);
    kube_config_cleanup(&cfg);
}

TEST(kubeconfig_insecure_without_ca)
{
    struct kube_config cfg;
    char err[256] = "";
    CHECK_INT_EQ(kube_config_parse(base_config, strlen(base_config), "/etc/kube", "insecure", &cfg,
                                   err, sizeof(err)),
                 HO11Y_OK);
    CHECK_STR_EQ(cfg.server, "https://10.0.0.2");
    CHECK_INT_EQ(cfg.insecure, 1);
    CHECK(cfg.ca_file == NULL && cfg.ca_data == NULL);
    kube_config_cleanup(&cfg);
}

static void expect_error(const char *text, const char *context, const char *needle)
{
    struct kube_config cfg;
    char err[512] = "";
    enum ho11y_err r = kube_config_parse(text, strlen(text), NULL, context, &cfg, err, sizeof(err));
    if (r == HO11Y_OK)
        test__fail(__FILE__, __LINE__, "expected an error containing \"%s\"", needle);
    CHECK_INT_EQ(r, HO11Y_CONFIG);
    CHECK_STR_CONTAINS(err, needle);
    CHECK(cfg.server == NULL);
}

TEST(kubeconfig_errors_name_the_field)
{
    expect_error(base_config, "nope", "contexts: Not found: context \"nope\"");
    expect_error("clusters: []\n", NULL, "current-context: Required value");
    expect_error("current-context: a\ncontexts: [{name: a, context: {cluster: x}}]\n", NULL,
                 "clusters: Not found: cluster \"x\"");
    expect_error("current-context: a\ncontexts: [{name: a, context: {cluster: x}}]\n"
                 "clusters: [{name: x, cluster: {server: ftp://h}}]\n",
                 NULL, "clusters[0].cluster.server: Invalid value");
    expect_error("current-context: a\ncontexts: [{name: a, context: {cluster: x, user: u}}]\n"
                 "clusters: [{name: x, cluster: {server: 'https://h'}}]\n"
                 "users: [{name: u, user: {client-certificate-data: '!!!'}}]\n",
                 NULL, "users[0].user.client-certificate-data: illegal base64 data");
    expect_error("current-context: a\ncontexts: [{name: a, context: {cluster: x, user: u}}]\n"
                 "clusters: [{name: x, cluster: {server: 'https://h'}}]\n"
                 "users: [{name: u, user: {client-certificate: c.pem}}]\n",
                 NULL, "users[0].user.client-key: Required value");
    expect_error("current-context: a\ncontexts: [{name: a, context: {cluster: x, user: u}}]\n"
                 "clusters: [{name: x, cluster: {server: 'https://h'}}]\n"
                 "users: [{name: u, user: {exec: {apiVersion: "
                 "client.authentication.k8s.io/v1, command: aws}}}]\n",
                 NULL, "users[0].user.exec.interactiveMode: Required value");
    expect_error("current-context: a\ncontexts: [{name: a, context: {cluster: x, user: u}}]\n"
                 "clusters: [{name: x, cluster: {server: 'https://h'}}]\n"
                 "users: [{name: u, user: {exec: {apiVersion: v9, command: aws}}}]\n",
                 NULL, "users[0].user.exec.apiVersion: Unsupported value: \"v9\"");
    expect_error("current-context: a\ncontexts: [{name: a, context: {cluster: x, user: u}}]\n"
                 "clusters: [{name: x, cluster: {server: 'https://h'}}]\n"
                 "users: [{name: u, user: {auth-provider: {name: gcp}}}]\n",
                 NULL, "auth-provider: Forbidden");
    expect_error("current-context: a\ncontexts: [{name: a, context: {cluster: x}}]\n"
                 "clusters: [{name: x, cluster: {server: 'https://h', certificate-authority: "
                 "ca.pem, insecure-skip-tls-verify: true}}]\n",
                 NULL,
                 "clusters[0].cluster.insecure-skip-tls-verify: Invalid value: true: specifying "
                 "a root certificates file with the insecure flag is not allowed");
    expect_error("current-context: a\ncontexts: [{name: a, context: {cluster: x}}]\n"
                 "clusters: [{name: x, cluster: {server: 'https://h', "
                 "certificate-authority-data: LS0tLS1CRUdJTg==, insecure-skip-tls-verify: "
                 "true}}]\n",
                 NULL, "with the insecure flag is not allowed");
    expect_error("a: [b\n", NULL, "kubeconfig: line");
    expect_error("current-context: 5\n", NULL, "current-context: must be a string");
}

TEST(kubeconfig_exec_plugin)
{
    const char *text = "current-context: a\ncontexts: [{name: a, context: {cluster: x, user: u}}]\n"
                       "clusters: [{name: x, cluster: {server: 'https://h'}}]\n"
                       "users:\n- name: u\n  user:\n    exec:\n"
                       "      apiVersion: client.authentication.k8s.io/v1beta1\n"
                       "      command: ./bin/get-token\n"
                       "      args: [eks, get-token, --cluster-name, demo]\n"
                       "      env: [{name: AWS_PROFILE, value: dev}]\n"
                       "      provideClusterInfo: true\n";
    struct kube_config cfg;
    char err[256] = "";
    CHECK_INT_EQ(
        kube_config_parse(text, strlen(text), "/home/me/.kube", NULL, &cfg, err, sizeof(err)),
        HO11Y_OK);
    CHECK(cfg.exec != NULL);
    CHECK_STR_EQ(cfg.exec->command, "/home/me/.kube/./bin/get-token");
    CHECK_INT_EQ(cfg.exec->nargs, 4);
    CHECK_STR_EQ(cfg.exec->args[3], "demo");
    CHECK_INT_EQ(cfg.exec->nenv, 1);
    CHECK_STR_EQ(cfg.exec->env[0], "AWS_PROFILE=dev");
    CHECK_INT_EQ(cfg.exec->provide_cluster_info, 1);
    kube_config_cleanup(&cfg);
}

TEST(exec_output_parsing)
{
    char *tok, *cert, *key, err[256];
    long long exp;
    const char *api = "client.authentication.k8s.io/v1";
    const char *ok = "{\"kind\":\"ExecCredential\",\"apiVersion\":\"client.authentication.k8s.io/"
                     "v1\",\"status\":{\"token\":\"t0k\",\"expirationTimestamp\":"
                     "\"2030-01-02T03:04:05Z\"}}";
    CHECK_INT_EQ(
        kube_auth_parse_exec_output(ok, strlen(ok), api, &tok, &cert, &key, &exp, err, sizeof(err)),
        HO11Y_OK);
    CHECK_STR_EQ(tok, "t0k");
    CHECK(cert == NULL && key == NULL);
    CHECK_INT_EQ(exp, 1893553445);
    free(tok);
    const char *wrong = "{\"kind\":\"ExecCredential\",\"apiVersion\":\"client.authentication.k8s."
                        "io/v1beta1\",\"status\":{\"token\":\"x\"}}";
    CHECK_INT_EQ(kube_auth_parse_exec_output(wrong, strlen(wrong), api, &tok, &cert, &key, &exp,
                                             err, sizeof(err)),
                 HO11Y_UNAUTHORIZED);
    CHECK_STR_CONTAINS(err, "does not match");
    const char *half = "{\"kind\":\"ExecCredential\",\"apiVersion\":\"client.authentication.k8s."
                       "io/v1\",\"status\":{\"clientCertificateData\":\"c\"}}";
    CHECK_INT_EQ(kube_auth_parse_exec_output(half, strlen(half), api, &tok, &cert, &key, &exp, err,
                                             sizeof(err)),
                 HO11Y_UNAUTHORIZED);
    CHECK_STR_CONTAINS(err, "status.clientKeyData: Required value");
    CHECK_INT_EQ(
        kube_auth_parse_exec_output("[]", 2, api, &tok, &cert, &key, &exp, err, sizeof(err)),
        HO11Y_UNAUTHORIZED);
}

static char tmpdir[256];

static const char *mktmp(void)
{
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/ho11y-kube-test-XXXXXX");
    CHECK(mkdtemp(tmpdir) != NULL);
    return tmpdir;
}

static void write_file(const char *dir, const char *name, const char *content, int mode)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    CHECK(f != NULL);
    fputs(content, f);
    fclose(f);
    chmod(path, (mode_t)mode);
}

TEST(token_file_reread_after_invalidate)
{
    const char *dir = mktmp();
    write_file(dir, "token", "first\n", 0600);
    struct kube_config cfg = {0};
    cfg.server = xstrdup("https://h");
    cfg.token_file = xasprintf("%s/token", dir);
    struct kube_auth *a = kube_auth_new(&cfg);
    char *tok = NULL, err[256];
    CHECK_INT_EQ(kube_auth_token(a, &tok, err, sizeof(err)), HO11Y_OK);
    CHECK_STR_EQ(tok, "first");
    free(tok);
    write_file(dir, "token", "second", 0600);
    CHECK_INT_EQ(kube_auth_token(a, &tok, err, sizeof(err)), HO11Y_OK);
    CHECK_STR_EQ(tok, "first"); /* cached until the minute passes or a 401 */
    free(tok);
    kube_auth_invalidate(a);
    CHECK_INT_EQ(kube_auth_token(a, &tok, err, sizeof(err)), HO11Y_OK);
    CHECK_STR_EQ(tok, "second");
    free(tok);
    kube_auth_free(a);
    kube_config_cleanup(&cfg);
}

TEST(token_file_reread_when_due)
{
    const char *dir = mktmp();
    write_file(dir, "token", "first", 0600);
    struct kube_config cfg = {0};
    cfg.server = xstrdup("https://h");
    cfg.token_file = xasprintf("%s/token", dir);
    struct kube_auth *a = kube_auth_new(&cfg);
    kube_auth_set_token_file_ttl(a, 50);
    char *tok = NULL, err[256];
    CHECK_INT_EQ(kube_auth_token(a, &tok, err, sizeof(err)), HO11Y_OK);
    CHECK_STR_EQ(tok, "first");
    free(tok);
    write_file(dir, "token", "second\n", 0600);
    CHECK_INT_EQ(kube_auth_token(a, &tok, err, sizeof(err)), HO11Y_OK);
    CHECK_STR_EQ(tok, "first");
    free(tok);
    usleep(120 * 1000);
    CHECK_INT_EQ(kube_auth_token(a, &tok, err, sizeof(err)), HO11Y_OK);
    CHECK_STR_EQ(tok, "second"); /* read again once due, without any 401 */
    free(tok);
    /* A rotation in progress (the file briefly missing) keeps the previous token. */
    char *path = xasprintf("%s/token", dir);
    CHECK_INT_EQ(unlink(path), 0);
    usleep(120 * 1000);
    CHECK_INT_EQ(kube_auth_token(a, &tok, err, sizeof(err)), HO11Y_OK);
    CHECK_STR_EQ(tok, "second");
    free(tok);
    free(path);
    kube_auth_free(a);
    kube_config_cleanup(&cfg);
}

TEST(token_rejected_once_per_token)
{
    const char *dir = mktmp();
    write_file(dir, "token", "first", 0600);
    struct kube_config cfg = {0};
    cfg.server = xstrdup("https://h");
    cfg.token_file = xasprintf("%s/token", dir);
    struct kube_auth *a = kube_auth_new(&cfg);
    char *tok = NULL, err[256];
    CHECK_INT_EQ(kube_auth_token(a, &tok, err, sizeof(err)), HO11Y_OK);
    CHECK_STR_EQ(tok, "first");
    free(tok);
    write_file(dir, "token", "second", 0600);
    /* A 401 for a token that is no longer the current one changes nothing ... */
    kube_auth_reject(a, "older");
    CHECK_INT_EQ(kube_auth_token(a, &tok, err, sizeof(err)), HO11Y_OK);
    CHECK_STR_EQ(tok, "first");
    free(tok);
    /* ... a 401 for the current one reads the file again. */
    kube_auth_reject(a, "first");
    CHECK_INT_EQ(kube_auth_token(a, &tok, err, sizeof(err)), HO11Y_OK);
    CHECK_STR_EQ(tok, "second");
    free(tok);
    write_file(dir, "token", "third", 0600);
    kube_auth_reject(a, "first"); /* late 401s of other requests that carried "first" */
    CHECK_INT_EQ(kube_auth_token(a, &tok, err, sizeof(err)), HO11Y_OK);
    CHECK_STR_EQ(tok, "second");
    free(tok);
    kube_auth_free(a);
    kube_config_cleanup(&cfg);
}

TEST(exec_plugin_runs_and_caches)
{
    const char *dir = mktmp();
    char script[1024];
    snprintf(script, sizeof(script),
             "#!/bin/sh\n"
             "n=$(cat %s/count 2>/dev/null || echo 0); n=$((n+1)); echo $n > %s/count\n"
             "case \"$KUBERNETES_EXEC_INFO\" in *'\"interactive\":false'*) ;; *) exit 3;; esac\n"
             "[ \"$MY_VAR\" = yes ] || exit 4\n"
             "[ \"$1\" = get-token ] || exit 5\n"
             "echo '{\"apiVersion\":\"client.authentication.k8s.io/v1\",\"kind\":"
             "\"ExecCredential\",\"status\":{\"token\":\"tok-'$n'\"}}'\n",
             dir, dir);
    write_file(dir, "plugin", script, 0700);
    char *yaml =
        xasprintf("current-context: a\ncontexts: [{name: a, context: {cluster: x, user: u}}]\n"
                  "clusters: [{name: x, cluster: {server: 'https://h'}}]\n"
                  "users: [{name: u, user: {exec: {apiVersion: client.authentication.k8s.io/v1, "
                  "interactiveMode: Never, command: %s/plugin, args: [get-token], "
                  "env: [{name: MY_VAR, value: 'yes'}]}}}]\n",
                  dir);
    struct kube_config cfg;
    char err[512] = "";
    CHECK_INT_EQ(kube_config_parse(yaml, strlen(yaml), NULL, NULL, &cfg, err, sizeof(err)),
                 HO11Y_OK);
    struct kube_auth *a = kube_auth_new(&cfg);
    char *tok = NULL;
    CHECK_INT_EQ(kube_auth_token(a, &tok, err, sizeof(err)), HO11Y_OK);
    CHECK_STR_EQ(tok, "tok-1");
    free(tok);
    CHECK_INT_EQ(kube_auth_token(a, &tok, err, sizeof(err)), HO11Y_OK);
    CHECK_STR_EQ(tok, "tok-1"); /* no expiry: cached until a 401 */
    free(tok);
    kube_auth_invalidate(a);
    CHECK_INT_EQ(kube_auth_token(a, &tok, err, sizeof(err)), HO11Y_OK);
    CHECK_STR_EQ(tok, "tok-2");
    free(tok);
    kube_auth_free(a);
    kube_config_cleanup(&cfg);

    /* A failing plugin: the error names it and its exit status. */
    write_file(dir, "plugin", "#!/bin/sh\necho nope >&2\nexit 7\n", 0700);
    CHECK_INT_EQ(kube_config_parse(yaml, strlen(yaml), NULL, NULL, &cfg, err, sizeof(err)),
                 HO11Y_OK);
    a = kube_auth_new(&cfg);
    CHECK_INT_EQ(kube_auth_token(a, &tok, err, sizeof(err)), HO11Y_UNAUTHORIZED);
    CHECK_STR_CONTAINS(err, "exit status 7");
    kube_auth_free(a);
    kube_config_cleanup(&cfg);
    free(yaml);
}

TEST(incluster_config)
{
    const char *dir = mktmp();
    write_file(dir, "token", "sa-token\n", 0600);
    write_file(dir, "ca.crt", "PEM", 0600);
    write_file(dir, "namespace", "ho11y-system\n", 0600);
    setenv("KUBERNETES_SERVICE_HOST", "fd00::1", 1);
    setenv("KUBERNETES_SERVICE_PORT", "443", 1);
    struct kube_config cfg;
    char err[256] = "";
    CHECK_INT_EQ(kube_config_load_incluster(dir, &cfg, err, sizeof(err)), HO11Y_OK);
    CHECK_STR_EQ(cfg.server, "https://[fd00::1]:443");
    CHECK_STR_CONTAINS(cfg.ca_file, "/ca.crt");
    CHECK_STR_EQ(cfg.namespace, "ho11y-system");
    CHECK_STR_EQ(cfg.origin, "in-cluster");
    kube_config_cleanup(&cfg);
    unsetenv("KUBERNETES_SERVICE_HOST");
    CHECK_INT_EQ(kube_config_load_incluster(dir, &cfg, err, sizeof(err)), HO11Y_CONFIG);
    CHECK_STR_CONTAINS(err, "KUBERNETES_SERVICE_HOST");
}

TEST(base64_and_time)
{
    unsigned char *out;
    size_t n;
    CHECK_INT_EQ(kube_base64_decode("aGVsbG8=", 8, &out, &n), HO11Y_OK);
    CHECK_INT_EQ(n, 5);
    CHECK_STR_EQ((char *)out, "hello");
    free(out);
    CHECK_INT_EQ(kube_base64_decode("aGVs\nbG8", 8, &out, &n), HO11Y_OK);
    CHECK_STR_EQ((char *)out, "hello");
    free(out);
    CHECK_INT_EQ(kube_base64_decode("a$==", 4, &out, &n), HO11Y_PARSE);
    CHECK_INT_EQ(kube_base64_decode("a", 1, &out, &n), HO11Y_PARSE);
    char *e = kube_base64_encode("hello", 5);
    CHECK_STR_EQ(e, "aGVsbG8=");
    free(e);
    time_t t;
    CHECK_INT_EQ(kube_time_parse("2024-12-11T17:59:15Z", &t), HO11Y_OK);
    CHECK_INT_EQ(t, 1733939955);
    CHECK_INT_EQ(kube_time_parse("2024-12-11T18:59:15.123+01:00", &t), HO11Y_OK);
    CHECK_INT_EQ(t, 1733939955);
    CHECK_INT_EQ(kube_time_parse("2024-12-11 17:59", &t), HO11Y_PARSE);
    char buf[32];
    kube_time_format(1733939955, buf, sizeof(buf));
    CHECK_STR_EQ(buf, "2024-12-11T17:59:15Z");
    kube_microtime_now(buf, sizeof(buf));
    CHECK_INT_EQ(strlen(buf), 27);
}
