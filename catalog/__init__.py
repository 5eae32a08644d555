"""DCAT 3 datasets with ODRL offers (the DSP catalog shape), search and federation merge."""
