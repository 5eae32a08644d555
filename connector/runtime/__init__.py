"""The connector as a whole: its assembly and lifecycle (``connector``), configuration, setup,
identity, status lists and metrics."""
