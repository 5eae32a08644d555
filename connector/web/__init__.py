"""What the domains' web pages share: escaped-by-default HTML (``markup``)."""
