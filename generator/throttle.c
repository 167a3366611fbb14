#include "generator/throttle.h"

void gen_throttle_init(struct gen_throttle *t, long cutoff_tps)
{
    pthread_mutex_init(&t->lock, NULL);
    t->cutoff_tps = cutoff_tps;
    t->window = 0;
    t->current = t->previous = 0;
}

void gen_throttle_cleanup(struct gen_throttle *t)
{
    pthread_mutex_destroy(&t->lock);
}

bool gen_throttle_check(struct gen_throttle *t, int64_t now_ns, double *tps)
{
    int64_t w = now_ns / GEN_THROTTLE_WINDOW_NS;
    pthread_mutex_lock(&t->lock);
    if (w != t->window) {
        /* A window with no requests in between means the previous rate was zero. */
        t->previous = w == t->window + 1 ? t->current : 0;
        t->current = 0;
        t->window = w;
    }
    t->current++;
    double rate = (double)t->previous / 0.5;
    pthread_mutex_unlock(&t->lock);
    if (tps)
        *tps = rate;
    return rate > (double)t->cutoff_tps;
}
