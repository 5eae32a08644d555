"""IRIs the package speaks: ODRL 2.2, XML Schema datatypes and the tsunagu vocabulary."""

from __future__ import annotations

ODRL = "http://www.w3.org/ns/odrl/2/"
XSD = "http://www.w3.org/2001/XMLSchema#"
RDF = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
TSUNAGU = "https://w3id.org/tsunagu/ns#"
DSPACE = "https://w3id.org/dspace/2025/1/"
DCT = "http://purl.org/dc/terms/"

# The profile templates declare; evaluators that do not know it must refuse the policy.
TSUNAGU_PROFILE = "https://w3id.org/tsunagu/ns/odrl-profile/2025/1"

ODRL_CONTEXT = "https://w3id.org/dspace/2025/1/odrl-profile.jsonld"
DSP_CONTEXT = "https://w3id.org/dspace/2025/1/context.jsonld"

PREFIXES = {"odrl": ODRL, "xsd": XSD, "tsunagu": TSUNAGU, "rdf": RDF, "dspace": DSPACE,
            "dct": DCT}


def odrl(term: str) -> str:
    return ODRL + term


def xsd(term: str) -> str:
    return XSD + term


def tsunagu(term: str) -> str:
    return TSUNAGU + term


def expand_name(name: str) -> str:
    """Expand ``odrl:read`` / ``tsunagu:x`` / ``xsd:date``; a full IRI is returned unchanged.

    Used for the convenience forms of the Python API and the JSON state document, never for
    JSON-LD input (that goes through the JSON-LD processor).
    """
    prefix, sep, rest = name.partition(":")
    if sep and prefix in PREFIXES and not rest.startswith("//"):
        return PREFIXES[prefix] + rest
    return name


def short_name(iri: str) -> str:
    """``http://www.w3.org/ns/odrl/2/read`` -> ``read``; tsunagu/xsd IRIs get their prefix."""
    if iri.startswith(ODRL):
        return iri[len(ODRL):]
    for prefix, ns in PREFIXES.items():
        if iri.startswith(ns):
            return f"{prefix}:{iri[len(ns):]}"
    return iri


def is_absolute_iri(value: str) -> bool:
    scheme, sep, _ = value.partition(":")
    return bool(sep) and scheme[:1].isalpha() and all(
        c.isalnum() or c in "+-." for c in scheme)
