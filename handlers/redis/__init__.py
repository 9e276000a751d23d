"""Redis handlers (`/redis`), split by concern; `handlers.load_all` imports them all.

common  the target field, errors naming the instance, SCAN
server  ping, info, latency, slowlog
keys    keys, key, llen, delete (destructive)
"""
