"""ctest k8s.manifests: config/k8s parses, its objects fit together, and the balancer accepts
the configuration its pods run (`balancer -t` on the ConfigMap as the pod mounts it).

    python3 tests/k8s/test_manifests.py      (BALANCER_BIN defaults to build/bin/balancer)

No cluster is needed. `kubectl kustomize` (scripts/setup installs Debian's kubernetes-client;
KUBECTL names another binary) builds the kustomization too, and must give exactly the objects
kustomization.yaml lists; `kubectl apply --dry-run=client` is not run: it needs an API server
for discovery. A check that cannot run (no kubectl, no balancer binary) is reported to ctest as
a skip: exit 77 (SKIP_RETURN_CODE) when anything was skipped and nothing failed.
"""
import copy
import os
import re
import shutil
import subprocess
import sys
import tempfile
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import manifests as m  # noqa: E402  (first: it says what to install when PyYAML is missing)
import storefront_checks  # noqa: E402
import yaml  # noqa: E402

BALANCER_BIN = Path(os.environ.get("BALANCER_BIN") or m.REPO / "build" / "bin" / "balancer")
KUBECTL = os.environ.get("KUBECTL") or shutil.which("kubectl")
SKIP_RETURN_CODE = 77


def balancer_pod(docs):
    return m.find(docs, "Deployment", "balancer")


def env_of(container):
    return {e["name"]: e.get("value") for e in container.get("env") or []}


class Pod:
    """A pod's volumes made into folders of a temporary directory: ConfigMaps with their keys
    laid out as the kubelet does (each key a symlink into ..data/), Secrets with throwaway TLS
    files and a token, emptyDirs empty; a subPath mount is a copy of the file it names, in a
    folder standing for the one it is mounted into. `local(path)` maps a path inside a
    container to its copy here."""

    def __init__(self, docs, workload, root):
        self.mounts = {}          # mountPath -> local folder
        volumes = {v["name"]: v for v in m.pod_spec(workload).get("volumes") or []}
        for name, v in volumes.items():
            folder = root / name
            folder.mkdir(parents=True)
            if "configMap" in v:
                cm = m.find(docs, "ConfigMap", v["configMap"]["name"])
                (folder / "..2026_01_01_00_00_00.1").mkdir()
                (folder / "..data").symlink_to("..2026_01_01_00_00_00.1")
                for key, text in ((cm.body.get("data") or {}) if cm else {}).items():
                    (folder / "..data" / key).write_text(text or "")
                    (folder / key).symlink_to(f"..data/{key}")
            elif "secret" in v:
                self._tls_files(folder, root / "certs")
                (folder / "token").write_text("a-throwaway-admin-token\n")
                for item in v["secret"].get("items") or []:
                    (folder / item["path"]).write_text("a-throwaway-secret\n")
        for c in m.containers(workload, init=True):
            for mount in c.get("volumeMounts") or []:
                path = mount["mountPath"].rstrip("/")
                if not mount.get("subPath"):
                    self.mounts[path] = root / mount["name"]
                    continue
                # A bind mount of the file the subPath resolves to: a plain file.
                copy = root / "subpath" / path.lstrip("/")
                copy.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(root / mount["name"] / mount["subPath"], copy)
                self.mounts.setdefault(str(Path(path).parent), copy.parent)

    @staticmethod
    def _tls_files(folder, certs):
        """tls.crt and tls.key, made by scripts/dev-certs."""
        if not (certs / "shop.test.crt").exists():
            subprocess.run([str(m.REPO / "scripts" / "dev-certs"), str(certs), "shop.test"],
                           check=True, capture_output=True, timeout=30)
        shutil.copy(certs / "shop.test.crt", folder / "tls.crt")
        shutil.copy(certs / "shop.test.key", folder / "tls.key")

    def local(self, text):
        # A mount path as a whole path or a path's start (`root: /srv/storefront`, `.../x`).
        for path, folder in sorted(self.mounts.items(), key=lambda pf: -len(pf[0])):
            text = re.sub(re.escape(path) + r"(?=/|[^\w./-]|$)", lambda _: str(folder), text)
        return text


