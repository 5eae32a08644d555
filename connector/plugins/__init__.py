"""Domain plug-ins: the contract a domain implements (``contract``) and how the connector finds,
checks, activates and mounts them (``registry``)."""
