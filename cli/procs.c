#include "cli/procs.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/alloc.h"

void proc_init(struct proc *p, const char *label)
{
    memset(p, 0, sizeof(*p));
    p->label = xstrdup(label);
    p->fd = -1;
    hbuf_init(&p->line, PROC_LINE_MAX);
}

void proc_cleanup(struct proc *p)
{
    if (!p)
        return;
    if (p->fd >= 0)
        close(p->fd);
    for (size_t i = 0; i < PROC_TAIL_LINES; i++)
        free(p->tail[i]);
    hbuf_cleanup(&p->line);
    free(p->label);
    memset(p, 0, sizeof(*p));
    p->fd = -1;
}

/* In the child, between fork and exec: only async-signal-safe calls. */
static void child_exec(pid_t parent, int out_fd, const char *path, char *const argv[],
                       char *const envp[])
{
    sigset_t none;
    struct sigaction dfl;
    static const char msg[] = "ho11yctl: cannot execute the ho11y generator\n";
    setpgid(0, 0);
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (getppid() != parent) /* ho11yctl died before prctl took effect */
        _exit(126);
    memset(&dfl, 0, sizeof(dfl));
    dfl.sa_handler = SIG_DFL;
    for (int sig = 1; sig < 32; sig++)
        if (sig != SIGKILL && sig != SIGSTOP)
            sigaction(sig, &dfl, NULL);
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    int devnull = open("/dev/null", O_RDONLY);
    if (devnull >= 0) {
        dup2(devnull, 0);
        close(devnull);
    }
    dup2(out_fd, 1);
    dup2(out_fd, 2);
    if (out_fd > 2)
        close(out_fd);
    execve(path, argv, envp);
    if (write(2, msg, sizeof(msg) - 1) < 0) {
        /* nothing more can be done */
    }
    _exit(127);
}

enum ho11y_err proc_spawn(struct proc *p, const char *path, char *const envp[], char *err,
                          size_t errlen)
{
    int fds[2];
    char *argv[] = {(char *)(uintptr_t)path, NULL};
    if (pipe2(fds, O_CLOEXEC) != 0) {
        snprintf(err, errlen, "%s: cannot create a pipe: %s", p->label, strerror(errno));
        return HO11Y_IO;
    }
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid < 0) {
        snprintf(err, errlen, "%s: cannot fork: %s", p->label, strerror(errno));
        close(fds[0]);
        close(fds[1]);
        return HO11Y_IO;
    }
    if (pid == 0)
        child_exec(parent, fds[1], path, argv, envp);
    close(fds[1]);
    fcntl(fds[0], F_SETFL, fcntl(fds[0], F_GETFL) | O_NONBLOCK);
    /* Also from this side, so signalling the group works even before the child ran. */
    setpgid(pid, pid);
    p->pid = pid;
    p->fd = fds[0];
    return HO11Y_OK;
}

static void keep_line(struct proc *p, const char *line)
{
    size_t i = p->ntail % PROC_TAIL_LINES;
    free(p->tail[i]);
    p->tail[i] = xstrdup(line);
    p->ntail++;
}

static long long json_int(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsNumber(v) && v->valuedouble >= 0 && v->valuedouble < 9e18
               ? (long long)v->valuedouble
               : 0;
}

/* The log lines that matter to ho11yctl (generator/main.c and generator/load.c write them). */
static void handle_line(struct proc *p, const char *line, size_t len)
{
    /* Every line of interest has one of these events; skip the rest unparsed. */
    if (len == 0 || line[0] != '{' ||
        (!strstr(line, "\"event\":\"l") && !strstr(line, "\"event\":\"shutdown\"")))
        return;
    cJSON *o = cJSON_ParseWithLength(line, len);
    const cJSON *event = cJSON_GetObjectItemCaseSensitive(o, "event");
    const cJSON *msg = cJSON_GetObjectItemCaseSensitive(o, "msg");
    if (cJSON_IsString(event)) {
        const char *e = event->valuestring;
        if (strcmp(e, "listening") == 0) {
            long long port = json_int(o, "port");
            if (port > 0 && port < 65536)
                p->port = (unsigned)port;
        } else if (strcmp(e, "load") == 0 && cJSON_IsString(msg) &&
                   strcmp(msg->valuestring, "load finished") == 0) {
            p->load_finished = 1;
        } else if (strcmp(e, "shutdown") == 0 && cJSON_IsString(msg) &&
                   strcmp(msg->valuestring, "Stopped") == 0) {
            p->spans.seen = 1;
            p->spans.exported = json_int(o, "spans_exported");
            p->spans.dropped = json_int(o, "spans_dropped");
            p->spans.rejected = json_int(o, "spans_rejected");
        } else if (strcmp(e, "load_summary") == 0) {
            p->load.seen = 1;
            p->load.sent = json_int(o, "sent");
            p->load.completed = json_int(o, "completed");
            p->load.errors = json_int(o, "errors");
            p->load.skipped = json_int(o, "skipped");
        }
    }
    cJSON_Delete(o);
}

static void finish_line(struct proc *p, FILE *echo)
{
    const char *line = hbuf_str(&p->line);
    handle_line(p, line, p->line.len);
    keep_line(p, line);
    if (echo)
        fprintf(echo, "%s| %s\n", p->label, line);
    hbuf_reset(&p->line);
}

void proc_read(struct proc *p, FILE *echo)
{
    char buf[4096];
    while (p->fd >= 0) {
        ssize_t n = read(p->fd, buf, sizeof(buf));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return;
        if (n <= 0) {
            if (p->line.len)
                finish_line(p, echo);
            close(p->fd);
            p->fd = -1;
            return;
        }
        for (ssize_t i = 0; i < n; i++) {
            if (buf[i] == '\n') {
                finish_line(p, echo);
            } else if (hbuf_addc(&p->line, buf[i]) != HO11Y_OK) {
                /* An over-long line is cut: handled and kept as far as it goes. */
                finish_line(p, echo);
                hbuf_addc(&p->line, buf[i]);
            }
        }
        if (echo)
            fflush(echo);
    }
}

void proc_signal(struct proc *p, int sig)
{
    if (p->pid <= 0 || p->exited)
        return;
    if (sig == SIGTERM || sig == SIGKILL)
        p->stopping = 1;
    if (sig == SIGKILL)
        p->killed = 1;
    kill(p->pid, sig);
}

void proc_reaped(struct proc *p, int status)
{
    p->exited = 1;
    p->status = status;
}

void proc_describe_exit(const struct proc *p, char *out, size_t outlen)
{
    if (!p->exited)
        snprintf(out, outlen, "is still running");
    else if (WIFEXITED(p->status))
        snprintf(out, outlen, "exited with status %d", WEXITSTATUS(p->status));
    else if (WIFSIGNALED(p->status))
        snprintf(out, outlen, "was killed by signal %d (%s)", WTERMSIG(p->status),
                 strsignal(WTERMSIG(p->status)));
    else
        snprintf(out, outlen, "ended with wait status %d", p->status);
}

void proc_print_tail(const struct proc *p, FILE *out)
{
    size_t n = p->ntail < PROC_TAIL_LINES ? p->ntail : PROC_TAIL_LINES;
    for (size_t k = p->ntail - n; k < p->ntail; k++)
        fprintf(out, "    %s\n", p->tail[k % PROC_TAIL_LINES]);
}
