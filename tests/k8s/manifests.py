"""The Kubernetes manifests of config/k8s, read into documents, and the checks run on them.

Each check takes the documents and returns a list of problems (empty when all is well), each
naming the file and the object: "product.yaml: Deployment/product: ...". test_manifests.py
asserts that the real manifests have none, and that broken copies do.
"""
import re
from pathlib import Path

try:
    import yaml
except ImportError:
    raise SystemExit("tests/k8s needs PyYAML: apt-get install python3-yaml (scripts/setup)")

REPO = Path(__file__).resolve().parents[2]
K8S_DIR = REPO / "config" / "k8s"
NAMESPACE = "shop"
DOMAIN = f"{NAMESPACE}.svc.cluster.local"

# Files kept out of kustomization.yaml on purpose (kustomization.yaml says why).
NOT_IN_KUSTOMIZATION = {"secrets.example.yaml", "prometheus-adapter.yaml"}
# prometheus-adapter reads its rules from a ConfigMap in its own namespace.
ADAPTER_RULES = ("shop-adapter-rules", "config.yaml", "monitoring")
OTHER_NAMESPACES = {("prometheus-adapter.yaml", "ConfigMap", ADAPTER_RULES[0]): ADAPTER_RULES[2]}
SECRETS_FILE = "secrets.example.yaml"
CLUSTER_SCOPED = {"Namespace", "ClusterRole", "ClusterRoleBinding", "APIService",
                  "PersistentVolume", "StorageClass", "PriorityClass"}
WORKLOAD_KINDS = {"Deployment", "StatefulSet"}

# The shop's services: Deployment (and headless Service) name -> port, as in scripts/stack.
SERVICE_PORTS = {"user": 7001, "product": 7101, "order": 7201, "notification": 7301}
BALANCER_CONFIGMAP = ("balancer-config", "balancer.yaml")
# The storefront the balancer serves: the ConfigMap web/kustomization.yaml generates from web/.
STOREFRONT = ("storefront", REPO / "web")
# The HPA's behaviour copied by scripts/autoscaler: the Kubernetes defaults.
SCALE_UP_POLICIES = [{"type": "Percent", "value": 100, "periodSeconds": 15},
                     {"type": "Pods", "value": 4, "periodSeconds": 15}]
SCALE_DOWN_WINDOW = 300
HPA_METRIC = "balancer_upstream_in_flight"


class Doc:
    """One YAML document of a manifest file."""

    def __init__(self, file, body):
        self.file = file
        self.body = body

    @property
    def kind(self):
        return self.body.get("kind")

    @property
    def meta(self):
        return self.body.get("metadata") or {}

    @property
    def name(self):
        return self.meta.get("name")

    @property
    def namespace(self):
        return self.meta.get("namespace")

    def where(self):
        return f"{self.file}: {self.kind}/{self.name}"

    def __repr__(self):
        return self.where()


def load(directory=K8S_DIR):
    """Every document of every *.yaml file in `directory`, in file order, then the ConfigMaps
    its kustomization's bases generate (see `generated`). Raises ValueError naming
    FILE:LINE:COLUMN when a file does not parse, or a document is not a mapping."""
    docs = _load_files(directory)
    return docs + generated(docs, directory)


def _load_files(directory):
    docs = []
    for path in sorted(Path(directory).glob("*.yaml")):
        try:
            bodies = list(yaml.safe_load_all(path.read_text()))
        except yaml.YAMLError as e:
            mark = getattr(e, "problem_mark", None)
            where = path.relative_to(REPO) if path.is_relative_to(REPO) else path
            at = f"{where}:{mark.line + 1}:{mark.column + 1}" if mark else str(where)
            raise ValueError(f"{at}: {getattr(e, 'problem', None) or e}") from None
        for i, body in enumerate(bodies):
            if body is None:
                continue
            if not isinstance(body, dict):
                raise ValueError(f"{path.name}: document {i + 1} is not a mapping")
            docs.append(Doc(path.name, body))
    return docs


def kustomization(docs):
    return next((d for d in docs if d.kind == "Kustomization"), None)


