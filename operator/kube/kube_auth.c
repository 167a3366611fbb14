#include "kube_auth.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/alloc.h"
#include "common/buf.h"
#include "common/log.h"
#include "kube_util.h"

/* An ExecCredential is a few KiB; bound what we read from the plugin. */
#define EXEC_OUTPUT_MAX (1u << 20)
/* A token is refreshed this long before it expires, so that a request never carries a token
 * that expires in flight. */
#define EXPIRY_SLACK_S 10

struct kube_auth {
    pthread_mutex_t lock;
    char *static_token;
    char *token_file;
    struct kube_exec_config *exec;
    char *server; /* for provideClusterInfo */
    char *ca_b64; /* for provideClusterInfo */
    int insecure;

    char *token;        /* current token from the file or plugin */
    int64_t read_at_ms; /* when the token file was last read */
    int64_t file_ttl_ms;
    long long expiry; /* exec token expiry (Unix seconds), 0 = none */
    int valid;        /* cleared by kube_auth_invalidate */
    char *cert, *key; /* exec client certificate */
    unsigned cert_gen;
};

static struct kube_exec_config *exec_copy(const struct kube_exec_config *e)
{
    if (!e)
        return NULL;
    struct kube_exec_config *x = xcalloc(1, sizeof(*x));
    x->api_version = xstrdup(e->api_version);
    x->command = xstrdup(e->command);
    x->install_hint = xstrdup(e->install_hint);
    x->provide_cluster_info = e->provide_cluster_info;
    x->args = xcalloc(e->nargs + 1, sizeof(char *));
    for (size_t i = 0; i < e->nargs; i++)
        x->args[i] = xstrdup(e->args[i]);
    x->nargs = e->nargs;
    x->env = xcalloc(e->nenv + 1, sizeof(char *));
    for (size_t i = 0; i < e->nenv; i++)
        x->env[i] = xstrdup(e->env[i]);
    x->nenv = e->nenv;
    return x;
}

struct kube_auth *kube_auth_new(const struct kube_config *cfg)
{
    struct kube_auth *a = xcalloc(1, sizeof(*a));
    pthread_mutex_init(&a->lock, NULL);
    a->static_token = xstrdup(cfg->token);
    a->token_file = xstrdup(cfg->token_file);
    a->exec = exec_copy(cfg->exec);
    a->server = xstrdup(cfg->server);
    if (cfg->ca_data)
        a->ca_b64 = kube_base64_encode(cfg->ca_data, cfg->ca_len);
    a->insecure = cfg->insecure;
    a->file_ttl_ms = KUBE_AUTH_TOKEN_FILE_TTL_MS;
    return a;
}

void kube_auth_free(struct kube_auth *a)
{
    if (!a)
        return;
    pthread_mutex_destroy(&a->lock);
    free(a->static_token);
    free(a->token_file);
    kube_exec_config_free(a->exec);
    free(a->server);
    free(a->ca_b64);
    free(a->token);
    free(a->cert);
    free(a->key);
    free(a);
}

void kube_auth_invalidate(struct kube_auth *a)
{
    pthread_mutex_lock(&a->lock);
    a->valid = 0;
    pthread_mutex_unlock(&a->lock);
}

void kube_auth_reject(struct kube_auth *a, const char *token)
{
    pthread_mutex_lock(&a->lock);
    const char *cur = a->exec || a->token_file ? a->token : a->static_token;
    if (!token || !cur || strcmp(cur, token) == 0)
        a->valid = 0;
    pthread_mutex_unlock(&a->lock);
}

void kube_auth_set_token_file_ttl(struct kube_auth *a, int64_t ms)
{
    pthread_mutex_lock(&a->lock);
    a->file_ttl_ms = ms > 0 ? ms : KUBE_AUTH_TOKEN_FILE_TTL_MS;
    pthread_mutex_unlock(&a->lock);
}

