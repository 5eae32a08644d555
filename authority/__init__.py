"""The data-space authority, an actor of its own beside the participants' connectors: it onboards
participants (credentials, NATS accounts), publishes revocations, keeps the participant registry
and runs the data space's nats-server in operator mode. It may use the connector's NATS plumbing;
nothing in connector/, catalog/, usage_policies/ or trust/ imports it."""