def generated(docs, directory=K8S_DIR):
    """The ConfigMaps that the kustomizations named under `bases` make with
    configMapGenerator (files only), as documents: data holds each file's text. Such a
    document's file is its kustomization, relative to the repository."""
    kust = kustomization(docs)
    out = []
    for base in (kust.body.get("bases") or []) if kust else []:
        folder = (Path(directory) / base).resolve()
        for d in _load_files(folder):
            if d.kind != "Kustomization":
                continue
            options = d.body.get("generatorOptions") or {}
            for gen in d.body.get("configMapGenerator") or []:
                data = {}
                for entry in gen.get("files") or []:
                    key, _, path = str(entry).rpartition("=")
                    path_in = folder / path
                    data[key or Path(path).name] = path_in.read_text() if path_in.is_file() \
                        else None
                meta = {"name": gen.get("name"), "namespace": d.body.get("namespace"),
                        "labels": options.get("labels") or {}}
                body = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta, "data": data}
                where = folder / d.file
                out.append(Doc(str(where.relative_to(REPO)) if where.is_relative_to(REPO)
                               else str(where), body))
    return out


def resources(docs):
    """The Kubernetes objects: every document but kustomization.yaml."""
    return [d for d in docs if d.kind != "Kustomization"]


def find(docs, kind, name, namespace=NAMESPACE):
    for d in docs:
        if d.kind == kind and d.name == name and d.namespace == namespace:
            return d
    return None


def pod_spec(workload):
    return ((workload.body.get("spec") or {}).get("template") or {}).get("spec") or {}


def pod_labels(workload):
    template = (workload.body.get("spec") or {}).get("template") or {}
    return (template.get("metadata") or {}).get("labels") or {}


def containers(workload, init=False):
    spec = pod_spec(workload)
    return (spec.get("initContainers") or []) + (spec.get("containers") or []) if init \
        else spec.get("containers") or []


def workloads(docs):
    return [d for d in docs if d.kind in WORKLOAD_KINDS]


def selects(selector, labels):
    return bool(selector) and all(labels.get(k) == v for k, v in selector.items())


def container_port(container, port):
    """The number of `port` (a number or a port name) in the container, or None."""
    for p in container.get("ports") or []:
        if port == p.get("containerPort") or port == p.get("name"):
            return p.get("containerPort")
    return None


def configmap_has(docs, name, key, namespace=NAMESPACE):
    cm = find(docs, "ConfigMap", name, namespace)
    return cm is not None and key in (cm.body.get("data") or {})


def configmap_file(docs, name, key, namespace=NAMESPACE):
    """The YAML held under `key` of ConfigMap `name`, parsed; None when there is none."""
    cm = find(docs, "ConfigMap", name, namespace)
    if cm is None or key not in (cm.body.get("data") or {}):
        return None
    return yaml.safe_load(cm.body["data"][key])


def balancer_config(docs):
    return configmap_file(docs, *BALANCER_CONFIGMAP)


def split_host_port(address):
    host, _, port = str(address).rpartition(":")
    return host, int(port) if port.isdigit() else None


def service_of_host(docs, host):
    """The Service a cluster DNS name (name.shop.svc.cluster.local) names, or None."""
    suffix = "." + DOMAIN
    if not host.endswith(suffix) or "." in host[: -len(suffix)]:
        return None
    return find(docs, "Service", host[: -len(suffix)])


def service_ports(service):
    return [p.get("port") for p in (service.body.get("spec") or {}).get("ports") or []]


def is_headless(service):
    return (service.body.get("spec") or {}).get("clusterIP") == "None"


def parse_seconds(text):
    """A service or balancer duration ("10s", "500ms", "1m") in seconds."""
    m = re.fullmatch(r"(\d+)(ms|s|m|h)", str(text))
    if not m:
        raise ValueError(f"not a duration: {text!r}")
    return int(m[1]) * {"ms": 0.001, "s": 1, "m": 60, "h": 3600}[m[2]]


# --- checks -----------------------------------------------------------------------------------


