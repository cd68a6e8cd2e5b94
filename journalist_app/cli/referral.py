"""``iblagh-officer referral …`` and ``custody verify``: referral packets from the command line.

referral directory import|show   the directory (partners, keys, rules), data
referral unit-key create|show    the unit's OpenPGP key
referral propose CASE            who the rules say is competent
referral build CASE              build, sign and encrypt the packet (one action)
referral export REF --to DIR     copy it to removable media (audited, with its hash)
referral ack FILE                import a signed acknowledgement
referral list CASE               the case's packets: sent, acknowledged, reference
custody verify CASE              the chain from intake to every packet, checked
"""

import argparse
from pathlib import Path
from typing import Any, TextIO

from crypto.openpgp import IsolatedGnuPG, KeyRefused
from journalist_app.cli.common import CliHelpers, add_you
from journalist_app.cli.progress import progress_bar, say
from journalist_app.config import OfficerConfig
from journalist_app.models import Case
from journalist_app.referral.acknowledgement import import_acknowledgement
from journalist_app.referral.custody import verify_custody
from journalist_app.referral.directory import (
    DirectoryError,
    current_directory,
    default_directory,
    propose,
)
from journalist_app.referral.errors import ReferralRefused
from journalist_app.referral.packet import ReferralRequest, build_packet
from journalist_app.referral.partners import REFUSAL_TEXT, import_directory
from journalist_app.referral.sending import (
    export_packet,
    export_size,
    get_referral,
    referrals_of,
)
from journalist_app.referral.unit_key import create_unit_key, current_unit_key
from journalist_app.roles import Permission, check_permission
from journalist_app.sync.blob_store_s3 import open_blob_store


def register(commands: "argparse._SubParsersAction[Any]", helpers: CliHelpers) -> None:
    """Add ``referral`` and ``custody`` to the ``iblagh-officer`` parser."""
    referral = commands.add_parser(
        "referral", help="referral packets to the judicial police and the prosecutor"
    ).add_subparsers(required=True, metavar="ACTION")

    directory = referral.add_parser("directory", help="the referral directory").add_subparsers(
        required=True, metavar="ACTION"
    )
    load = directory.add_parser("import", help="check every key, then put the file in force")
    add_you(load)
    load.add_argument("file", type=Path, help="the directory (TOML; docs/referral.md)")
    load.set_defaults(handler=helpers.bind(directory_import))
    show = directory.add_parser("show", help="partners in force and the state of their keys")
    add_you(show)
    show.set_defaults(handler=helpers.bind(directory_show))
    default = directory.add_parser("default", help="print the shipped default directory")
    default.set_defaults(handler=directory_default)

    unit_key = referral.add_parser("unit-key", help="the unit's OpenPGP key").add_subparsers(
        required=True, metavar="ACTION"
    )
    create = unit_key.add_parser("create", help="make the unit key (retires the previous one)")
    add_you(create)
    create.set_defaults(handler=helpers.bind(unit_key_create))
    public = unit_key.add_parser("show", help="print the unit's public key, for the partners")
    add_you(public)
    public.set_defaults(handler=helpers.bind(unit_key_show))

    suggest = referral.add_parser("propose", help="the competent units for a case")
    add_you(suggest)
    suggest.add_argument("case", type=int)
    suggest.set_defaults(handler=helpers.bind(referral_propose))

    build = referral.add_parser("build", help="build, sign and encrypt a case's packet")
    add_you(build)
    build.add_argument("case", type=int)
    build.add_argument("--qualification", required=True, help="a qualification id of the data")
    build.add_argument("--police", help="police unit id (default: the proposed one)")
    build.add_argument("--prosecutor", help="prosecutor id (default: the proposed one)")
    build.add_argument("--override-reason", default="", help="why not the proposed ones")
    build.add_argument(
        "--identity-reason",
        default="",
        help="(supervisor) put the reporters' identities in, for this reason",
    )
    build.set_defaults(handler=helpers.bind(referral_build))

    export = referral.add_parser("export", help="copy a packet to removable media and send it")
    add_you(export)
    export.add_argument("reference")
    export.add_argument("--to", required=True, type=Path, help="the export folder")
    export.set_defaults(handler=helpers.bind(referral_export))

    ack = referral.add_parser("ack", help="import a signed acknowledgement")
    add_you(ack)
    ack.add_argument("file", type=Path)
    ack.set_defaults(handler=helpers.bind(referral_ack))

    listing = referral.add_parser("list", help="a case's packets")
    add_you(listing)
    listing.add_argument("case", type=int)
    listing.set_defaults(handler=helpers.bind(referral_list))

    custody = commands.add_parser("custody", help="chain of custody").add_subparsers(
        required=True, metavar="ACTION"
    )
    verify = custody.add_parser("verify", help="check a case's chain from intake to packets")
    add_you(verify)
    verify.add_argument("case", type=int)
    verify.set_defaults(handler=helpers.bind(custody_verify))


