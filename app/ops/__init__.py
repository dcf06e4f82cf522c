"""Running the service: readiness (/readyz), request logs with a request id, Prometheus metrics
(/metrics) and the answer to a full disk. Nothing here changes what a user's request does."""
