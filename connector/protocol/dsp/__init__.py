"""DSP 2025-1 (Eclipse Dataspace Protocol) without I/O: schemas and their validation, message
builders, and the contract negotiation and transfer process state machines as tables.

The connector's I/O shell carries these messages over NATS; nothing here sends, stores or
reads a clock it was not given (except a default ``now``).
"""
