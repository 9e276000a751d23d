"""Kubernetes handlers for `/k8s`, one module per concern; `handlers.load_all` imports them all.

Every API call goes through `handlers.k8s.errors.call` (a timeout, clear errors), and every
call a handler makes is declared in `handlers.k8s.rbac` (checked against the RBAC manifest).
"""
