"""The runtime a participant runs: NATS, DSP protocol, store, usage control, API, CLI."""