def check_documents(docs):
    """apiVersion, kind and metadata.name everywhere; namespace shop where namespaced."""
    problems = []
    for d in resources(docs):
        for field in ("apiVersion", "kind"):
            if not d.body.get(field):
                problems.append(f"{d.where()}: no {field}")
        if not d.name:
            problems.append(f"{d.where()}: no metadata.name")
        if d.kind in CLUSTER_SCOPED:
            if d.namespace is not None:
                problems.append(f"{d.where()}: cluster-scoped, yet has a namespace")
            continue
        expected = OTHER_NAMESPACES.get((d.file, d.kind, d.name), NAMESPACE)
        if d.namespace != expected:
            problems.append(f"{d.where()}: namespace {d.namespace!r}, expected {expected!r}")
    return problems


def check_kustomization(docs, files):
    """kustomization.yaml lists every manifest file but NOT_IN_KUSTOMIZATION, each once."""
    kust = [d for d in docs if d.kind == "Kustomization"]
    if len(kust) != 1:
        return [f"expected one Kustomization, found {len(kust)}"]
    listed = kust[0].body.get("resources") or []
    problems = [f"kustomization.yaml: {f} listed twice" for f in set(listed)
                if listed.count(f) > 1]
    manifests = set(files) - {"kustomization.yaml"}
    for f in sorted(manifests - set(listed) - NOT_IN_KUSTOMIZATION):
        problems.append(f"kustomization.yaml: {f} is not listed in resources")
    for f in sorted(set(listed) - manifests):
        problems.append(f"kustomization.yaml: lists {f}, which does not exist")
    for f in sorted(NOT_IN_KUSTOMIZATION & set(listed)):
        problems.append(f"kustomization.yaml: lists {f}, which must be applied on its own")
    for base in kust[0].body.get("bases") or []:
        if not (K8S_DIR / base / "kustomization.yaml").is_file():
            problems.append(f"kustomization.yaml: base {base} has no kustomization.yaml")
    return problems


def check_workload_selectors(docs):
    """Each Deployment's and StatefulSet's selector matches its own pod labels; a
    StatefulSet's serviceName is a headless Service."""
    problems = []
    for w in workloads(docs):
        selector = ((w.body.get("spec") or {}).get("selector") or {}).get("matchLabels")
        if not selects(selector, pod_labels(w)):
            problems.append(f"{w.where()}: selector {selector} does not match the pod labels "
                            f"{pod_labels(w)}")
        if w.kind == "StatefulSet":
            name = (w.body.get("spec") or {}).get("serviceName")
            service = find(docs, "Service", name, w.namespace)
            if service is None or not is_headless(service):
                problems.append(f"{w.where()}: serviceName {name!r} is no headless Service")
    return problems


def check_services(docs):
    """Each Service selects the pods of a workload, and each targetPort is a port of theirs."""
    problems = []
    for s in (d for d in docs if d.kind == "Service"):
        spec = s.body.get("spec") or {}
        selector = spec.get("selector")
        matched = [w for w in workloads(docs)
                   if w.namespace == s.namespace and selects(selector, pod_labels(w))]
        if not matched:
            problems.append(f"{s.where()}: selector {selector} matches no workload's pods")
            continue
        for port in spec.get("ports") or []:
            target = port.get("targetPort", port.get("port"))
            for w in matched:
                if not any(container_port(c, target) for c in containers(w)):
                    problems.append(f"{s.where()}: targetPort {target!r} is no container port "
                                    f"of {w.kind}/{w.name}")
    return problems


def prestop_sleep(container):
    command = ((((container.get("lifecycle") or {}).get("preStop") or {}).get("exec") or {})
               .get("command") or [])
    return int(command[1]) if len(command) == 2 and command[0] == "sleep" else 0


def check_service_probes(docs):
    """Each service's Deployment: readiness GET /ready and liveness GET /health on the
    service's port; a grace period longer than the preStop pause plus shutdown_timeout."""
    problems = []
    for name, port in SERVICE_PORTS.items():
        d = find(docs, "Deployment", name)
        if d is None:
            problems.append(f"no Deployment {name}")
            continue
        main = containers(d)[:1]
        if not main or container_port(main[0], port) != port:
            problems.append(f"{d.where()}: its container does not expose {port}")
            continue
        c = main[0]
        for probe, path in (("readinessProbe", "/ready"), ("livenessProbe", "/health")):
            get = (c.get(probe) or {}).get("httpGet") or {}
            if get.get("path") != path or container_port(c, get.get("port")) != port:
                problems.append(f"{d.where()}: {probe} must GET {path} on port {port}, "
                                f"has {get or 'none'}")
        config = configmap_file(docs, f"{name}-config", f"{name}.yaml") or {}
        drain = parse_seconds(config.get("shutdown_timeout", "10s"))
        grace = pod_spec(d).get("terminationGracePeriodSeconds", 30)
        if grace <= prestop_sleep(c) + drain:
            problems.append(f"{d.where()}: terminationGracePeriodSeconds {grace} is not above "
                            f"the preStop pause ({prestop_sleep(c)} s) + shutdown_timeout "
                            f"({drain:g} s)")
    return problems