def in_manifest(text, rendered):
    """Points the balancer's "FILE:LINE:COLUMN: ..." messages about the rendered copy at
    config/k8s/balancer.yaml, where the ConfigMap holds the same lines (the path rewriting
    changes no line)."""
    manifest = m.K8S_DIR / "balancer.yaml"
    lines = manifest.read_text().split("\n")
    key = f"  {m.BALANCER_CONFIGMAP[1]}: |"
    if key not in lines:
        return text
    first = lines.index(key) + 1       # 0-based index of the block's first line
    indent = len(lines[first]) - len(lines[first].lstrip())

    def point(match):
        return (f"{manifest.relative_to(m.REPO)}:{first + int(match[1])}:"
                f"{indent + int(match[2])}")
    return re.sub(re.escape(str(rendered)) + r":(\d+):(\d+)", point, text)


def render_and_check(docs, root):
    """`balancer -t` on the configuration the balancer container's argv names, in its mounted
    ConfigMap, with the pod's paths pointed at local copies of its volumes. Returns (the
    configuration or None, combined output)."""
    pod = Pod(docs, balancer_pod(docs), root)
    balancer = next(c for c in m.containers(balancer_pod(docs)) if c["name"] == "balancer")
    argv = [pod.local(a) for a in balancer.get("args") or []]
    config_path = Path(argv[argv.index("-c") + 1])
    if not config_path.exists():
        return None, f"the balancer's -c {config_path} is in none of its mounted volumes"
    config_path.write_text(pod.local(config_path.read_text()))
    r = subprocess.run([str(BALANCER_BIN), "-t", *argv], capture_output=True, text=True,
                       timeout=10, stdin=subprocess.DEVNULL)
    out = in_manifest(r.stdout + r.stderr, config_path)
    return (yaml.safe_load(config_path.read_text()) if r.returncode == 0 else None), out


