"""docs/eks-fargate.md works with this project's files: every `helm`, `kubectl` and `ho11yctl`
command of its shell blocks is run, in order and as written, against the API server stand-in with
RBAC enforced (the operator running as the chart's pod once `helm install` has run); commands
of other tools (aws, eksctl, buildah, docker, curl through a port-forward) are listed below with
the reason they cannot run here, and a command that is neither run nor listed fails the test.
The example files the guide uses are checked against each other and against the sample."""

import json
import os
import re
import subprocess
import unittest

import e2elib
from e2elib import REPO, find
from test_install import NS, RELEASE, OperatorOnCluster

DOC = os.path.join(REPO, "docs", "eks-fargate.md")
CLUSTER_CONFIG = os.path.join(REPO, "examples", "eks-fargate", "cluster-config.yaml")
EKS_SAMPLE = os.path.join(REPO, "examples", "eks-fargate", "xray-sample.yaml")
ENV = {"REGION": "eu-west-1", "ACCOUNT_ID": "111122223333"}
# Commands that need AWS or a real cluster, by their start: why they are not run here.
NOT_RUN = {
    "export ACCOUNT_ID=$(aws ": "asks AWS for the account id (ENV gives one)",
    "eksctl ": "creates or deletes a real EKS cluster",
    "aws ": "talks to AWS",
    "scripts/image.sh": "builds the image (tests/image/test_image.sh does, in CI)",
    "buildah ": "pushes to ECR (the image test runs buildah)",
    "docker ": "needs a Docker engine and ECR",
    "kubectl -n example-app port-forward ": "the stand-in serves no port-forward",
    "curl ": "reaches the frontend through the port-forward",
}


def doc_commands():
    """Every command line of the ```sh blocks, in order."""
    with open(DOC) as f:
        text = f.read()
    out = []
    for block in re.findall(r"(?ms)^```sh\n(.*?)^```", text):
        for line in block.split("\n"):
            line = line.strip()
            if line and not line.startswith("#"):
                out.append(line)
    return out


def tool_of(cmd):
    """The program a command line runs (the last one of a pipeline decides)."""
    first = cmd.split("|")[0].strip()
    for prefix in NOT_RUN:
        if first.startswith(prefix) or cmd.startswith(prefix):
            return None
    last = cmd.split("|")[-1].strip()
    return last.split()[0]


