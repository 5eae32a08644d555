"""Batch proofs: one Ed25519 signature over the Merkle root of a batch of documents, each
document carrying its own inclusion path, so each stays verifiable on its own.

Cryptosuite ``tsunagu-merkle-eddsa-jcs-2026`` (a tsunagu suite, not a W3C one), inside a
Data Integrity ``DataIntegrityProof``. For a batch d_1..d_n signed by one key at one time:

1. proof config c_i: as eddsa-jcs-2022 (type, cryptosuite, created, verificationMethod,
   proofPurpose, the document's @context), with this cryptosuite.
2. leaf_i = SHA-256(0x00 || SHA-256(JCS(c_i)) || SHA-256(JCS(d_i without proof))): the
   eddsa-jcs-2022 hashData, prefixed so that a leaf is never taken for an inner node.
3. Tree: level by level, pairs (left, right) become SHA-256(0x01 || left || right); an
   unpaired last node moves up unchanged. The root is the last level's one node.
4. proofValue = base58btc multibase of Ed25519(key, "tsunagu-merkle-eddsa-jcs-2026" ||
   0x00 || root): the same for every document of the batch.
5. merklePath (in the proof) = base64url multibase ("u", no padding) of the steps from the
   leaf to the root, 33 bytes each: "L" or "R" (the side the sibling is on) and the
   sibling's 32-byte hash. A batch of one has an empty path ("u"): the leaf is the root.
   (base64url, not base58btc: a path is ~300 bytes, where base58 costs more than Ed25519.)

To verify d with proof p: c = p without proofValue and merklePath; fold the path from
leaf(c, d) to a root; check proofValue over the root with p's verificationMethod. A verifier
that has already checked (key, root, proofValue) need not run Ed25519 again: that is the
saving, one signature check per batch instead of one per record (``VerifiedRoots``).
Test vectors: tests/vectors/batch-proofs.json. Why and what it costs: docs/records.md.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from trust.canonical import sha256
from trust.errors import MultibaseError, ProofError, TrustCode
from trust.keys import KeyPair
from trust.multibase import decode_base64url, encode_base58btc, encode_base64url

CRYPTOSUITE = "tsunagu-merkle-eddsa-jcs-2026"
PATH_FIELD = "merklePath"
_DOMAIN = CRYPTOSUITE.encode() + b"\x00"
_LEAF, _NODE = b"\x00", b"\x01"
_LEFT, _RIGHT = ord("L"), ord("R")
_STEP = 33
MAX_PATH_STEPS = 32  # 2**32 documents in one batch: far beyond any batch the connector makes


def leaf_hash(hash_data: bytes) -> bytes:
    """The leaf of a document, from its eddsa-jcs-2022 hashData (trust.proofs.hash_data)."""
    return sha256(_LEAF + hash_data)


def _node(left: bytes, right: bytes) -> bytes:
    return sha256(_NODE + left + right)


def signed_message(root: bytes) -> bytes:
    """What Ed25519 signs: the root, under this suite's name (never a valid hashData)."""
    return _DOMAIN + root


def tree(leaves: Sequence[bytes]) -> tuple[bytes, list[bytes]]:
    """(root, each leaf's encoded path) of a non-empty list of leaves."""
    if not leaves:
        raise ValueError("a batch proof needs at least one document")
    paths: list[bytearray] = [bytearray() for _ in leaves]
    # members[k]: the leaves under node k of the current level
    level, members = list(leaves), [[i] for i in range(len(leaves))]
    while len(level) > 1:
        upper, upper_members = [], []
        for k in range(0, len(level) - 1, 2):
            left, right = level[k], level[k + 1]
            for i in members[k]:
                paths[i] += bytes([_RIGHT]) + right
            for i in members[k + 1]:
                paths[i] += bytes([_LEFT]) + left
            upper.append(_node(left, right))
            upper_members.append(members[k] + members[k + 1])
        if len(level) % 2:  # the unpaired last node moves up unchanged
            upper.append(level[-1])
            upper_members.append(members[-1])
        level, members = upper, upper_members
    return level[0], [bytes(p) for p in paths]


def encode_path(path: bytes) -> str:
    return encode_base64url(path)


def root_from(leaf: bytes, encoded_path: Any) -> bytes:
    """Fold ``encoded_path`` from ``leaf``; ProofError (proof.malformed) naming what is wrong."""
    if not isinstance(encoded_path, str):
        raise ProofError(f"proof.{PATH_FIELD} is missing or not a string",
                         code=TrustCode.PROOF_MALFORMED)
    try:
        path = decode_base64url(encoded_path)
    except MultibaseError as exc:
        raise ProofError(f"proof.{PATH_FIELD} is not base64url multibase: {exc.message}",
                         code=TrustCode.PROOF_MALFORMED) from exc
    if len(path) % _STEP or len(path) // _STEP > MAX_PATH_STEPS:
        raise ProofError(f"proof.{PATH_FIELD} must be at most {MAX_PATH_STEPS} steps of "
                         f"{_STEP} bytes, got {len(path)} bytes", code=TrustCode.PROOF_MALFORMED)
    node = leaf
    for at in range(0, len(path), _STEP):
        side, sibling = path[at], path[at + 1:at + _STEP]
        if side == _LEFT:
            node = _node(sibling, node)
        elif side == _RIGHT:
            node = _node(node, sibling)
        else:
            raise ProofError(f"proof.{PATH_FIELD} step {at // _STEP} names no side (L or R)",
                             code=TrustCode.PROOF_MALFORMED)
    return node


def sign_batch(documents: Sequence[dict[str, Any]], key: KeyPair, *,
               proof_purpose: str = "assertionMethod", created: datetime | None = None
               ) -> list[dict[str, Any]]:
    """Each document (any old proof replaced) with its batch proof, in the order given."""
    from trust.proofs import hash_data, proof_config_for  # trust.proofs verifies this suite

    unsigned = [{k: v for k, v in d.items() if k != "proof"} for d in documents]
    configs = [{**proof_config_for(d, key, proof_purpose=proof_purpose, created=created),
                "cryptosuite": CRYPTOSUITE} for d in unsigned]
    root, paths = tree([leaf_hash(hash_data(d, c)) for d, c in zip(unsigned, configs,
                                                                   strict=True)])
    value = encode_base58btc(key.sign(signed_message(root)))
    return [{**d, "proof": {**c, PATH_FIELD: encode_path(p), "proofValue": value}}
            for d, c, p in zip(unsigned, configs, paths, strict=True)]


class VerifiedRoots:
    """The (verification method, root, proofValue) triples whose Ed25519 check passed, most recent
    first, bounded: a consumer checks a batch's signature once, not once per record.
    Thread-safe (the consumer verifies on a worker thread)."""

    def __init__(self, size: int = 256) -> None:
        self._size = size
        self._seen: OrderedDict[tuple[str, bytes, str], None] = OrderedDict()
        self._lock = threading.Lock()

    def __contains__(self, triple: tuple[str, bytes, str]) -> bool:
        with self._lock:
            if triple in self._seen:
                self._seen.move_to_end(triple)
                return True
            return False

    def add(self, triple: tuple[str, bytes, str]) -> None:
        with self._lock:
            self._seen[triple] = None
            self._seen.move_to_end(triple)
            while len(self._seen) > self._size:
                self._seen.popitem(last=False)