static enum ho11y_err read_token_file(struct kube_auth *a, char *err, size_t errlen)
{
    char *data = NULL;
    size_t len = 0;
    char rerr[256];
    if (kube_read_file(a->token_file, 64 * 1024, &data, &len, rerr, sizeof(rerr))) {
        if (a->token) {
            /* Keep the previous token: a rotation in progress should not stop the operator. */
            LOG_WARN("Token file re-read failed, keeping the previous token: %s", rerr);
            a->read_at_ms = kube_now_ms();
            a->valid = 1;
            return HO11Y_OK;
        }
        if (err)
            snprintf(err, errlen, "token file: %s", rerr);
        return HO11Y_UNAUTHORIZED;
    }
    while (len > 0 && (data[len - 1] == '\n' || data[len - 1] == '\r' || data[len - 1] == ' '))
        data[--len] = '\0';
    if (!len) {
        free(data);
        if (err)
            snprintf(err, errlen, "token file %s is empty", a->token_file);
        return HO11Y_UNAUTHORIZED;
    }
    free(a->token);
    a->token = data;
    a->read_at_ms = kube_now_ms();
    a->valid = 1;
    return HO11Y_OK;
}

enum ho11y_err kube_auth_parse_exec_output(const char *json, size_t len, const char *api_version,
                                           char **token, char **cert, char **key, long long *expiry,
                                           char *err, size_t errlen)
{
    enum ho11y_err result = HO11Y_UNAUTHORIZED;
    *token = *cert = *key = NULL;
    *expiry = 0;
    cJSON *root = cJSON_ParseWithLength(json, len);
    if (!cJSON_IsObject(root)) {
        snprintf(err, errlen, "output is not a JSON object");
        goto out;
    }
    const cJSON *kind = cJSON_GetObjectItemCaseSensitive(root, "kind");
    const cJSON *api = cJSON_GetObjectItemCaseSensitive(root, "apiVersion");
    if (!cJSON_IsString(kind) || strcmp(kind->valuestring, "ExecCredential") != 0) {
        snprintf(err, errlen, "output kind is not ExecCredential");
        goto out;
    }
    if (!cJSON_IsString(api) || strcmp(api->valuestring, api_version) != 0) {
        snprintf(err, errlen, "output apiVersion \"%s\" does not match the requested \"%s\"",
                 cJSON_IsString(api) ? api->valuestring : "", api_version);
        goto out;
    }
    const cJSON *st = cJSON_GetObjectItemCaseSensitive(root, "status");
    if (!cJSON_IsObject(st)) {
        snprintf(err, errlen, "output has no status");
        goto out;
    }
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(st, "token");
    const cJSON *c = cJSON_GetObjectItemCaseSensitive(st, "clientCertificateData");
    const cJSON *k = cJSON_GetObjectItemCaseSensitive(st, "clientKeyData");
    const cJSON *exp = cJSON_GetObjectItemCaseSensitive(st, "expirationTimestamp");
    int has_c = cJSON_IsString(c) && c->valuestring[0];
    int has_k = cJSON_IsString(k) && k->valuestring[0];
    if (has_c != has_k) {
        snprintf(err, errlen, "status.%s: Required value: needed with status.%s",
                 has_c ? "clientKeyData" : "clientCertificateData",
                 has_c ? "clientCertificateData" : "clientKeyData");
        goto out;
    }
    if (!(cJSON_IsString(t) && t->valuestring[0]) && !has_c) {
        snprintf(err, errlen, "status.token: Required value: no token or client certificate");
        goto out;
    }
    if (exp && !cJSON_IsNull(exp)) {
        time_t tt;
        if (!cJSON_IsString(exp) || kube_time_parse(exp->valuestring, &tt)) {
            snprintf(err, errlen, "status.expirationTimestamp: Invalid value: not RFC 3339");
            goto out;
        }
        *expiry = (long long)tt;
    }
    if (cJSON_IsString(t) && t->valuestring[0])
        *token = xstrdup(t->valuestring);
    if (has_c) {
        *cert = xstrdup(c->valuestring);
        *key = xstrdup(k->valuestring);
    }
    result = HO11Y_OK;
out:
    cJSON_Delete(root);
    return result;
}

