"""Referral (docs/referral.md): a case leaves the unit as a signed, encrypted dossier.

- ``directory``: partners, keys, competence rules, qualifications and deadlines (data).
- ``unit_key``: the unit's OpenPGP signing key, resting protected.
- ``dossier``: what a packet says, read from the case (decrypted in memory, audited).
- ``documents``: the PDF dossier (ar, fr), the prosecutor notice, the takedown notice.
- ``provenance``: the CASE/UCO JSON-LD record of where every byte came from.
- ``packet``: one action builds, signs and encrypts it; ``export`` sends it, audited.
- ``acknowledgement``: the receiving unit's signed answer, imported.
- ``custody``: ``iblagh-officer custody verify CASE``.
"""
