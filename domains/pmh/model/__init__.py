"""The pmh records: dataset types and their JSON schemas, and the checks a schema cannot say
(check digits, plausible measurements, dates in order)."""