static char *exec_info(const struct kube_auth *a)
{
    cJSON *root = cJSON_CreateObject();
    cJSON_AddStringToObject(root, "apiVersion", a->exec->api_version);
    cJSON_AddStringToObject(root, "kind", "ExecCredential");
    cJSON *spec = cJSON_AddObjectToObject(root, "spec");
    cJSON_AddBoolToObject(spec, "interactive", 0);
    if (a->exec->provide_cluster_info) {
        cJSON *cl = cJSON_AddObjectToObject(spec, "cluster");
        cJSON_AddStringToObject(cl, "server", a->server ? a->server : "");
        if (a->ca_b64)
            cJSON_AddStringToObject(cl, "certificate-authority-data", a->ca_b64);
        if (a->insecure)
            cJSON_AddBoolToObject(cl, "insecure-skip-tls-verify", 1);
    }
    char *s = cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
    return s;
}

/* Runs the plugin with stdin from /dev/null and stdout captured (stderr is inherited so that
 * its messages reach the operator's log), bounded in time and output size. */
static enum ho11y_err run_plugin(struct kube_auth *a, struct hbuf *out, char *err, size_t errlen)
{
    enum ho11y_err result = HO11Y_UNAUTHORIZED;
    int pipefd[2] = {-1, -1};
    pid_t pid = -1;
    size_t nenv = 0;
    char **envp = NULL, **argv = NULL;
    char *info = exec_info(a), *info_env = NULL;
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);

    while (environ[nenv])
        nenv++;
    envp = xcalloc(nenv + a->exec->nenv + 2, sizeof(char *));
    size_t n = 0;
    for (size_t i = 0; i < nenv; i++)
        if (strncmp(environ[i], "KUBERNETES_EXEC_INFO=", 21) != 0)
            envp[n++] = environ[i];
    for (size_t i = 0; i < a->exec->nenv; i++)
        envp[n++] = a->exec->env[i];
    info_env = xasprintf("KUBERNETES_EXEC_INFO=%s", info);
    envp[n++] = info_env;
    argv = xcalloc(a->exec->nargs + 2, sizeof(char *));
    argv[0] = a->exec->command;
    for (size_t i = 0; i < a->exec->nargs; i++)
        argv[i + 1] = a->exec->args[i];

    if (pipe2(pipefd, O_CLOEXEC) != 0) {
        snprintf(err, errlen, "exec plugin %s: pipe: %s", a->exec->command, strerror(errno));
        goto out;
    }
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&fa, pipefd[1], 1);
    int rc = posix_spawnp(&pid, a->exec->command, &fa, NULL, argv, envp);
    close(pipefd[1]);
    pipefd[1] = -1;
    if (rc != 0) {
        pid = -1;
        snprintf(err, errlen, "exec plugin %s: %s%s%s", a->exec->command, strerror(rc),
                 a->exec->install_hint ? "; " : "",
                 a->exec->install_hint ? a->exec->install_hint : "");
        goto out;
    }
    int64_t deadline = kube_now_ms() + KUBE_AUTH_EXEC_TIMEOUT_MS;
    for (;;) {
        int64_t left = deadline - kube_now_ms();
        if (left <= 0) {
            snprintf(err, errlen, "exec plugin %s: no answer within %d s", a->exec->command,
                     KUBE_AUTH_EXEC_TIMEOUT_MS / 1000);
            kill(pid, SIGKILL);
            goto out;
        }
        struct pollfd pfd = {.fd = pipefd[0], .events = POLLIN};
        int pr = poll(&pfd, 1, (int)left);
        if (pr < 0 && errno == EINTR)
            continue;
        if (pr <= 0)
            continue;
        char chunk[4096];
        ssize_t r = read(pipefd[0], chunk, sizeof(chunk));
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        if (hbuf_add(out, chunk, (size_t)r)) {
            snprintf(err, errlen, "exec plugin %s: output larger than %u bytes", a->exec->command,
                     EXEC_OUTPUT_MAX);
            kill(pid, SIGKILL);
            goto out;
        }
    }
    result = HO11Y_OK;
