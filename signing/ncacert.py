"""Reading NCA-style identity out of an X.509 certificate, and the IIN/BIN check digit.

NCA (НУЦ РК) certificates put the person's IIN in ``SERIALNUMBER=IIN…``, a legal
entity's BIN in ``OU=BIN…`` (older ones in ``SERIALNUMBER=BIN…``), the organisation in
``O`` and the holder's roles as extended-key-usage OIDs under ``1.2.398.3.3.4.1``.
The parser works on asn1crypto objects because those also load GOST certificates
whose public keys ``cryptography`` refuses to parse.
"""

from __future__ import annotations

from asn1crypto import core, x509

from kazakhstan.ids import check_digit

from .model import SignerFields

__all__ = [
    "ROLE_OIDS",
    "KZ_SIGNATURE_ALGORITHM_PREFIXES",
    "signer_fields",
    "is_gost_certificate",
    "kz_id_check_digit",
    "is_valid_kz_id",
    "with_check_digit",
]

#: Role OIDs of NCA certificates (adilet.zan.kz V2000021440) and the names we report.
ROLE_OIDS: dict[str, str] = {
    "1.2.398.3.3.4.1.1": "individual",
    "1.2.398.3.3.4.1.2": "organization",
    "1.2.398.3.3.4.1.2.1": "ceo",
    "1.2.398.3.3.4.1.2.2": "can_sign",
    "1.2.398.3.3.4.1.2.3": "can_sign_financial",
    "1.2.398.3.3.4.1.2.4": "hr",
    "1.2.398.3.3.4.1.2.5": "employee",
}
_ROLE_ARC = "1.2.398.3.3.4."

#: Kazakh GOST algorithm arcs (GOST 34.310-2004 and GOST 34.10-2015 keys and signatures).
KZ_SIGNATURE_ALGORITHM_PREFIXES = ("1.2.398.3.10.",)

def kz_id_check_digit(first11: str) -> int | None:
    """Check digit of an IIN/BIN from its first 11 digits; None when no digit fits.

    The rule lives in ``docgen.ids`` (shared with request validation); this wrapper only
    rejects malformed input instead of raising deep inside the arithmetic.
    """
    if len(first11) != 11 or not first11.isdigit():
        raise ValueError("need exactly 11 digits")
    return check_digit(first11)


def is_valid_kz_id(value: str) -> bool:
    """True when ``value`` is 12 digits whose last digit is the IIN/BIN check digit."""
    if len(value) != 12 or not value.isdigit():
        return False
    return kz_id_check_digit(value[:11]) == int(value[11])


def with_check_digit(first11: str) -> str:
    """Complete 11 digits into a valid 12-digit IIN/BIN (raises if none exists)."""
    digit = kz_id_check_digit(first11)
    if digit is None:
        raise ValueError(f"{first11} has no valid check digit; change a digit")
    return first11 + str(digit)


def _attr(name: x509.Name, key: str) -> list[str]:
    out: list[str] = []
    for rdn in name.chosen:
        for type_and_value in rdn:
            if type_and_value["type"].native == key:
                value = type_and_value["value"].native
                out.append(str(value))
    return out


def _prefixed(values: list[str], prefix: str) -> str:
    for value in values:
        if value.upper().startswith(prefix):
            return value[len(prefix):].strip()
    return ""


def _roles(cert: x509.Certificate) -> tuple[str, ...]:
    oids: list[str] = []
    try:
        eku = cert.extended_key_usage_value
    except (ValueError, TypeError):
        eku = None
    if eku is not None:
        oids.extend(purpose.dotted for purpose in eku)
    roles = [ROLE_OIDS.get(oid, oid) for oid in oids if oid.startswith(_ROLE_ARC)]
    return tuple(dict.fromkeys(roles))


def signer_fields(cert: x509.Certificate) -> SignerFields:
    """Identity fields of ``cert``; values are reported as found, never "corrected".

    NCA test certificates carry IINs that fail the check digit, so validity is a flag
    (``iin_valid``), not a reason to drop the value.
    """
    subject = cert.subject
    serials = _attr(subject, "serial_number")
    units = _attr(subject, "organizational_unit_name")
    iin = _prefixed(serials, "IIN")
    bin_ = _prefixed(units, "BIN") or _prefixed(serials, "BIN")
    cn = _attr(subject, "common_name")
    org = _attr(subject, "organization_name")
    return SignerFields(
        common_name=cn[0] if cn else "",
        iin=iin,
        bin=bin_,
        organization=org[0] if org else "",
        roles=_roles(cert),
        surname=next(iter(_attr(subject, "surname")), ""),
        given_name=next(iter(_attr(subject, "given_name")), ""),
        iin_valid=is_valid_kz_id(iin) if iin else None,
        bin_valid=is_valid_kz_id(bin_) if bin_ else None,
    )


def is_gost_certificate(cert: x509.Certificate) -> bool:
    """True for Kazakh GOST keys, which neither pyHanko nor ``cryptography`` can verify."""
    # Parse the key algorithm generically: asn1crypto's PublicKeyInfo spec raises
    # KeyError on GOST OIDs as soon as the key itself is touched.
    spki = core.Sequence.load(cert["tbs_certificate"]["subject_public_key_info"].dump())
    algo = core.Sequence.load(spki[0].dump())[0]
    algo_oid = core.ObjectIdentifier.load(algo.dump()).dotted
    outer = cert["signature_algorithm"]["algorithm"].dotted
    return any(o.startswith(KZ_SIGNATURE_ALGORITHM_PREFIXES) for o in (algo_oid, outer))
