"""The evacuee registry (避難者名簿) a municipality's connector holds: one person, registered once.

Modules, one idea each:

* ``model``      the person: 4 items with kana, contact, household, stay, 要配慮, consent;
                 medical needs as a separate part
* ``forms``      form input -> ``PersonInput`` with typed errors naming the field
* ``errors``     typed errors; My Numbers are refused with ``domains.japanese.mynumber``
* ``variants``   旧字体/異体字 folded for matching, and which folds are deliberately not made
* ``normalize``  matching keys of names, kana, dates and addresses
* ``matching``   exact merge vs near match (review) on the normalised 4 items
* ``storage``    the SQLite tables in the connector's store
* ``registry``   ``Registry``: register, register_many, review queue, stay, inquiries
* ``inquiry``    what a safety inquiry may be told (consent only)
* ``csv_import`` CSV with column mapping and a per-line report
* ``card``       the simulated My Number card: a signed credential with the 4 items only
* ``bench``      the 50,000-person dedupe measurement for bench/bosai.py
"""

from domains.bosai.registry.errors import (
    CardError,
    MyNumberRefused,
    PersonNotFound,
    RegistryError,
    RegistryInputError,
    ReviewDecided,
    ReviewNotFound,
    VersionConflict,
)
from domains.bosai.registry.forms import parse_form
from domains.bosai.registry.inquiry import InquiryAnswer
from domains.bosai.registry.model import (
    Consent,
    Contact,
    Household,
    Medical,
    Person,
    PersonInput,
    StayLocation,
    to_record,
)
from domains.bosai.registry.normalize import AddressContext
from domains.bosai.registry.registry import (
    Origin,
    RegistrationResult,
    RegistrationStats,
    Registry,
    Review,
)

__all__ = [
    "AddressContext",
    "CardError",
    "Consent",
    "Contact",
    "Household",
    "InquiryAnswer",
    "Medical",
    "MyNumberRefused",
    "Origin",
    "Person",
    "PersonInput",
    "PersonNotFound",
    "RegistrationResult",
    "RegistrationStats",
    "Registry",
    "RegistryError",
    "RegistryInputError",
    "Review",
    "ReviewDecided",
    "ReviewNotFound",
    "StayLocation",
    "VersionConflict",
    "parse_form",
    "to_record",
]