out:
    if (pid > 0) {
        int status = 0;
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
            ;
        if (!result && (!WIFEXITED(status) || WEXITSTATUS(status) != 0)) {
            snprintf(err, errlen, "exec plugin %s: exit status %d%s%s", a->exec->command,
                     WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status),
                     a->exec->install_hint ? "; " : "",
                     a->exec->install_hint ? a->exec->install_hint : "");
            result = HO11Y_UNAUTHORIZED;
        }
    }
    if (pipefd[0] >= 0)
        close(pipefd[0]);
    if (pipefd[1] >= 0)
        close(pipefd[1]);
    posix_spawn_file_actions_destroy(&fa);
    free(envp);
    free(argv);
    free(info_env);
    free(info);
    return result;
}

static enum ho11y_err run_exec(struct kube_auth *a, char *err, size_t errlen)
{
    struct hbuf out;
    char perr[256];
    char *token = NULL, *cert = NULL, *key = NULL;
    long long expiry = 0;
    hbuf_init(&out, EXEC_OUTPUT_MAX);
    enum ho11y_err result = run_plugin(a, &out, err, errlen);
    if (result)
        goto done;
    result = kube_auth_parse_exec_output(hbuf_str(&out), out.len, a->exec->api_version, &token,
                                         &cert, &key, &expiry, perr, sizeof(perr));
    if (result) {
        snprintf(err, errlen, "exec plugin %s: %s", a->exec->command, perr);
        goto done;
    }
    free(a->token);
    a->token = token;
    a->expiry = expiry;
    a->valid = 1;
    if ((cert || a->cert) &&
        (!cert || !a->cert || strcmp(cert, a->cert) != 0 || strcmp(key, a->key) != 0)) {
        free(a->cert);
        free(a->key);
        a->cert = cert;
        a->key = key;
        cert = key = NULL;
        a->cert_gen++;
    }
    LOG_DEBUG("Exec credential plugin %s returned credentials (expiry %lld)", a->exec->command,
              expiry);
done:
    free(cert);
    free(key);
    hbuf_cleanup(&out);
    return result;
}

/* Called with the lock held. */
static enum ho11y_err refresh(struct kube_auth *a, char *err, size_t errlen)
{
    if (a->exec) {
        if (a->valid && (!a->expiry || (long long)time(NULL) + EXPIRY_SLACK_S < a->expiry))
            return HO11Y_OK;
        return run_exec(a, err, errlen);
    }
    if (a->token_file) {
        if (a->valid && kube_now_ms() - a->read_at_ms < a->file_ttl_ms)
            return HO11Y_OK;
        return read_token_file(a, err, errlen);
    }
    return HO11Y_OK;
}

enum ho11y_err kube_auth_token(struct kube_auth *a, char **token, char *err, size_t errlen)
{
    *token = NULL;
    pthread_mutex_lock(&a->lock);
    enum ho11y_err result = refresh(a, err, errlen);
    if (!result) {
        if (a->exec || a->token_file)
            *token = xstrdup(a->token);
        else
            *token = xstrdup(a->static_token);
    }
    pthread_mutex_unlock(&a->lock);
    return result;
}

unsigned kube_auth_exec_cert(struct kube_auth *a, char **cert, char **key)
{
    pthread_mutex_lock(&a->lock);
    if (a->exec)
        refresh(a, NULL, 0);
    *cert = xstrdup(a->cert);
    *key = xstrdup(a->key);
    unsigned gen = a->cert_gen;
    pthread_mutex_unlock(&a->lock);
    return gen;
}

unsigned kube_auth_cert_generation(struct kube_auth *a)
{
    pthread_mutex_lock(&a->lock);
    unsigned gen = a->cert_gen;
    pthread_mutex_unlock(&a->lock);
    return gen;
}
