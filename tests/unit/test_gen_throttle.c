/* Upstream's 500 ms throttle windows. */
#include "generator/throttle.h"
#include "test.h"

#define MS 1000000LL

TEST(previous_window_decides)
{
    struct gen_throttle t;
    double tps = -1;
    gen_throttle_init(&t, 4); /* 4 TPS: more than 2 requests in a window trips the next one */
    int64_t base = 1000 * GEN_THROTTLE_WINDOW_NS;
    for (int i = 0; i < 3; i++)
        CHECK(!gen_throttle_check(&t, base + i * MS, &tps));
    CHECK(tps == 0);
    /* Next window: the previous one had 3 requests = 6 TPS > 4. */
    CHECK(gen_throttle_check(&t, base + 500 * MS, &tps));
    CHECK(tps == 6);
    CHECK(gen_throttle_check(&t, base + 600 * MS, &tps)); /* refused ones count too */
    /* Window 3 follows a window with 2 requests = 4 TPS, not above the cutoff. */
    CHECK(!gen_throttle_check(&t, base + 1000 * MS, &tps));
    CHECK(tps == 4);
    /* After an idle window the rate is zero again. */
    CHECK(!gen_throttle_check(&t, base + 5000 * MS, &tps));
    CHECK(tps == 0);
    gen_throttle_cleanup(&t);
}
