"""The ``tsunagu`` command line (``main``) and the command groups of the connector."""