def _refused(out: TextIO, exc: Exception) -> int:
    out.write(f"Refused, nothing changed: {exc}.\n")
    return 1


def directory_import(
    args: argparse.Namespace, config: OfficerConfig, out: TextIO, *, helpers: CliHelpers
) -> int:
    session, keyring = helpers.unlocked(config, args.officer)
    try:
        raw = args.file.read_bytes()
    except OSError as exc:
        out.write(f"Cannot read {args.file}: {exc.strerror}.\n")
        return 1
    try:
        result = import_directory(session, keyring, raw)
    except (DirectoryError, ReferralRefused) as exc:
        session.rollback()
        return _refused(out, exc)
    out.write(
        f"Directory {result.directory.sha256[:16]} in force: {result.with_key} partners "
        f"with a checked key, {result.without_key} without a key (they cannot receive "
        "a packet until you add theirs).\n"
    )
    return 0


def directory_show(
    args: argparse.Namespace, config: OfficerConfig, out: TextIO, *, helpers: CliHelpers
) -> int:
    session, keyring = helpers.unlocked(config, args.officer)
    check_permission(keyring, Permission.REPORTS_LIST)
    directory = current_directory(session)
    out.write(f"directory {directory.sha256[:16]} ({directory.country})\n")
    for partner in directory.partners.values():
        state = "no key"
        if partner.has_key:
            try:
                with IsolatedGnuPG() as gpg:
                    gpg.import_checked(partner.key, partner.fingerprint, use="encrypt")
                state = f"key {partner.fingerprint} ok"
            except KeyRefused as exc:
                state = f"key refused: {REFUSAL_TEXT[exc.reason]}"
        out.write(f"{partner.kind}\t{partner.id}\t{state}\t{partner.name_fr}\n")
    return 0


def directory_default(args: argparse.Namespace, config: OfficerConfig, out: TextIO) -> int:
    out.write(default_directory().text)
    return 0


def unit_key_create(
    args: argparse.Namespace, config: OfficerConfig, out: TextIO, *, helpers: CliHelpers
) -> int:
    session, keyring = helpers.unlocked(config, args.officer)
    record = create_unit_key(session, keyring, current_directory(session))
    out.write(
        f"Unit OpenPGP key {record.fingerprint} made; give its public key to the partners "
        "(`referral unit-key show`).\n"
    )
    return 0


def unit_key_show(
    args: argparse.Namespace, config: OfficerConfig, out: TextIO, *, helpers: CliHelpers
) -> int:
    session, keyring = helpers.unlocked(config, args.officer)
    check_permission(keyring, Permission.REFERRALS_SEND)
    record = current_unit_key(session)
    if record is None:
        out.write("The unit has no OpenPGP key yet: run `referral unit-key create`.\n")
        return 1
    out.write(record.public_key)
    return 0


def referral_propose(
    args: argparse.Namespace, config: OfficerConfig, out: TextIO, *, helpers: CliHelpers
) -> int:
    session, keyring = helpers.unlocked(config, args.officer)
    check_permission(keyring, Permission.REPORTS_READ)
    case = session.get(Case, args.case)
    if case is None:
        out.write(f"No case {args.case}.\n")
        return 1
    proposal = propose(current_directory(session), case.category, case.territory_code)
    out.write(f"rule\t{proposal.rule.id if proposal.rule else '-'}\n")
    out.write(f"police\t{proposal.police.id if proposal.police else '-'}\n")
    out.write(f"prosecutor\t{proposal.prosecutor.id if proposal.prosecutor else '-'}\n")
    if proposal.missing:
        out.write(f"missing\t{proposal.missing}\n")
    if proposal.doubt:
        out.write(f"unverified\t{proposal.doubt}\n")
    return 0


