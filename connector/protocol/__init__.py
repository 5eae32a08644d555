"""The DSP protocol and its processes: message schemas and state machines (``dsp``), persisted
processes, negotiations, agreements, the catalog client, stream grants."""
