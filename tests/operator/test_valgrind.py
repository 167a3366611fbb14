"""One full scenario with the operator under valgrind (memcheck, --leak-check=full): the sample
Topology to Ready, deleted, then SIGTERM. Any invalid access, use of uninitialised memory or
leaked block fails the test. Registered for builds without sanitizers only."""

import os
import shutil
import stat
import tempfile
import unittest

# Everything runs 20 to 50 times slower under valgrind: scale the harness's waits before it
# reads the factor.
os.environ["HO11Y_TIME_SCALE"] = str(max(10.0, float(os.environ.get("HO11Y_TIME_SCALE") or 1)))

from harness import EXAMPLES, OperatorTest, binary, wait_until  # noqa: E402

ERROR_EXIT = 97


class ValgrindTest(OperatorTest):
    def test_sample_scenario_under_valgrind(self):
        valgrind = shutil.which("valgrind")
        self.assertIsNotNone(valgrind, "valgrind is not installed (scripts/setup.sh --test)")
        real = binary("HO11Y_OPERATOR")
        folder = tempfile.mkdtemp(prefix="ho11y-vg-", dir=self.tmp)
        vlog = os.path.join(folder, "valgrind.log")
        wrapper = os.path.join(folder, "ho11y-operator")
        with open(wrapper, "w") as f:
            f.write("#!/bin/sh\nexec %s --quiet --leak-check=full --show-leak-kinds=definite,"
                    "indirect,possible --errors-for-leak-kinds=definite,indirect,possible "
                    "--error-exitcode=%d --num-callers=40 --log-file=%s %s \"$@\"\n"
                    % (valgrind, ERROR_EXIT, vlog, real))
        os.chmod(wrapper, stat.S_IRWXU)
        os.environ["HO11Y_OPERATOR"] = wrapper
        try:
            op = self.start_operator("--workers", "2")
        finally:
            os.environ["HO11Y_OPERATOR"] = real
        with open(os.path.join(EXAMPLES, "xray-sample.yaml")) as f:
            sample = f.read()
        self.kubectl.apply(sample)
        self.wait_condition("example-app", "xray-sample", "Ready", "True", timeout=60)
        self.assertEqual(len(self.children("example-app")), 10)
        self.kubectl.run("delete", "topology", "xray-sample", "-n", "example-app")
        wait_until(lambda: not self.children("example-app"), 30, 0.5,
                   "the Topology's children to be collected")
        # Give the operator time to see the deletions before it stops.
        wait_until(lambda: op.metric("ho11y_operator_topologies") == 0, 30, 0.5,
                   "the operator to notice the deletion")
        rc = op.stop(timeout=60)
        with open(vlog, errors="replace") as f:
            report = f.read()
        self.assertEqual(rc, 0, "exit status %s; valgrind says:\n%s\noperator log:\n%s"
                         % (rc, report[-6000:], op.log()[-3000:]))
        self.assertIn("Shut down cleanly", op.log())
        self.assertNotIn("Invalid ", report)
        self.assertNotIn("uninitialised", report)
        self.assertNotIn("definitely lost", report)


if __name__ == "__main__":
    unittest.main()
