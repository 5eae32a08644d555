"""The pure rules of the chain: who holds a piece (double transfer refused), derivations
(split twice, masses over the tolerance, nested, wrong parent hash, flags carried over), and
verification to a ``Provenance``, with tampering of any record caught."""

from __future__ import annotations

import copy

import pytest

from domains.steel.certificate import to_record
from domains.steel.chain_records import Hashes, record_hash
from domains.steel.custody import replay
from domains.steel.derivation import MASS_TOLERANCE, derive
from domains.steel.errors import ChainRefused, SteelCode
from domains.steel.rules import check_derived, check_event
from domains.steel.verify import chain_for, verify_chain
from tests.domains.steel.certs import jis
from tests.domains.steel.chain import (
    COIL,
    CUSTOMER,
    ISSUERS,
    MILL,
    PROCESSOR,
    TRADER,
    certificate,
    six_levels,
    split,
    transfer,
)
from trust.canonical import canonical_json


def signed(records):
    return [(r, r["proof"]["verificationMethod"].partition("#")[0]) for r in records]


def failed(provenance):
    return {(link.record_id, c.name): c for link in provenance.links for c in link.checks
            if not c.ok}


# ---- custody ------------------------------------------------------------------------------

def test_a_chain_of_transfers_moves_the_piece():
    cert = certificate()
    a = transfer(MILL, TRADER, [COIL], cert["id"], [cert], "2026-04-01T00:00:00Z")
    b = transfer(TRADER, PROCESSOR, [COIL], cert["id"], [cert, a], "2026-04-02T00:00:00Z")
    ledger = replay(signed([cert, a, b]))
    assert ledger.holder(COIL) == PROCESSOR.did


def test_a_double_transfer_is_refused_naming_who_holds_the_piece():
    cert = certificate()
    a = transfer(MILL, TRADER, [COIL], cert["id"], [cert], "2026-04-01T00:00:00Z")
    b = transfer(TRADER, PROCESSOR, [COIL], cert["id"], [cert, a], "2026-04-02T00:00:00Z")
    again = transfer(TRADER, CUSTOMER, [COIL], cert["id"], [cert, a], "2026-04-03T00:00:00Z")
    with pytest.raises(ChainRefused) as caught:
        replay(signed([cert, a, b, again]))
    assert caught.value.code == SteelCode.NOT_HOLDER
    assert PROCESSOR.did in caught.value.reason_en and b["id"] in caught.value.reason_en
    assert "例示商事" in caught.value.reason_ja and "保有していません" in caught.value.reason_ja
    # Verified together, the second transfer is the failing link; the first one stands.
    provenance = verify_chain([cert, a, b, again], COIL, issuers=ISSUERS)
    assert not provenance.verified
    assert set(failed(provenance)) == {(again["id"], "holder")}
    assert provenance.holder_did == PROCESSOR.did


def test_a_party_that_never_held_the_piece_cannot_transfer_it():
    cert = certificate()
    forged = transfer(TRADER, CUSTOMER, [COIL], cert["id"], [cert], "2026-04-01T00:00:00Z")
    with pytest.raises(ChainRefused) as caught:
        replay(signed([cert, forged]))
    assert caught.value.code == SteelCode.NOT_HOLDER and caught.value.piece == COIL


def test_a_transfer_signed_by_someone_else_than_its_sender_is_refused():
    cert = certificate()
    event = transfer(MILL, TRADER, [COIL], cert["id"], [cert], "2026-04-01T00:00:00Z")
    with pytest.raises(ChainRefused) as caught:
        replay([(cert, MILL.did), (TRADER.sign(event), TRADER.did)])
    assert caught.value.code == SteelCode.CHAIN_INVALID


def test_an_unknown_piece_cannot_be_transferred():
    cert = certificate()
    event = transfer(MILL, TRADER, ["NOPE"], cert["id"], [cert], "2026-04-01T00:00:00Z")
    with pytest.raises(ChainRefused) as caught:
        replay(signed([cert, event]))
    assert caught.value.code == SteelCode.UNKNOWN_PIECE


# ---- derivations --------------------------------------------------------------------------