class EksFargateDocTest(OperatorOnCluster):
    def sh(self, cmd, timeout=120):
        env = self.cluster.env()
        env.update(self.vars)
        env["PATH"] = os.pathsep.join([os.path.dirname(e2elib.tool("kubectl")),
                                       os.path.dirname(e2elib.bin_path("ho11yctl")),
                                       env.get("PATH", "")])
        return subprocess.run(["bash", "-c", "set -eo pipefail; " + cmd], cwd=REPO, env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              timeout=timeout)

    def test_every_command(self):
        c = self.cluster
        cmds = doc_commands()
        self.assertGreater(len(cmds), 20)
        self.vars = dict(ENV)
        ran = []
        outputs = {}
        for cmd in cmds:
            m = re.match(r"^export (\w+)=(.*)$", cmd)
            if m and "$(" not in m.group(2):
                r = self.sh('%s; printf %%s "$%s"' % (cmd, m.group(1)))
                self.assertEqual(r.returncode, 0, r.stderr)
                self.vars[m.group(1)] = r.stdout
                continue
            prog = tool_of(cmd)
            if prog is None:
                continue
            self.assertIn(prog, ("helm", "kubectl", "ho11yctl"),
                          "a command neither run nor listed in NOT_RUN: " + cmd)
            if cmd.endswith(" -w"):
                # Watches run until Ctrl-C: a few seconds of output.
                try:
                    r = self.sh(cmd, timeout=4)
                    self.fail("the watch ended by itself: %s%s" % (r.stdout, r.stderr))
                except subprocess.TimeoutExpired as e:
                    out = e.stdout.decode() if isinstance(e.stdout, bytes) else (e.stdout or "")
                outputs[cmd] = out
                ran.append(cmd)
                continue
            r = self.sh(cmd)
            self.assertEqual(r.returncode, 0, "%s\n%s%s" % (cmd, r.stdout, r.stderr))
            outputs[cmd] = r.stdout
            ran.append(cmd)
            if cmd.startswith("helm install "):
                # The kubelet's part: run the operator pod the chart describes.
                dep = find(self.manifest(), "Deployment", RELEASE)
                self.assertEqual(e2elib.container_of(dep)["image"],
                                 "111122223333.dkr.ecr.eu-west-1.amazonaws.com/"
                                 "ho11y-operator:" + e2elib.project_version())
                self.start_pods(dep)
            if "patch topology" in cmd:
                # The load driver appears, aimed at the frontend at the given rate.
                c.wait_for(lambda: c.kubectl("get", "deployment", "xray-sample-load", "-n",
                                             "example-app", check=False).returncode == 0, 30,
                           "the Deployment xray-sample-load")
                d = c.kubectl_json("get", "deployment", "xray-sample-load", "-n",
                                   "example-app")
                env = {e["name"]: e.get("value") for e in
                       d["spec"]["template"]["spec"]["containers"][0]["env"]}
                self.assertEqual((env["HO11Y_LOAD_TARGET"], env["HO11Y_LOAD_RATE"]),
                                 ("http://frontend/", "1"))
            if cmd.startswith("helm uninstall "):
                self.stop_pods(self.pods)
                self.pods = []
        tools = {cmd.split("|")[-1].split()[0] for cmd in ran}
        self.assertEqual(tools, {"helm", "kubectl", "ho11yctl"})

        def out(pattern):
            hits = [v for k, v in outputs.items() if re.search(pattern, k)]
            self.assertEqual(len(hits), 1, pattern)
            return hits[0]

        self.assertIn("is valid", out(r"\| ho11yctl validate -$"))
        self.assertIn("topology.ho11y.dev/xray-sample created", out(r"\| kubectl apply"))
        self.assertRegex(out(r"get pods -w$"), r"(?m)^frontend-\S+\s+1/1\s+Running")
        self.assertRegex(out(r"get topology xray-sample$"), r"xray-sample\s+3/3\s+Ready")
        self.assertEqual(out(r"role-arn"),
                         "arn:aws:iam::111122223333:role/ho11y-xray-sample-collector")
        listed = out(r"get deployments,services,configmaps,serviceaccounts")
        for name in ("deployment.apps/frontend", "service/downstream1",
                     "configmap/xray-sample-collector", "serviceaccount/xray-sample-collector"):
            self.assertIn(name.split("/")[1], listed)
        dash = json.loads(out(r"get configmap ho11y-operator-dashboard"))
        self.assertEqual({p.get("datasource") for p in dash["panels"] if p["type"] != "row"},
                         {"AWS X-Ray eu-west-1"})
        self.assertIn("topology.ho11y.dev/xray-sample patched", out(r"patch topology"))
        # Clean-up left nothing behind.
        self.assertNotEqual(c.kubectl("get", "crd", "topologies.ho11y.dev",
                                      check=False).returncode, 0)
        self.assertNotEqual(c.kubectl("get", "namespace", "example-app",
                                      check=False).returncode, 0)


    def test_notes_commands(self):
        """What `helm install` prints to do next works, command by command."""
        c = self.cluster
        self.vars = {}
        r = c.helm("install", RELEASE, e2elib.CHART, "-n", NS, "--create-namespace", "--wait")
        notes = r.stdout.split("NOTES:", 1)[1].split("\n")
        self.start_pods(find(self.manifest(), "Deployment", RELEASE))
        not_run = ("kubectl -n example-app port-forward ", "curl ", "kubectl -n %s logs " % NS,
                   "kubectl -n %s port-forward " % NS)
        ran = []
        i = 0
        while i < len(notes):
            line = notes[i].strip()
            i += 1
            if line.startswith(not_run) or not line.startswith("kubectl "):
                continue
            cmd = line
            if line.endswith("<<'YAML'"):
                body = []
                while notes[i].strip() != "YAML":
                    body.append(notes[i][5:])
                    i += 1
                i += 1
                cmd += "\n" + "\n".join(body) + "\nYAML"
            if cmd.startswith("kubectl delete crd "):
                # The uninstall hint comes last: first, the notes' own Topology became Ready.
                self.wait_ready("demo", "demo")
            if cmd.endswith(" -w"):
                with self.assertRaises(subprocess.TimeoutExpired):
                    self.sh(cmd, timeout=4)
            else:
                r = self.sh(cmd)
                self.assertEqual(r.returncode, 0, "%s\n%s%s" % (cmd, r.stdout, r.stderr))
            ran.append(cmd.split("\n")[0])
        self.assertIn("kubectl apply -f examples/xray-sample.yaml", ran)
        self.assertIn("kubectl -n demo apply -f - <<'YAML'", ran)
        self.assertEqual(ran[-1], "kubectl delete crd topologies.ho11y.dev")
        self.assertGreaterEqual(len(ran), 8, ran)
        self.assertNotEqual(c.kubectl("get", "topologies", "-A", check=False).returncode, 0)
        c.helm("uninstall", RELEASE, "-n", NS, "--wait")
        self.stop_pods(self.pods)
        self.pods = []


