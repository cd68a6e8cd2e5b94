"""A small officer host for triage tests: real database, blob store and envelopes.

Reports are stored as a sync would store them (``journalist_app.sync.pull.store_submission``'s
registration step), without a public host in between; officers are rows plus the
keyrings their login would unlock, so tests do not depend on the login form.
"""

import hashlib
import json
import secrets
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from nacl.public import PrivateKey
from nacl.signing import SigningKey
from sqlalchemy import select
from sqlalchemy.orm import Session

from crypto.contents import BODY_SIGNATURE_PREFIX, envelope_sha256, new_binding
from crypto.encoding import b64encode
from crypto.envelope import EnvelopeMetadata, open_bytes, seal_bytes
from crypto.keys import key_id_hex
from journalist_app.config import OfficerConfig
from journalist_app.database import create_schema, make_engine, make_session_factory
from journalist_app.keys.keyring import UnlockedKeyring
from journalist_app.models import Officer, Reply, Report, ReportBlob, UnitKey
from journalist_app.roles import ROLE_UNIT_KEYS, Role
from journalist_app.sync.blob_store import LocalBlobStore
from journalist_app.triage.ingest import register_report
from journalist_app.views.context import EXTENSION, KEYRING_SESSION_KEY

SUPERVISOR, ANALYST, EXPERT = "sara", "omar", "tariq"


@dataclass
class TriageWorld:
    """One officer host with an intake key, an identity key and three officers of
    different roles, each holding the keys their role is granted (roles.ROLE_UNIT_KEYS)."""

    config: OfficerConfig
    session: Session
    store: LocalBlobStore
    intake: PrivateKey = field(default_factory=PrivateKey.generate)
    # Identity sections are sealed to this key only, as the public host does.
    identity: PrivateKey = field(default_factory=PrivateKey.generate)
    keyrings: dict[str, UnlockedKeyring] = field(default_factory=dict)
    # Each report's reporter key, to open the replies sealed to them.
    reporter_keys: dict[str, PrivateKey] = field(default_factory=dict)
    # Each reporter id's signing key (the receipt code's Ed25519 key, docs/receipt.md).
    signing_keys: dict[str, SigningKey] = field(default_factory=dict)

    @property
    def supervisor(self) -> UnlockedKeyring:
        return self.keyrings[SUPERVISOR]

    @property
    def analyst(self) -> UnlockedKeyring:
        return self.keyrings[ANALYST]

    @property
    def expert(self) -> UnlockedKeyring:
        return self.keyrings[EXPERT]

    def add_officer(self, username: str, role: str) -> UnlockedKeyring:
        officer = Officer(
            username=username,
            password_hash=b"not used: tests hand out keyrings",
            public_key=secrets.token_bytes(32),
            wrapped_private_key=b"{}",
            role=role,
        )
        self.session.add(officer)
        self.session.commit()
        kinds = ROLE_UNIT_KEYS[Role(role)]
        keyring = UnlockedKeyring(
            username=username,
            intake_keys={key_id_hex(bytes(self.intake.public_key)): self.intake}
            if "intake" in kinds
            else {},
            identity_keys={key_id_hex(bytes(self.identity.public_key)): self.identity}
            if "identity" in kinds
            else {},
            officer_id=officer.id,
            role=role,
            session_epoch=officer.session_epoch,
        )
        self.keyrings[username] = keyring
        return keyring

    def seal(self, content: bytes, kind: str, name: str = "", content_type: str = "") -> bytes:
        """Sealed as the public host seals it: an identity section to the identity key
        only, anything else to the intake key only."""
        recipient = self.identity if kind == "identity" else self.intake
        return seal_bytes(
            content,
            [recipient.public_key],
            EnvelopeMetadata(
                kind=kind, name=name, content_type=content_type or "application/octet-stream"
            ),
        )

    def add_report(
        self,
        body: dict[str, Any] | bytes,
        *,
        received: datetime = datetime(2026, 11, 28, 18),
        identity: str | None = None,
        attachments: Sequence[tuple[str, bytes]] = (),
        reporter_id: str | None = None,
        kind: str = "report",
        raw_blobs: dict[str, bytes] | None = None,
        version: int = 2,
        sign_with: SigningKey | None = None,
    ) -> str:
        """Store a sealed report as the sync does, queued and not yet read. Returns its id.

        A dict ``body`` becomes a version 2 body (docs/envelope.md) bound to the identity
        and attachments given and signed with the reporter id's key (or ``sign_with``);
        ``version=1`` writes the unsigned version 1 document; bytes are sealed as given.
        """
        blobs: dict[str, bytes] = {}
        reporter_id = reporter_id or secrets.token_hex(16)
        signing_key = self.signing_keys.setdefault(reporter_id, SigningKey.generate())
        binding = new_binding()
        if identity is not None:
            document = json.dumps(
                {"v": version, "full_name": identity}
                | ({"binding": binding} if version >= 2 else {})
            ).encode()
            blobs["identity"] = self.seal(document, "identity", content_type="application/json")
        for index, (name, data) in enumerate(attachments, start=1):
            blobs[f"attachment-{index}"] = self.seal(data, "attachment", name=name)
        if isinstance(body, bytes):
            content = body
        elif version < 2:
            content = json.dumps({"v": 1, **body}).encode()
        else:
            content = self.signed_body(
                {
                    "attachments": [
                        {
                            "blob": f"attachment-{index}",
                            "name": name,
                            "type": "application/octet-stream",
                            "size": len(data),
                            "sha256": hashlib.sha256(data).hexdigest(),
                        }
                        for index, (name, data) in enumerate(attachments, start=1)
                    ],
                    **body,
                    "binding": binding,
                    "identity": (
                        {"sha256": envelope_sha256(blobs["identity"])}
                        if "identity" in blobs
                        else None
                    ),
                    "reporter_verify_key": b64encode(bytes(signing_key.verify_key)),
                },
                sign_with or signing_key,
            )
        blobs["body"] = self.seal(content, kind, content_type="application/json")
        blobs.update(raw_blobs or {})
        report_id = secrets.token_hex(16)
        reporter_key = PrivateKey.generate()
        if reporter_id is not None:
            reporter_key = next(
                (
                    self.reporter_keys[r.id]
                    for r in self.session.scalars(
                        select(Report).where(Report.reporter_id == reporter_id)
                    )
                ),
                reporter_key,
            )
        self.reporter_keys[report_id] = reporter_key
        rows = []
        for name, data in blobs.items():
            relative = self.store.relative_path(report_id, name)
            with self.store.writer(relative) as handle:
                handle.write(data)
            rows.append(
                ReportBlob(
                    name=name,
                    path=relative,
                    size=len(data),
                    sha256=hashlib.sha256(data).hexdigest(),
                )
            )
        report = Report(
            id=report_id,
            kind=kind,
            reporter_id=reporter_id,
            reporter_public_key=bytes(reporter_key.public_key),
            received_hour=received,
            blobs=rows,
        )
        self.session.add(report)
        register_report(self.session, report)
        self.session.commit()
        return report_id

    @staticmethod
    def signed_body(document: dict[str, Any], key: SigningKey) -> bytes:
        """A version 2 body wrapper around ``document`` signed with ``key``."""
        content = json.dumps({"v": 2, **document}, ensure_ascii=False)
        signature = key.sign(BODY_SIGNATURE_PREFIX + content.encode("utf-8")).signature
        return json.dumps(
            {"v": 2, "content": content, "signature": b64encode(signature)}, ensure_ascii=False
        ).encode("utf-8")

    def replies_to(self, report_id: str) -> list[dict[str, Any]]:
        """The reply documents queued for this report's reporter, oldest first."""
        report = self.session.get(Report, report_id)
        assert report is not None
        envelopes = self.session.scalars(
            select(Reply.envelope)
            .where(Reply.reporter_id == report.reporter_id)
            .order_by(Reply.created_at, Reply.id)
        )
        key = self.reporter_keys[report_id]
        return [json.loads(open_bytes(envelope, [key])[1]) for envelope in envelopes]