def upstream_of_service(docs, service_name):
    """The balancer upstream whose backends name that Service, or None."""
    for upstream, u in ((balancer_config(docs) or {}).get("upstreams") or {}).items():
        for b in u.get("backends") or []:
            s = service_of_host(docs, split_host_port(b.get("address"))[0])
            if s is not None and s.name == service_name:
                return upstream
    return None


def check_hpas(docs):
    """Each service has an HPA on its Deployment, on the balancer's in-flight requests of the
    upstream that reaches it, AverageValue, with the HPA behaviour scripts/autoscaler copies;
    the Deployment leaves `replicas` to it."""
    problems = []
    hpas = [d for d in docs if d.kind == "HorizontalPodAutoscaler"]
    targeted = set()
    for h in hpas:
        spec = h.body.get("spec") or {}
        ref = spec.get("scaleTargetRef") or {}
        target = find(docs, ref.get("kind"), ref.get("name"), h.namespace)
        if ref.get("kind") != "Deployment" or ref.get("apiVersion") != "apps/v1" or not target:
            problems.append(f"{h.where()}: scaleTargetRef {ref} names no Deployment here")
            continue
        targeted.add(target.name)
        low, high = spec.get("minReplicas", 1), spec.get("maxReplicas")
        if not isinstance(high, int) or not 1 <= low <= high:
            problems.append(f"{h.where()}: needs 1 <= minReplicas ({low}) <= maxReplicas ({high})")
        if "replicas" in (target.body.get("spec") or {}):
            problems.append(f"{target.where()}: sets replicas, which its HPA owns")
        services = [s for s in docs if s.kind == "Service" and s.namespace == target.namespace
                    and selects((s.body.get("spec") or {}).get("selector"), pod_labels(target))]
        upstreams = {upstream_of_service(docs, s.name) for s in services} - {None}
        metrics = spec.get("metrics") or []
        external = [m.get("external") or {} for m in metrics if m.get("type") == "External"]
        if len(metrics) != 1 or len(external) != 1:
            problems.append(f"{h.where()}: expected one External metric")
            continue
        metric = external[0].get("metric") or {}
        chosen = ((metric.get("selector") or {}).get("matchLabels") or {}).get("upstream")
        if metric.get("name") != HPA_METRIC or chosen not in upstreams:
            problems.append(f"{h.where()}: metric {metric} is not {HPA_METRIC} of the upstream "
                            f"reaching {target.name} ({sorted(upstreams) or 'none'})")
        goal = external[0].get("target") or {}
        if goal.get("type") != "AverageValue" or not goal.get("averageValue"):
            problems.append(f"{h.where()}: target must be an AverageValue (per replica)")
        behavior = spec.get("behavior") or {}
        up, down = behavior.get("scaleUp") or {}, behavior.get("scaleDown") or {}
        if down.get("stabilizationWindowSeconds") != SCALE_DOWN_WINDOW:
            problems.append(f"{h.where()}: scaleDown stabilization must be {SCALE_DOWN_WINDOW} s")
        if up.get("selectPolicy") != "Max" or up.get("policies") != SCALE_UP_POLICIES \
                or up.get("stabilizationWindowSeconds", 0) != 0:
            problems.append(f"{h.where()}: scaleUp must be 100% or 4 pods per 15 s, "
                            f"selectPolicy Max, no stabilization")
    for name in sorted(set(SERVICE_PORTS) - targeted):
        problems.append(f"no HorizontalPodAutoscaler for Deployment {name}")
    return problems