def held_by_processor():
    cert = certificate()
    a = transfer(MILL, PROCESSOR, [COIL], cert["id"], [cert], "2026-04-01T00:00:00Z")
    return cert, a


def test_the_same_parent_mass_cannot_be_split_twice():
    cert, a = held_by_processor()
    first = split(cert, COIL, [2800.0, 2800.0], "S", "DC-1", "2026-04-02T00:00:00Z")
    second = split(cert, COIL, [2800.0], "T", "DC-2", "2026-04-03T00:00:00Z")
    with pytest.raises(ChainRefused) as caught:
        replay(signed([cert, a, first, second]))
    assert caught.value.code == SteelCode.ALREADY_SPLIT
    assert first["id"] in caught.value.reason_en and "分割済み" in caught.value.reason_ja


def test_a_split_piece_cannot_be_transferred_any_more():
    cert, a = held_by_processor()
    first = split(cert, COIL, [2800.0, 2800.0], "S", "DC-1", "2026-04-02T00:00:00Z")
    late = transfer(PROCESSOR, CUSTOMER, [COIL], cert["id"], [cert, a], "2026-04-03T00:00:00Z")
    with pytest.raises(ChainRefused) as caught:
        replay(signed([cert, a, first, late]))
    assert caught.value.code == SteelCode.NOT_HOLDER and "split" in caught.value.reason_en


def test_a_processor_that_does_not_hold_the_parent_cannot_split_it():
    cert = certificate()
    strips = split(cert, COIL, [2800.0], "S", "DC-1", "2026-04-02T00:00:00Z")
    with pytest.raises(ChainRefused) as caught:
        replay(signed([cert, strips]))
    assert caught.value.code == SteelCode.NOT_HOLDER


def test_masses_within_the_tolerance_pass_and_over_it_are_refused():
    cert = certificate()  # 5739.3 kg
    allowed = 5739.3 * MASS_TOLERANCE
    split(cert, COIL, [5739.3 + allowed - 1.0], "S", "DC-1", "2026-04-02T00:00:00Z")
    with pytest.raises(ChainRefused) as caught:
        split(cert, COIL, [5000.0, 700.0], "S", "DC-1", "2026-04-02T00:00:00Z",
              scrap=40.0, kerf=30.0)
    assert caught.value.code == SteelCode.MASS_EXCEEDED
    assert "5770" in caught.value.reason_en and "スクラップ" in caught.value.reason_ja


def test_a_certificate_of_several_products_shares_its_mass_evenly():
    cert = MILL.sign(to_record(jis(), product_ids=["P-1", "P-2", "P-3"]))
    record = derive(cert, "P-2", [{"pieceId": "S-1", "massKg": 1913.1}], document_number="D",
                    processor=PROCESSOR.name, processor_did=PROCESSOR.did,
                    at="2026-04-02T00:00:00Z")
    assert record["parentMassKg"] == pytest.approx(5739.3 / 3, abs=0.001)
    with pytest.raises(ChainRefused) as caught:
        derive(cert, "P-2", [{"pieceId": "S-1", "massKg": 1930.0}], document_number="D",
               processor=PROCESSOR.name, processor_did=PROCESSOR.did,
               at="2026-04-02T00:00:00Z")
    assert caught.value.code == SteelCode.MASS_EXCEEDED


def test_a_record_claiming_a_larger_tolerance_fails_its_mass_balance():
    cert, a = held_by_processor()
    record = derive(cert, COIL, [{"pieceId": "S-1", "massKg": 5700.0}], document_number="D",
                    processor=PROCESSOR.name, processor_did=PROCESSOR.did,
                    at="2026-04-02T00:00:00Z")
    forged = PROCESSOR.sign(record | {"pieces": [{"pieceId": "S-1", "massKg": 6500.0}],
                                      "massToleranceKg": 800.0})
    provenance = verify_chain([cert, a, forged], "S-1", issuers=ISSUERS)
    assert (forged["id"], "mass_balance") in failed(provenance)
    assert "許容差" in failed(provenance)[(forged["id"], "mass_balance")].reason_ja


