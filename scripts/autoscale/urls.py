"""urlopen without proxies: what the autoscaler talks to (the balancer's admin API,
Prometheus, the instances' /ready) is on this machine or named in the policy, never behind an
http_proxy from the environment."""
import urllib.request

_opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def urlopen(request, timeout):
    return _opener.open(request, timeout=timeout)