class Manifests(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.docs = m.load()
        cls.files = sorted(p.name for p in m.K8S_DIR.glob("*.yaml"))

    def assertNoProblems(self, problems):
        self.assertEqual(problems, [], "\n" + "\n".join(problems))

    def test_every_document_is_named_and_namespaced(self):
        self.assertTrue(m.resources(self.docs), "no manifests found")
        self.assertNoProblems(m.check_documents(self.docs))

    def test_kustomization_lists_every_file(self):
        self.assertNoProblems(m.check_kustomization(self.docs, self.files))

    def test_workload_selectors_match_their_pods(self):
        self.assertNoProblems(m.check_workload_selectors(self.docs))

    def test_services_select_pods_and_ports(self):
        self.assertNoProblems(m.check_services(self.docs))

    def test_services_have_probes_and_drain_time(self):
        self.assertNoProblems(m.check_service_probes(self.docs))

    def test_hpas(self):
        self.assertNoProblems(m.check_hpas(self.docs))
        self.assertNoProblems(m.check_adapter_rules(self.docs))

    def test_mounted_configmaps_and_secrets_exist(self):
        self.assertNoProblems(m.check_mounts(self.docs))

    def test_network_policies_select_real_pods_and_cover_every_one(self):
        self.assertNoProblems(m.check_network_policies(self.docs))

    def test_balancer_upstreams_name_headless_services(self):
        self.assertNoProblems(m.check_balancer_upstreams(self.docs))

    def test_balancer_serves_the_storefront(self):
        self.assertNoProblems(storefront_checks.check_storefront(self.docs))

    def test_service_configs_name_the_stores(self):
        self.assertNoProblems(m.check_service_configs(self.docs))

    def test_balancer_fetches_the_keys_from_user_service(self):
        # jwt.jwks_url, refetched on rotation: no init container copies the keys any more.
        jwt = m.balancer_config(self.docs)["jwt"]
        self.assertNotIn("jwks_file", jwt)
        url = jwt["jwks_url"]
        host, port = m.split_host_port(url.split("/")[2])
        user = m.service_of_host(self.docs, host)
        self.assertTrue(user is not None and port in m.service_ports(user), url)
        self.assertTrue(url.endswith("/.well-known/jwks.json"), url)

    def test_balancer_names_the_redis_service(self):
        # Looked up by the balancer before each connection: no init container rewrites it.
        self.assertEqual(m.pod_spec(balancer_pod(self.docs)).get("initContainers") or [], [])
        address = m.balancer_config(self.docs)["redis"]["address"]
        host, port = m.split_host_port(address)
        redis = m.service_of_host(self.docs, host)
        self.assertTrue(redis is not None and port in m.service_ports(redis), address)

    @unittest.skipUnless(BALANCER_BIN.exists(), f"no {BALANCER_BIN}")
    def test_balancer_accepts_its_configuration(self):
        with tempfile.TemporaryDirectory(prefix="k8s-manifests-") as tmp:
            config, out = render_and_check(self.docs, Path(tmp))
            self.assertIsNotNone(config, out)
            self.assertIn("configuration ok", out)
            self.assertStorefrontServed(config)

    def assertStorefrontServed(self, config):
        """Each static route's root holds the storefront's files as plain files (a symlink
        there is a 404), the same bytes as web/."""
        files = sorted(p.name for p in m.STOREFRONT[1].iterdir()
                       if p.is_file() and p.name != "kustomization.yaml")
        roots = [Path(r["static"]["root"]) for r in config["routes"] if r.get("static")]
        self.assertTrue(roots, "no static route")
        for root in roots:
            for name in files:
                served = root / name
                self.assertTrue(served.is_file() and not served.is_symlink(),
                                f"{served}: not a plain file")
                self.assertEqual(served.read_bytes(), (m.STOREFRONT[1] / name).read_bytes())

    @unittest.skipUnless(KUBECTL, "kubectl is not installed (scripts/setup installs "
                         "kubernetes-client)")
    def test_kubectl_kustomize_builds(self):
        # Debian 12's kubectl 1.20 (kustomize 2.0.3) builds these manifests as kubectl 1.32 does.
        r = subprocess.run([KUBECTL, "kustomize", str(m.K8S_DIR)], capture_output=True,
                           text=True, timeout=60, stdin=subprocess.DEVNULL,
                           env=dict(os.environ, KUBECONFIG=os.devnull))
        self.assertEqual(r.returncode, 0, f"{KUBECTL} kustomize: {r.stderr}")
        built = [d for d in yaml.safe_load_all(r.stdout) if d]

        def ident(kind, meta):
            return (kind, meta.get("namespace"), meta.get("name"))
        built_ids = sorted(ident(d.get("kind"), d.get("metadata") or {}) for d in built)
        listed_ids = sorted(ident(d.kind, d.meta) for d in m.resources(self.docs)
                            if d.file not in m.NOT_IN_KUSTOMIZATION)
        self.assertEqual(built_ids, listed_ids)


class BrokenManifestsAreCaught(unittest.TestCase):
    """The checks find the mistakes they are for: each test breaks a copy of the manifests."""

    @classmethod
    def setUpClass(cls):
        cls.docs = m.load()

    def broken(self, kind, name, change, namespace=m.NAMESPACE):
        docs = copy.deepcopy(self.docs)
        change(m.find(docs, kind, name, namespace).body)
        return docs

    def assertCaught(self, problems, *words):
        self.assertTrue(problems, "the broken manifest went unnoticed")
        text = "\n".join(problems)
        for w in words:
            self.assertIn(w, text)

    def test_wrong_selector(self):
        docs = self.broken("Deployment", "product", lambda b: b["spec"]["selector"]["matchLabels"]
                           .update({"app.kubernetes.io/name": "products"}))
        self.assertCaught(m.check_workload_selectors(docs), "Deployment/product")

    def test_service_selecting_nothing(self):
        docs = self.broken("Service", "product", lambda b: b["spec"]["selector"]
                           .update({"app.kubernetes.io/name": "products"}))
        self.assertCaught(m.check_services(docs), "Service/product")

    def test_wrong_target_port(self):
        docs = self.broken("Service", "order", lambda b: b["spec"]["ports"][0]
                           .update({"targetPort": 7202}))
        self.assertCaught(m.check_services(docs), "Service/order", "7202")

    def test_missing_probe(self):
        docs = self.broken("Deployment", "user", lambda b: b["spec"]["template"]["spec"]
                           ["containers"][0].pop("readinessProbe"))
        self.assertCaught(m.check_service_probes(docs), "Deployment/user", "readinessProbe")

    def test_probe_on_wrong_path(self):
        docs = self.broken("Deployment", "notification", lambda b: b["spec"]["template"]["spec"]
                           ["containers"][0]["livenessProbe"]["httpGet"].update(path="/ready"))
        self.assertCaught(m.check_service_probes(docs), "livenessProbe")

    def test_short_grace_period(self):
        docs = self.broken("Deployment", "order", lambda b: b["spec"]["template"]["spec"]
                           .update(terminationGracePeriodSeconds=20))
        self.assertCaught(m.check_service_probes(docs), "terminationGracePeriodSeconds")

    def test_hpa_on_missing_deployment(self):
        docs = self.broken("HorizontalPodAutoscaler", "product",
                           lambda b: b["spec"]["scaleTargetRef"].update(name="products"))
        self.assertCaught(m.check_hpas(docs), "HorizontalPodAutoscaler/product")

    def test_hpa_on_another_upstream(self):
        docs = self.broken("HorizontalPodAutoscaler", "order", lambda b: b["spec"]["metrics"][0]
                           ["external"]["metric"]["selector"]["matchLabels"].update(
                               upstream="products"))
        self.assertCaught(m.check_hpas(docs), "HorizontalPodAutoscaler/order")

    def test_hpa_min_above_max(self):
        docs = self.broken("HorizontalPodAutoscaler", "user",
                           lambda b: b["spec"].update(minReplicas=20))
        self.assertCaught(m.check_hpas(docs), "minReplicas")

    def test_missing_configmap(self):
        docs = self.broken("Deployment", "product", lambda b: b["spec"]["template"]["spec"]
                           ["volumes"][0]["configMap"].update(name="products-config"))
        self.assertCaught(m.check_mounts(docs), "products-config")

    def test_config_path_not_in_configmap(self):
        docs = self.broken("Deployment", "order", lambda b: b["spec"]["template"]["spec"]
                           ["containers"][0].update(args=["--config", "/etc/shop/config/x.yaml"]))
        self.assertCaught(m.check_mounts(docs), "/etc/shop/config/x.yaml")

    def test_missing_secret_item(self):
        docs = self.broken("Deployment", "product", lambda b: b["spec"]["template"]["spec"]
                           ["volumes"][-1]["secret"]["items"][0].update(key="nope"))
        self.assertCaught(m.check_mounts(docs), "nope")

    def test_network_policy_letting_in_no_one_or_a_pod_left_open(self):
        docs = self.broken("NetworkPolicy", "postgres", lambda b: b["spec"]["ingress"][0]["from"]
                           [0]["podSelector"]["matchExpressions"][0].update(values=["orders"]))
        self.assertCaught(m.check_network_policies(docs), "selects no pod")
        docs = self.broken("NetworkPolicy", "redis", lambda b: b["spec"]["podSelector"]
                           ["matchLabels"].update({"app.kubernetes.io/name": "rediss"}))
        self.assertCaught(m.check_network_policies(docs), "redis: no NetworkPolicy")

    def test_missing_secret_key(self):
        docs = self.broken("Deployment", "user", lambda b: b["spec"]["template"]["spec"]
                           ["containers"][0]["env"][0]["valueFrom"]["secretKeyRef"]
                           .update(key="passwd"))
        self.assertCaught(m.check_mounts(docs), "passwd")

    def test_upstream_on_unknown_host(self):
        def change(body):
            config = yaml.safe_load(body["data"]["balancer.yaml"])
            config["upstreams"]["orders"]["backends"][0]["address"] = \
                "orders.shop.svc.cluster.local:7201"
            body["data"]["balancer.yaml"] = yaml.safe_dump(config)
        docs = self.broken("ConfigMap", "balancer-config", change)
        self.assertCaught(m.check_balancer_upstreams(docs), "orders.shop.svc.cluster.local")

    def test_wrong_namespace(self):
        docs = self.broken("Service", "redis", lambda b: b["metadata"].update(namespace="default"))
        self.assertCaught(m.check_documents(docs), "Service/redis")

    def test_file_left_out_of_kustomization(self):
        docs = self.broken("Kustomization", None, lambda b: b["resources"].remove("redis.yaml"),
                           namespace=None)
        files = sorted(p.name for p in m.K8S_DIR.glob("*.yaml"))
        self.assertCaught(m.check_kustomization(docs, files), "redis.yaml")

    def test_storefront_not_served_or_served_from_symlinks(self):
        def route_root(root):
            def change(body):
                body["data"]["balancer.yaml"] = body["data"]["balancer.yaml"].replace(
                    "root: /srv/storefront", f"root: {root}")
            return change
        docs = self.broken("ConfigMap", "balancer-config", route_root("/srv/web"))
        self.assertCaught(storefront_checks.check_storefront(docs), "index.html of ConfigMap 'storefront' is "
                                                    "not mounted there")
        # The ConfigMap volume mounted whole where the route reads: symlinks.
        docs = self.broken("ConfigMap", "balancer-config", route_root("/etc/shop/storefront"))
        m.find(docs, "Deployment", "balancer").body["spec"]["template"]["spec"]["containers"][0][
            "volumeMounts"].append({"name": "storefront", "mountPath": "/etc/shop/storefront"})
        self.assertCaught(storefront_checks.check_storefront(docs), "symlinks")

        def no_route(body):
            config = yaml.safe_load(body["data"]["balancer.yaml"])
            config["routes"] = [r for r in config["routes"] if "static" not in r]
            body["data"]["balancer.yaml"] = yaml.safe_dump(config)
        docs = self.broken("ConfigMap", "balancer-config", no_route)
        self.assertCaught(storefront_checks.check_storefront(docs), "no route with static")

    def test_storefront_file_left_out_or_not_mounted(self):
        docs = self.broken("ConfigMap", "storefront", lambda b: b["data"].pop("shop.js"))
        self.assertCaught(storefront_checks.check_storefront(docs), "web/shop.js is not in it")

        def unmount(name):
            def change(body):
                mounts = body["spec"]["template"]["spec"]["containers"][0]["volumeMounts"]
                mounts[:] = [x for x in mounts if x.get("subPath") != name]
            return change
        docs = self.broken("Deployment", "balancer", unmount("shop.css"))
        self.assertCaught(storefront_checks.check_storefront(docs), "shop.css of ConfigMap 'storefront' is not "
                                                    "mounted")

    @unittest.skipUnless(BALANCER_BIN.exists(), f"no {BALANCER_BIN}")
    def test_balancer_refuses_a_broken_configuration(self):
        def change(body):
            body["data"]["balancer.yaml"] = body["data"]["balancer.yaml"].replace(
                "upstream: orders", "upstream: order")
        docs = self.broken("ConfigMap", "balancer-config", change)
        with tempfile.TemporaryDirectory(prefix="k8s-manifests-") as tmp:
            config, out = render_and_check(docs, Path(tmp))
            self.assertIsNone(config, "balancer -t accepted a route to an unknown upstream")
            self.assertIn("order", out)


if __name__ == "__main__":
    outcome = unittest.main(verbosity=2, exit=False).result
    if not outcome.wasSuccessful():
        sys.exit(1)
    if outcome.skipped:
        # A check that did not run is not a pass: ctest shows this test as skipped.
        for case, reason in outcome.skipped:
            print(f"SKIPPED {case.id()}: {reason}", file=sys.stderr)
        sys.exit(SKIP_RETURN_CODE)
