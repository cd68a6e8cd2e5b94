"""The packet's provenance record in CASE/UCO JSON-LD (https://caseontology.org/).

Machine-readable twin of the dossier's chain of custody: for every report body and file,
the encrypted envelope as received (its SHA-256 on receipt), the decryption that made
the content (its SHA-256, authenticated by the envelope) and the packaging that put it
in the packet under its path. Every node has a fresh ``urn:uuid:`` identifier: the
officer host's ids (case, reports, officers) are not in it. Tests validate it against
the CASE ontology's SHACL shapes (the ``case-utils`` package bundles them).
"""

import json
import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from journalist_app.referral.documents import Dossier, PacketFile

CONTEXT = {
    "case-investigation": "https://ontology.caseontology.org/case/investigation/",
    "uco-action": "https://ontologies.unifiedcyberontology.org/uco/action/",
    "uco-core": "https://ontologies.unifiedcyberontology.org/uco/core/",
    "uco-identity": "https://ontologies.unifiedcyberontology.org/uco/identity/",
    "uco-observable": "https://ontologies.unifiedcyberontology.org/uco/observable/",
    "uco-types": "https://ontologies.unifiedcyberontology.org/uco/types/",
    "uco-vocabulary": "https://ontologies.unifiedcyberontology.org/uco/vocabulary/",
    "xsd": "http://www.w3.org/2001/XMLSchema#",
}


def _id() -> str:
    return f"urn:uuid:{uuid.uuid4()}"


def _time(value: datetime) -> dict[str, str]:
    return {"@type": "xsd:dateTime", "@value": value.strftime("%Y-%m-%dT%H:%M:%SZ")}


def _sha256(value: str) -> dict[str, Any]:
    return {
        "@id": _id(),
        "@type": "uco-types:Hash",
        "uco-types:hashMethod": {"@type": "uco-vocabulary:HashNameVocab", "@value": "SHA256"},
        "uco-types:hashValue": {"@type": "xsd:hexBinary", "@value": value.upper()},
    }


def _file(name: str, sha256: str, size: int | None, mime: str = "") -> dict[str, Any]:
    file_facet: dict[str, Any] = {
        "@id": _id(),
        "@type": "uco-observable:FileFacet",
        "uco-observable:fileName": name,
    }
    if size is not None:
        file_facet["uco-observable:sizeInBytes"] = {"@type": "xsd:integer", "@value": str(size)}
    content: dict[str, Any] = {
        "@id": _id(),
        "@type": "uco-observable:ContentDataFacet",
        "uco-observable:hash": [_sha256(sha256)],
    }
    if mime:
        content["uco-observable:mimeType"] = mime
    return {
        "@id": _id(),
        "@type": "uco-observable:File",
        "uco-core:hasFacet": [file_facet, content],
    }


def _ref(node: dict[str, Any]) -> dict[str, str]:
    return {"@id": node["@id"]}


def _action(
    name: str,
    performer: dict[str, Any],
    when: datetime,
    objects: Sequence[dict[str, Any]],
    results: Sequence[dict[str, Any]],
    description: str,
) -> dict[str, Any]:
    action: dict[str, Any] = {
        "@id": _id(),
        "@type": "case-investigation:InvestigativeAction",
        "uco-core:name": name,
        "uco-core:description": description,
        "uco-action:performer": _ref(performer),
        "uco-action:startTime": _time(when),
        "uco-action:endTime": _time(when),
    }
    if objects:
        action["uco-action:object"] = [_ref(o) for o in objects]
    if results:
        action["uco-action:result"] = [_ref(r) for r in results]
    return action


def provenance_record(dossier: Dossier, documents: Sequence[PacketFile]) -> bytes:
    """The JSON-LD document (UTF-8) for ``dossier``, whose ``documents`` are already made."""
    unit = {
        "@id": _id(),
        "@type": "uco-identity:Organization",
        "uco-core:name": dossier.unit.name_fr,
    }
    graph: list[dict[str, Any]] = [unit]
    packaged: list[dict[str, Any]] = []
    for report in dossier.facts.reports:
        label = f"report {report.number}"
        envelope = _file(f"{label} (encrypted envelope)", report.body_envelope_sha256, None)
        received = _action(
            "received",
            unit,
            report.received_hour,
            [],
            [envelope],
            f"{label}: encrypted envelope received by the unit (hour of receipt)",
        )
        graph += [envelope, received]
        for item in report.evidence:
            sealed = _file(f"file {item.label} (encrypted envelope)", item.envelope_sha256, None)
            content = _file(item.packet_path, item.sha256, item.size, item.detected_type)
            record = {
                "@id": _id(),
                "@type": "case-investigation:ProvenanceRecord",
                "case-investigation:exhibitNumber": item.label,
                "uco-core:description": f"file {item.label} of {label}",
                "uco-core:object": [_ref(sealed), _ref(content)],
            }
            graph += [
                sealed,
                _action(
                    "received",
                    unit,
                    item.received_hour,
                    [],
                    [sealed],
                    f"file {item.label}: encrypted envelope received by the unit",
                ),
                content,
                _action(
                    "decrypted",
                    unit,
                    dossier.created_at,
                    [sealed],
                    [content, record],
                    f"file {item.label}: decrypted on the unit's isolated host to build "
                    "the packet; content hash authenticated by the envelope",
                ),
                record,
            ]
            packaged.append(content)
    for document in documents:
        node = _file(document.path, document.sha256, document.size)
        graph.append(node)
        packaged.append(node)
    graph.append(
        _action(
            "packaged",
            unit,
            dossier.created_at,
            packaged,
            [],
            f"referral packet {dossier.reference}: signed with the unit's OpenPGP key "
            f"{dossier.signer_fingerprint} and encrypted to the recipients",
        )
    )
    jsonld: dict[str, Any] = {"@context": CONTEXT, "@graph": graph}
    return json.dumps(jsonld, ensure_ascii=False, indent=1).encode("utf-8")