def _strings(value):
    """Every string inside a container's args, command and env values."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, list):
        for v in value:
            yield from _strings(v)
    elif isinstance(value, dict):
        for v in value.values():
            yield from _strings(v)


def check_mounts(docs):
    """ConfigMaps and Secrets that workloads mount or read exist (Secrets in
    secrets.example.yaml, with the keys read); a path a container names inside a mounted
    ConfigMap is one of its keys; every container mount names a volume of the pod."""
    problems = []
    secrets = [d for d in docs if d.file == SECRETS_FILE]
    for w in workloads(docs):
        volumes = {v.get("name"): v for v in pod_spec(w).get("volumes") or []}
        claims = {(t.get("metadata") or {}).get("name")
                  for t in (w.body.get("spec") or {}).get("volumeClaimTemplates") or []}
        for v in volumes.values():
            if "configMap" in v and not find(docs, "ConfigMap", v["configMap"].get("name"),
                                             w.namespace):
                problems.append(f"{w.where()}: volume {v['name']}: no ConfigMap "
                                f"{v['configMap'].get('name')!r}")
            secret = find(secrets, "Secret", (v.get("secret") or {}).get("secretName"),
                          w.namespace) if "secret" in v else None
            if "secret" in v and not secret:
                problems.append(f"{w.where()}: volume {v['name']}: no Secret "
                                f"{v['secret'].get('secretName')!r} in {SECRETS_FILE}")
            data = (secret.body.get("stringData") or secret.body.get("data") or {}) \
                if secret else {}
            for item in (v.get("secret") or {}).get("items") or [] if secret else []:
                if item.get("key") not in data:
                    problems.append(f"{w.where()}: volume {v['name']}: no key "
                                    f"{item.get('key')!r} in Secret "
                                    f"{v['secret'].get('secretName')!r} of {SECRETS_FILE}")
        for c in containers(w, init=True):
            for env in c.get("env") or []:
                ref = (env.get("valueFrom") or {}).get("secretKeyRef")
                if not ref:
                    continue
                secret = find(secrets, "Secret", ref.get("name"), w.namespace)
                data = (secret.body.get("stringData") or secret.body.get("data") or {}) \
                    if secret else {}
                if ref.get("key") not in data:
                    problems.append(f"{w.where()}: env {env.get('name')}: no key "
                                    f"{ref.get('key')!r} in Secret {ref.get('name')!r} "
                                    f"of {SECRETS_FILE}")
            mounts = c.get("volumeMounts") or []
            for mount in mounts:
                if mount.get("name") not in volumes and mount.get("name") not in claims:
                    problems.append(f"{w.where()}: container {c.get('name')} mounts "
                                    f"{mount.get('name')!r}, which is no volume of the pod")
            for text in _strings([c.get("command"), c.get("args"), c.get("env")]):
                for mount in mounts:
                    cm = (volumes.get(mount.get("name")) or {}).get("configMap")
                    prefix = mount.get("mountPath", "").rstrip("/") + "/"
                    if cm and text.startswith(prefix) and not configmap_has(
                            docs, cm.get("name"), text[len(prefix):], w.namespace):
                        problems.append(f"{w.where()}: container {c.get('name')} names {text}, "
                                        f"no key of ConfigMap {cm.get('name')!r}")
    return problems


def check_balancer_upstreams(docs):
    """Each upstream backend is name.shop.svc.cluster.local:PORT of a headless Service with
    that port; every service is reached by one."""
    config = balancer_config(docs)
    if config is None:
        return [f"no ConfigMap {BALANCER_CONFIGMAP[0]} with {BALANCER_CONFIGMAP[1]}"]
    problems = []
    reached = set()
    for upstream, u in (config.get("upstreams") or {}).items():
        for b in u.get("backends") or []:
            host, port = split_host_port(b.get("address"))
            service = service_of_host(docs, host)
            if service is None or not is_headless(service) or port not in service_ports(service):
                problems.append(f"balancer.yaml: upstream {upstream}: {b.get('address')} is no "
                                f"<headless Service>.{DOMAIN}:<its port>")
                continue
            reached.add(service.name)
    for name in sorted(set(SERVICE_PORTS) - reached):
        problems.append(f"balancer.yaml: no upstream reaches the Service {name}")
    return problems


def check_service_configs(docs):
    """Each service's ConfigMap YAML: listens on its container port; its database and Redis
    are the Services of postgres.yaml and redis.yaml."""
    problems = []
    for name, port in SERVICE_PORTS.items():
        where = f"{name}.yaml: ConfigMap/{name}-config"
        config = configmap_file(docs, f"{name}-config", f"{name}.yaml")
        if not isinstance(config, dict):
            problems.append(f"{where}: no {name}.yaml settings")
            continue
        if split_host_port(config.get("listen"))[1] != port:
            problems.append(f"{where}: listen {config.get('listen')!r} is not port {port}")
        url = (config.get("database") or {}).get("url")
        if url:
            m = re.fullmatch(r"postgresql://\w+@([^:/]+):(\d+)/\w+", url)
            host = m[1] if m else ""
            # A StatefulSet pod's own name: pod.service.shop.svc.cluster.local
            pod, _, service_host = host.partition(".")
            service = service_of_host(docs, service_host)
            sts = find(docs, "StatefulSet", pod.rpartition("-")[0])
            if not m or service is None or int(m[2]) not in service_ports(service) or not sts \
                    or (sts.body.get("spec") or {}).get("serviceName") != service.name:
                problems.append(f"{where}: database.url {url} is no StatefulSet pod of "
                                f"postgres.yaml")
        redis = (config.get("redis") or {}).get("address")
        if redis:
            host, rport = split_host_port(redis)
            service = service_of_host(docs, host)
            if service is None or rport not in service_ports(service):
                problems.append(f"{where}: redis.address {redis} is no Service of redis.yaml")
    return problems


def label_selects(selector, labels):
    """A LabelSelector (matchLabels and matchExpressions) against a pod's labels."""
    if not selector:
        return False
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != value:
            return False
    for e in selector.get("matchExpressions") or []:
        op, key, values = e.get("operator"), e.get("key"), e.get("values") or []
        if (op == "In" and labels.get(key) not in values) or \
                (op == "NotIn" and labels.get(key) in values) or \
                (op == "Exists" and key not in labels) or \
                (op == "DoesNotExist" and key in labels):
            return False
    return True


