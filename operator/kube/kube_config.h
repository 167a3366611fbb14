/*
 * Where the API server is and how to authenticate: kubeconfig files (current-context or a named
 * context; clusters with server, certificate-authority file or data, insecure-skip-tls-verify;
 * users with token, tokenFile, client certificate and key files or data, exec credential
 * plugins of client.authentication.k8s.io/v1 and v1beta1) and the in-cluster service-account
 * configuration. Parsing is pure; credentials that change over time live in kube_auth.h.
 */
#ifndef HO11Y_KUBE_CONFIG_H
#define HO11Y_KUBE_CONFIG_H

#include <stddef.h>

#include "common/error.h"

/* The folder Kubernetes mounts the service-account token, CA and namespace into. */
#define KUBE_SA_DIR_DEFAULT "/var/run/secrets/kubernetes.io/serviceaccount"
/* Environment variable overriding that folder (tests point it at a temporary directory). */
#define KUBE_SA_DIR_ENV "HO11Y_SERVICEACCOUNT_DIR"

struct kube_exec_config {
    char *api_version; /* client.authentication.k8s.io/v1 or /v1beta1 */
    char *command;     /* resolved against the kubeconfig folder when relative with a '/' */
    char **args;       /* nargs entries */
    size_t nargs;
    char **env; /* "NAME=value" entries added to the plugin's environment */
    size_t nenv;
    char *install_hint;
    int provide_cluster_info;
};

struct kube_config {
    char *server; /* "https://host:port" without a trailing slash */
    char *ca_file;
    unsigned char *ca_data; /* PEM bytes (decoded), or NULL */
    size_t ca_len;
    int insecure; /* insecure-skip-tls-verify: only when the kubeconfig says so */
    char *token;
    char *token_file; /* re-read by kube_auth; wins over token, as in client-go */
    char *cert_file;
    char *key_file;
    unsigned char *cert_data;
    size_t cert_len;
    unsigned char *key_data;
    size_t key_len;
    struct kube_exec_config *exec;
    char *namespace; /* the context's namespace or the service account's; may be NULL */
    char *origin;    /* for messages: "kubeconfig <path> context <name>" or "in-cluster" */
};

/**
 * Parses kubeconfig text (YAML or JSON, len bytes) into *out (caller frees with
 * kube_config_cleanup). dir is the kubeconfig's folder for relative paths (NULL: current
 * folder); context NULL selects current-context. Files named by the config are not read here.
 * Errors name the field: "users[0].user.client-key-data: illegal base64 data". Thread-safe.
 */
enum ho11y_err kube_config_parse(const char *text, size_t len, const char *dir, const char *context,
                                 struct kube_config *out, char *err, size_t errlen);

/** Reads and parses the kubeconfig at path (see kube_config_parse). */
enum ho11y_err kube_config_load_file(const char *path, const char *context, struct kube_config *out,
                                     char *err, size_t errlen);

/**
 * In-cluster configuration: server from KUBERNETES_SERVICE_HOST/PORT, token file, CA file and
 * namespace from sa_dir (NULL: $HO11Y_SERVICEACCOUNT_DIR or the standard folder). HO11Y_CONFIG
 * when not running in a cluster.
 */
enum ho11y_err kube_config_load_incluster(const char *sa_dir, struct kube_config *out, char *err,
                                          size_t errlen);

/**
 * The usual lookup: the explicit path if given, else $KUBECONFIG (first entry), else in-cluster
 * when KUBERNETES_SERVICE_HOST is set, else ~/.kube/config.
 */
enum ho11y_err kube_config_load_default(const char *path, const char *context,
                                        struct kube_config *out, char *err, size_t errlen);

/** Frees everything the config owns; NULL is a no-op. */
void kube_config_cleanup(struct kube_config *cfg);

/** Frees an exec configuration (NULL is a no-op). */
void kube_exec_config_free(struct kube_exec_config *e);

#endif
