"""``tsunagu demo steel``: a coil from the mill to a construction site (``scenario``), from
a mill sheet in the CSV layout (``mill_sheet``)."""