class ExampleFilesTest(unittest.TestCase):
    def test_eks_sample_is_the_sample_with_region_and_role(self):
        def strip(path):
            with open(path) as f:
                lines = [ln for ln in f.read().split("\n") if not ln.lstrip().startswith("#")]
            return [ln for ln in lines if not re.match(r"^    (region|roleArn): ", ln)]
        self.assertEqual(strip(EKS_SAMPLE), strip(os.path.join(REPO, "examples",
                                                               "xray-sample.yaml")))

    def test_cluster_config_matches_the_sample(self):
        with open(CLUSTER_CONFIG) as f:
            cfg = f.read()
        with open(EKS_SAMPLE) as f:
            sample = f.read()
        topo = re.search(r"(?ms)^kind: Topology\n.*?^  name: (\S+)\n  namespace: (\S+)",
                         sample)
        name, ns = topo.group(1), topo.group(2)
        # IRSA: the role is for the ServiceAccount the operator creates for the collector.
        sa = re.search(r"(?ms)serviceAccounts:\n\s+- metadata:\n\s+name: (\S+)\n\s+namespace: "
                       r"(\S+)\n\s+roleName: (\S+)\n\s+roleOnly: true", cfg)
        self.assertIsNotNone(sa, "iam.serviceAccounts with roleName and roleOnly")
        self.assertEqual((sa.group(1), sa.group(2)), (name + "-collector", ns))
        arn = re.search(r"(?m)^    roleArn: (\S+)$", sample).group(1)
        self.assertEqual(arn, "arn:aws:iam::111122223333:role/" + sa.group(3))
        region = re.search(r"(?m)^  region: (\S+)$", cfg).group(1)
        self.assertEqual(re.search(r"(?m)^    region: (\S+)$", sample).group(1), region)
        for action in ("xray:PutTraceSegments", "xray:PutTelemetryRecords"):
            self.assertIn('"%s"' % action, cfg)
        # Fargate runs only the pods its profiles select: CoreDNS, the operator, the sample.
        selected = set(re.findall(r"(?m)^\s+- namespace: (\S+)$", cfg))
        self.assertEqual(selected, {"kube-system", NS, ns})
        self.assertRegex(cfg, r'(?m)^  version: "1\.(2[5-9]|[3-9]\d)"$')


if __name__ == "__main__":
    unittest.main()
