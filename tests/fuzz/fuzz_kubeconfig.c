/*
 * The operator's kubeconfig parser (YAML or JSON from a buffer: contexts, clusters, users,
 * base64 certificate data, exec plugin settings) and the parser of an exec credential plugin's
 * answer. Nothing named by the config is read or run here.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "operator/kube/kube_auth.h"
#include "operator/kube/kube_config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void parse_config(const char *text, size_t size, const char *context)
{
    struct kube_config cfg;
    char err[512];
    memset(&cfg, 0, sizeof(cfg));
    if (kube_config_parse(text, size, "/nonexistent/kube", context, &cfg, err, sizeof(err)) ==
        HO11Y_OK) {
        /* A usable config always names a server; absent data has no length. */
        if (!cfg.server || (!cfg.ca_data && cfg.ca_len) || (!cfg.cert_data && cfg.cert_len) ||
            (!cfg.key_data && cfg.key_len))
            abort();
    } else if (!memchr(err, '\0', sizeof(err))) {
        abort();
    }
    kube_config_cleanup(&cfg);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int initialised;
    if (!initialised) {
        ho11y_alloc_init();
        initialised = 1;
    }
    char *text = xmalloc(size ? size : 1);
    memcpy(text, data, size);
    parse_config(text, size, NULL);
    parse_config(text, size, "dev");

    static const char *const versions[] = {"client.authentication.k8s.io/v1",
                                           "client.authentication.k8s.io/v1beta1"};
    for (size_t i = 0; i < 2; i++) {
        char *token = NULL, *cert = NULL, *key = NULL, err[512];
        long long expiry = 0;
        enum ho11y_err result = kube_auth_parse_exec_output(text, size, versions[i], &token, &cert,
                                                            &key, &expiry, err, sizeof(err));
        if (result == HO11Y_OK && !token && !cert)
            abort(); /* success needs a token or a certificate */
        if (result == HO11Y_OK && (cert == NULL) != (key == NULL))
            abort();
        if (result != HO11Y_OK && (token || cert || key))
            abort();
        free(token);
        free(cert);
        free(key);
    }
    free(text);
    return 0;
}
