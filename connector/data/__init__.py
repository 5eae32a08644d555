"""Records and transfers: datasets, publishing (schema, content rules, proofs, outbox), erasure,
contributions, and the transfer processes with the consumer's pull loop."""