def test_nested_derivations_carry_the_mills_results_and_link_by_hash():
    records, piece = six_levels()
    cert, _, _, strips, lengths, _ = records
    mill_inspection = cert["en10168"]["Certificate"]["Inspection"]
    assert strips["inherited"]["Inspection"] == mill_inspection
    assert lengths["inherited"] == strips["inherited"]
    assert strips["parentHash"] == record_hash(cert)
    assert lengths["parentHash"] == record_hash(strips)
    assert lengths["parentId"] == strips["id"] and lengths["parentPieceId"] == "STRIP-2"
    ordered, problems = chain_for([records[-1]], piece)
    assert problems == [] and [r["id"] for r in ordered] == [r["id"] for r in records]


def test_a_wrong_parent_hash_is_caught():
    cert, a = held_by_processor()
    record = derive(cert, COIL, [{"pieceId": "S-1", "massKg": 5700.0}], document_number="D",
                    processor=PROCESSOR.name, processor_did=PROCESSOR.did,
                    at="2026-04-02T00:00:00Z")
    wrong = PROCESSOR.sign(record | {"parentHash": record_hash(a)})
    provenance = verify_chain([cert, a, wrong], "S-1", issuers=ISSUERS)
    assert set(failed(provenance)) == {(wrong["id"], "parent_hash")}
    assert "parentHash" in failed(provenance)[(wrong["id"], "parent_hash")].reason_en


def test_a_flagged_parent_makes_a_flagged_child_and_hiding_it_fails():
    cert = certificate(tensile={"C12": {"Value": 600}})
    assert cert["flagged"]
    a = transfer(MILL, PROCESSOR, [COIL], cert["id"], [cert], "2026-04-01T00:00:00Z")
    strips = split(cert, COIL, [2800.0, 2800.0], "S", "DC-1", "2026-04-02T00:00:00Z")
    assert strips["flagged"] and strips["checks"] == cert["checks"]
    provenance = verify_chain([cert, a, strips], "S-1", issuers=ISSUERS)
    assert provenance.verified and provenance.flagged
    hidden = PROCESSOR.sign(strips | {"flagged": False})
    provenance = verify_chain([cert, a, hidden], "S-1", issuers=ISSUERS)
    assert set(failed(provenance)) == {(hidden["id"], "content")}


# ---- verification -------------------------------------------------------------------------

def test_the_six_level_chain_verifies_from_the_last_event_alone():
    records, piece = six_levels()
    provenance = verify_chain([records[-1]], piece, issuers=ISSUERS)
    assert provenance.verified and not provenance.problems
    assert [link.kind for link in provenance.links] == [
        "certificate", "custody", "custody", "derivation", "derivation", "custody"]
    assert provenance.holder_did == CUSTOMER.did and provenance.holder_name == "例示建設"
    first = provenance.links[0]
    assert first.issuer_did == MILL.did and first.mass_kg == pytest.approx(5739.3)
    assert first.record_hash == record_hash(records[0])
    last = provenance.links[-1]
    assert (last.sender_did, last.receiver_did) == (PROCESSOR.did, CUSTOMER.did)
    # The mill's record reaches the customer unaltered, proof included.
    assert canonical_json(provenance.records[0]) == canonical_json(records[0])
    assert {c.name for link in provenance.links for c in link.checks} == {
        "signature", "content", "holder", "carried_chain", "parent_hash", "mass_balance"}


def test_an_unknown_issuer_fails_its_signature_check():
    records, piece = six_levels()
    trusted = {d: n for d, n in ISSUERS.items() if d != TRADER.did}
    provenance = verify_chain(records, piece, issuers=trusted)
    assert not provenance.verified
    assert (records[1]["id"], "signature") not in failed(provenance)
    assert (records[2]["id"], "signature") in failed(provenance)


def test_a_missing_parent_is_a_problem():
    records, piece = six_levels()
    provenance = verify_chain([records[4]], piece)
    assert not provenance.verified and "missing" in provenance.problems[0]


def _paths(node, path=()):
    """Every (path, key) of a JSON tree: objects' keys and leaves' values."""
    if isinstance(node, dict):
        for key, value in node.items():
            yield ("key", (*path, key))
            yield from _paths(value, (*path, key))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _paths(value, (*path, i))
    else:
        yield ("value", path)


