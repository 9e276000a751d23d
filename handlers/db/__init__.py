"""PostgreSQL handlers (`/db`), split by concern; `handlers.load_all` imports them all.

common       connections from the pool, read-only transactions, errors naming the database
sessions     activity, connections, long-running, locks
stats        ping, slow-queries, table-sizes, index-usage, db-stats
replication  lag per replica and slots (primary), replay delay (standby)
signals      cancel and terminate a backend (destructive)
maintenance  vacuum-analyze and reindex (destructive)
"""
