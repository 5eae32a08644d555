"""trust.sealing: payloads sealed to a content key, content keys wrapped to one participant."""

from __future__ import annotations

import pytest

from trust.keys import KeyPair
from trust.sealing import (
    ContentKey,
    SealError,
    bound_to,
    epoch_of,
    open_payload,
    open_sealed,
    seal,
    seal_header,
    seal_payload,
    unwrap,
    wrap,
)

RECORD = '{"name":"山田 花子","birthDate":"1952-04-01"}'.encode()
HERE = bound_to("tsunagu.data.z6Mkp.abc.created", "urn:x:1@1")


def test_a_sealed_payload_opens_with_its_key_and_shows_nothing_of_the_record():
    key = ContentKey.generate()
    sealed = seal(key, RECORD, context=HERE)
    assert RECORD not in sealed and "山田".encode() not in sealed
    assert open_sealed(key, sealed, context=HERE) == RECORD
    assert seal(key, RECORD, context=HERE) != sealed  # a fresh nonce each time


@pytest.mark.parametrize("how", ["flipped", "truncated", "other_key", "moved"])
def test_an_altered_or_moved_payload_is_refused(how):
    key = ContentKey.generate()
    sealed = bytearray(seal(key, RECORD, context=HERE))
    context = HERE
    if how == "flipped":
        sealed[-5] ^= 1
    elif how == "truncated":
        sealed = sealed[:20]
    elif how == "other_key":
        key = ContentKey.generate()
    else:  # replayed under another record's id
        context = bound_to("tsunagu.data.z6Mkp.abc.created", "urn:x:2@1")
    with pytest.raises(SealError) as caught:
        open_sealed(key, bytes(sealed), context=context)
    assert caught.value.code == "seal.invalid"


def test_a_wrapped_key_opens_only_for_its_consumer_agreement_and_stream():
    consumer, other = KeyPair.generate(), KeyPair.generate()
    key = ContentKey.generate()
    wrapped = wrap(key, to=consumer.did, agreement="urn:a:1", stream="DS_1")
    opened = unwrap(wrapped, consumer, agreement="urn:a:1", stream="DS_1", epoch=key.epoch)
    assert (opened.epoch, opened.key) == (key.epoch, key.key)
    with pytest.raises(SealError, match="another participant"):
        unwrap(wrapped, other, agreement="urn:a:1", stream="DS_1")
    with pytest.raises(SealError, match="another agreement"):
        unwrap(wrapped, consumer, agreement="urn:a:2", stream="DS_1")
    with pytest.raises(SealError, match="another stream"):
        unwrap(wrapped, consumer, agreement="urn:a:1", stream="DS_2")
    with pytest.raises(SealError, match="another epoch"):
        unwrap(wrapped, consumer, agreement="urn:a:1", stream="DS_1", epoch="e0")
    tampered = wrapped[:-4] + ("AAAA" if wrapped[-4:] != "AAAA" else "BBBB")
    with pytest.raises(SealError):
        unwrap(tampered, consumer, agreement="urn:a:1", stream="DS_1")


def test_the_header_names_the_epoch_and_an_unknown_form_is_no_unsealed_message():
    assert epoch_of(seal_header("e1f2")) == "e1f2"
    assert epoch_of(None) is None
    for bad in ("v2 e1", "v1", "v1 a b", ""):
        with pytest.raises(SealError):
            epoch_of(bad)


def test_key_material_is_never_shown():
    key = ContentKey.generate()
    assert key.key.hex() not in repr(key) and key.epoch in repr(key)


def test_a_sealed_payload_opens_only_for_its_recipient_and_names_its_sender():
    sender, recipient, thief = KeyPair.generate(), KeyPair.generate(), KeyPair.generate()
    payload = {"change": {"stayLocation": {"shelterId": "aoba-es"}, "note": "山田 花子"}}
    sealed = seal_payload(payload, sender=sender.did, to=recipient.did)
    assert set(sealed) == {"sealed"} and "山田" not in str(sealed)
    assert open_payload(sealed, recipient, sender=sender.did) == payload
    with pytest.raises(SealError, match="another participant"):
        open_payload(sealed, thief, sender=sender.did)
    # Lifted into an envelope the thief signs: the sender inside is not the signer.
    with pytest.raises(SealError, match="another participant than the envelope"):
        open_payload(sealed, recipient, sender=thief.did)
    with pytest.raises(SealError, match="not sealed"):
        open_payload(payload, recipient, sender=sender.did)