def _tampered(record, kind, path):
    copy_ = copy.deepcopy(record)
    *parents, last = path
    node = copy_
    for part in parents:
        node = node[part]
    if kind == "key":
        node[str(last) + "x"] = node.pop(last)
    else:
        value = node[last]
        if isinstance(value, bool) or value is None:
            node[last] = not value
        elif isinstance(value, (int, float)):
            node[last] = value + 1
        else:
            text = str(value)
            i = len(text) // 2
            node[last] = text[:i] + ("A" if text[i:i + 1] != "A" else "B") + text[i + 1:]
    return copy_


@pytest.mark.parametrize("position", range(6))
def test_tampering_with_any_byte_class_of_any_record_is_detected(position):
    """Each record of the six-level chain, altered in a value, in a key and in its proof
    (every proof field), at spread positions: the chain no longer verifies."""
    records, piece = six_levels()
    target = records[position]
    paths = list(_paths(target))
    proof = [p for p in paths if p[1][:1] == ("proof",)]
    rest = [p for p in paths if p[1][:1] != ("proof",)]
    values = [p for p in rest if p[0] == "value"]
    keys = [p for p in rest if p[0] == "key"]
    chosen = proof + values[::max(1, len(values) // 12)] + keys[::max(1, len(keys) // 12)]
    assert any(p[0] == "key" for p in chosen) and any(p[0] == "value" for p in chosen)
    for kind, path in chosen:
        altered = _tampered(target, kind, path)
        package = [altered if r is target else r for r in records]
        provenance = verify_chain(package, piece, issuers=ISSUERS)
        assert not provenance.verified, (kind, path)


# ---- content rules (what every connector runs before keeping a record) ------------------

def test_a_receiver_refuses_an_event_whose_own_chain_shows_the_sender_passed_the_piece():
    cert = certificate()
    a = transfer(MILL, TRADER, [COIL], cert["id"], [cert], "2026-04-01T00:00:00Z")
    b = transfer(TRADER, PROCESSOR, [COIL], cert["id"], [cert, a], "2026-04-02T00:00:00Z")
    check_event(b)  # the honest one passes
    again = transfer(TRADER, CUSTOMER, [COIL], cert["id"], [cert, a, b],
                     "2026-04-03T00:00:00Z")
    with pytest.raises(ChainRefused) as caught:
        check_event(again)
    assert caught.value.code == SteelCode.NOT_HOLDER


def test_a_receiver_refuses_an_event_carrying_an_altered_record():
    cert = certificate()
    altered = copy.deepcopy(cert)
    altered["heatNumbers"] = ["H99999"]
    event = transfer(MILL, TRADER, [COIL], cert["id"], [altered], "2026-04-01T00:00:00Z")
    with pytest.raises(ChainRefused) as caught:
        check_event(event)
    assert caught.value.code == SteelCode.CHAIN_INVALID
    assert "signature does not verify" in caught.value.reason_en


def test_the_sender_side_rule_runs_before_signing():
    cert = certificate()
    unsigned = {k: v for k, v in transfer(MILL, TRADER, [COIL], cert["id"], [cert],
                                          "2026-04-01T00:00:00Z").items() if k != "proof"}
    check_event(unsigned)
    with pytest.raises(ChainRefused) as caught:
        check_event(unsigned | {"senderDid": CUSTOMER.did})
    assert caught.value.code == SteelCode.NOT_HOLDER


def test_a_derived_certificate_over_its_masses_is_refused_by_the_rule():
    cert, _ = held_by_processor()
    record = split(cert, COIL, [2800.0], "S", "DC-1", "2026-04-02T00:00:00Z")
    check_derived(record)
    with pytest.raises(ChainRefused) as caught:
        check_derived(record | {"pieces": [{"pieceId": "S-1", "massKg": 9000.0}]})
    assert caught.value.code == SteelCode.MASS_EXCEEDED


def test_composed_hashes_are_the_plain_ones():
    records, _ = six_levels()
    hashed = Hashes()
    assert [hashed(r) for r in records] == [record_hash(r) for r in records]
    odd = copy.deepcopy(records[-1])
    odd["receiverName"] = Hashes._SLOT  # the marker in a value: composed the plain way
    assert hashed(odd) == record_hash(odd)