def check_network_policies(docs):
    """Every NetworkPolicy selects pods that exist, and each pod it lets in too; every port it
    opens is one its pods listen on; and every pod that serves on the pod network (a workload
    of the shop) is covered by a policy, so nothing is open to the whole cluster by accident."""
    problems = []
    pods = {w.name: (pod_labels(w), containers(w)) for w in workloads(docs)}
    covered = set()
    for p in (d for d in docs if d.kind == "NetworkPolicy"):
        spec = p.body.get("spec") or {}
        selected = [n for n, (labels, _) in pods.items()
                    if label_selects(spec.get("podSelector"), labels)]
        covered.update(selected)
        if not selected:
            problems.append(f"{p.where()}: podSelector selects no pod")
        for rule in spec.get("ingress") or []:
            for peer in rule.get("from") or []:
                if "podSelector" in peer and "namespaceSelector" not in peer and not any(
                        label_selects(peer["podSelector"], labels)
                        for labels, _ in pods.values()):
                    problems.append(f"{p.where()}: from podSelector {peer['podSelector']} "
                                    f"selects no pod")
            for port in rule.get("ports") or []:
                for name in selected:
                    if not any(container_port(c, port.get("port")) for c in pods[name][1]):
                        problems.append(f"{p.where()}: port {port.get('port')} is no port of "
                                        f"{name}'s containers")
    for name in sorted(set(pods) - covered):
        problems.append(f"{name}: no NetworkPolicy selects its pods (open to every pod)")
    return problems


def check_adapter_rules(docs):
    """prometheus-adapter's rules export every External metric an HPA asks for."""
    problems = []
    rules = configmap_file(docs, *ADAPTER_RULES)
    exported = {((r.get("name") or {}).get("as")) for r in (rules or {}).get("externalRules") or []}
    for h in (d for d in docs if d.kind == "HorizontalPodAutoscaler"):
        for m in (h.body.get("spec") or {}).get("metrics") or []:
            name = ((m.get("external") or {}).get("metric") or {}).get("name")
            if name and name not in exported:
                problems.append(f"{h.where()}: prometheus-adapter.yaml exports no {name}")
    return problems