def referral_build(
    args: argparse.Namespace, config: OfficerConfig, out: TextIO, *, helpers: CliHelpers
) -> int:
    session, keyring = helpers.unlocked(config, args.officer)
    case = session.get(Case, args.case)
    if case is None:
        out.write(f"No case {args.case}.\n")
        return 1
    proposal = propose(current_directory(session), case.category, case.territory_code)
    police = args.police or (proposal.police.id if proposal.police else "")
    prosecutor = args.prosecutor or (proposal.prosecutor.id if proposal.prosecutor else "")
    request = ReferralRequest(
        case_id=args.case,
        police_id=police,
        prosecutor_id=prosecutor,
        qualification_id=args.qualification,
        override_reason=args.override_reason,
        include_identity=bool(args.identity_reason),
        identity_reason=args.identity_reason,
    )
    try:
        with progress_bar("evidence", in_bytes=True) as bar:
            referral = build_packet(
                session,
                open_blob_store(config),
                keyring,
                config.data_dir,
                request,
                progress=bar.update,
            )
    except ReferralRefused as exc:
        return _refused(out, exc)
    say(f"Packet {referral.reference} built: {referral.packet_sha256}", out)
    out.write(f"Send it with: iblagh-officer referral export {referral.reference} --to DIR\n")
    return 0


def referral_export(
    args: argparse.Namespace, config: OfficerConfig, out: TextIO, *, helpers: CliHelpers
) -> int:
    session, keyring = helpers.unlocked(config, args.officer)
    try:
        total = export_size(config.data_dir, get_referral(session, args.reference))
        with progress_bar("export", total, in_bytes=True) as bar:
            written = export_packet(
                session, keyring, config.data_dir, args.reference, args.to, progress=bar.update
            )
    except (ReferralRefused, OSError) as exc:
        session.rollback()
        return _refused(out, exc)
    for path in written:
        say(str(path), out)
    out.write(f"Packet {args.reference} sent (audited with its hash).\n")
    return 0


def referral_ack(
    args: argparse.Namespace, config: OfficerConfig, out: TextIO, *, helpers: CliHelpers
) -> int:
    session, keyring = helpers.unlocked(config, args.officer)
    try:
        result = import_acknowledgement(session, keyring, args.file.read_bytes())
    except (ReferralRefused, OSError) as exc:
        session.rollback()
        return _refused(out, exc)
    out.write(
        f"Packet {result.referral.reference} acknowledged by {result.signer.name_fr}, "
        f"their reference {result.their_reference}.\n"
    )
    return 0


def referral_list(
    args: argparse.Namespace, config: OfficerConfig, out: TextIO, *, helpers: CliHelpers
) -> int:
    session, keyring = helpers.unlocked(config, args.officer)
    check_permission(keyring, Permission.REPORTS_READ)
    for referral in referrals_of(session, args.case):
        out.write(
            f"{referral.reference}\t{referral.kind}\t{referral.status}\t"
            f"{referral.police_id or referral.platform}\t{referral.their_reference or '-'}\t"
            f"{referral.packet_sha256}\n"
        )
    return 0


def custody_verify(
    args: argparse.Namespace, config: OfficerConfig, out: TextIO, *, helpers: CliHelpers
) -> int:
    session, keyring = helpers.unlocked(config, args.officer)
    check_permission(keyring, Permission.REPORTS_READ)
    result = verify_custody(session, open_blob_store(config), config.data_dir, args.case)
    for line in result.lines:
        out.write(line + "\n")
    if not result.intact:
        out.write(f"CHAIN OF CUSTODY BROKEN: {result.breaks} link(s) above.\n")
        return 1
    out.write("Chain of custody intact.\n")
    return 0
