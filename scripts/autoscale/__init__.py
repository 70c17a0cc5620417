"""The autoscaler behind scripts/autoscaler, one module per idea:

    policy.py        config/autoscaler.yaml, errors with file:line:column
    decision.py      the Kubernetes HPA's arithmetic, pure (no I/O, injected clock)
    metrics_text.py  the Prometheus text format
    metrics.py       the metric: Prometheus's API, or two scrapes of the balancer's /metrics
    admin.py         the balancer's admin API
    instances.py     starting, stopping and remembering instances; the file-SD file
    controller.py    one service's loop: read, decide, act; adopting instances on start
    events.py        one JSON line per event on stdout
    urls.py          urlopen without proxies
    cli.py           the command line
"""
