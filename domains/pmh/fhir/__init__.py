"""pmh records to and from FHIR R4 JSON (JP Core is R4): Patient, RelatedPerson, Encounter,
Observation, Immunization, Coverage, gathered in a Bundle (``bundle``).

Validation uses ``fhir.resources``' R4B models (its R4 releases do not import under pydantic 2;
for the resources pmh emits R4B matches R4 element for element). Each record type has one
module with ``to_fhir(record, writer)`` and ``from_fhir(reader)``; ``convert`` picks them.
"""
