"""The storefront's checks: the balancer serves web/ from the ConfigMap `storefront`, each
file mounted by subPath under a static route's root (manifests.py holds the other checks)."""
from pathlib import Path

import manifests as m


def balancer_container(docs):
    d = m.find(docs, "Deployment", "balancer")
    return d, next((c for c in m.containers(d) if c.get("name") == "balancer"), None) if d \
        else None


def volume_at(workload, container, path):
    """The pod volume that `container` mounts where `path` lies (the deepest mount), with
    that mount, or (None, None)."""
    volumes = {v.get("name"): v for v in m.pod_spec(workload).get("volumes") or []}
    best = None
    for mount in container.get("volumeMounts") or []:
        at = mount.get("mountPath", "").rstrip("/")
        if (path == at or path.startswith(at + "/")) and \
                (best is None or len(at) > len(best.get("mountPath", "").rstrip("/"))):
            best = mount
    return (volumes.get(best.get("name")), best) if best else (None, None)


def check_storefront(docs):
    """The balancer serves the storefront (web/): a `static` route's root is a folder of the
    balancer container holding each file of the ConfigMap `storefront` mounted by `subPath`
    (a bind mount of the file itself); the ConfigMap volume mounted whole there would hold
    symlinks into ..data/, which a static route refuses (404). The ConfigMap holds every file of
    web/ (but its kustomization.yaml), each mounted, the route's index among them."""
    name, folder = m.STOREFRONT
    config = m.balancer_config(docs) or {}
    routes = [r for r in config.get("routes") or [] if isinstance(r.get("static"), dict)]
    if not routes:
        return ["balancer.yaml: no route with static: the storefront (web/) is not served"]
    problems = []
    cm = m.find(docs, "ConfigMap", name)
    data = (cm.body.get("data") or {}) if cm else {}
    if cm is None:
        problems.append(f"no ConfigMap {name!r} (web/kustomization.yaml, named under bases in "
                        f"kustomization.yaml)")
    files = {p.name for p in folder.iterdir() if p.is_file() and p.name != "kustomization.yaml"}
    for f in sorted(files - set(data)) if cm else []:
        problems.append(f"ConfigMap/{name}: web/{f} is not in it (web/kustomization.yaml)")
    for key, text in sorted(data.items()):
        if text is None:
            problems.append(f"ConfigMap/{name}: {key}: no such file in web/")
    workload, balancer = balancer_container(docs)
    if balancer is None:
        return problems + ["no Deployment balancer with a container balancer"]
    volumes = {v.get("name"): v for v in m.pod_spec(workload).get("volumes") or []}
    args = balancer.get("args") or []
    config_dir = str(Path(args[args.index("-c") + 1]).parent) if "-c" in args else "/"
    for r in routes:
        static = r["static"]
        root = str(Path(config_dir) / static.get("root", "")).rstrip("/")
        where = f"balancer.yaml: route {r.get('match')}: static.root {root}"
        whole, _ = volume_at(workload, balancer, root)
        if whole is not None and "configMap" in whole:
            problems.append(f"{where} is the ConfigMap volume {whole.get('name')!r} mounted "
                            f"whole: its files are symlinks, which static refuses (404); mount "
                            f"each file with subPath")
            continue
        mounted = {}
        for mount in balancer.get("volumeMounts") or []:
            path = mount.get("mountPath", "").rstrip("/")
            v = volumes.get(mount.get("name")) or {}
            if str(Path(path).parent) == root and mount.get("subPath") and \
                    (v.get("configMap") or {}).get("name") == name:
                mounted[Path(path).name] = mount["subPath"]
        for key in sorted(set(data) - set(mounted)):
            problems.append(f"{where}: {key} of ConfigMap {name!r} is not mounted there "
                            f"(subPath: {key})")
        for file, key in sorted(mounted.items()):
            if file != key or key not in data:
                problems.append(f"{where}: {file} mounts subPath {key!r}, not that key of "
                                f"ConfigMap {name!r}")
        index = static.get("index", "index.html")
        if index not in mounted:
            problems.append(f"{where}: its index {index} is not mounted there")
    return problems