def make_world(tmp_path: Path, database_url: str | None = None) -> Iterator[TriageWorld]:
    """The world on SQLite in ``tmp_path``, or on the database at ``database_url``."""
    environ = {
        "IBLAGH_DATA_DIR": str(tmp_path / "officer"),
        "IBLAGH_KDF": "fast",
        "IBLAGH_TESTING": "1",
    }
    if database_url is not None:
        environ["IBLAGH_DATABASE_URL"] = database_url
    config = OfficerConfig.from_env(environ)
    config.ensure_data_dir()
    engine = make_engine(config.database_url)
    create_schema(engine)
    session = make_session_factory(engine)()
    world = TriageWorld(config=config, session=session, store=LocalBlobStore(config.data_dir))
    # The unit's public keys, as `keys init` records them: officer-only envelopes (reply
    # copies, notes) are sealed to the intake key.
    for role, key in (("intake", world.intake), ("identity", world.identity)):
        public = bytes(key.public_key)
        session.add(UnitKey(key_id=key_id_hex(public), role=role, public_key=public))
    session.commit()
    world.add_officer(SUPERVISOR, "supervisor")
    world.add_officer(ANALYST, "analyst")
    world.add_officer(EXPERT, "technical_expert")
    yield world
    session.close()
    engine.dispose()


def log_in(app: Flask, client: FlaskClient, keyring: UnlockedKeyring) -> None:
    """What a successful login leaves behind: the keyring in memory, its id in the cookie."""
    session_id = app.extensions[EXTENSION].keyrings.open(keyring)
    with client.session_transaction() as cookie:
        cookie[KEYRING_SESSION_KEY] = session_id
