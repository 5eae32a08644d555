"""Domain hubs plugged into the connector through the ``tsunagu.domains`` entry point."""
