"""One module per pmh record type's FHIR mapping: ``to_fhir(record, writer)`` and
``from_fhir(reader)``."""
