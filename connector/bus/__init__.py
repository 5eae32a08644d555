"""NATS plumbing: the nats-server child, the client connection, the subject scheme, and the
signed request/reply bus DSP messages travel on."""
