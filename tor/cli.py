"""``iblagh-tor``: the public host's onion services, and the officer host's client key.

On the public host::

    iblagh-tor init                  # onion keys, first officer client key; prints all
    iblagh-tor serve                 # publish both onions until stopped (systemd)
    iblagh-tor show                  # both addresses and the authorised officer hosts
    iblagh-tor address public        # one address, bare, for scripts (Onion-Location)
    iblagh-tor authorise-officer --name NAME [--public-key KEY]
    iblagh-tor revoke-officer --name NAME
    iblagh-tor balance-config --backend ADDRESS [--backend ADDRESS ...]   (OnionBalance)

On the officer host::

    iblagh-tor client-key --sync-onion ADDRESS --out DIR/iblagh-sync.auth_private

Configuration comes from ``IBLAGH_*`` variables (tor/config.py). Expected failures
print one line and exit 1 (a refused argument: exit 2); no traceback.
"""

import argparse
import signal
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from types import FrameType
from typing import TextIO

from tor.balance import (
    DEFAULT_BACKEND_HS_DIR,
    check_backends,
    parse_onion_address,
    read_hostname_file,
    write_balance_config,
)
from tor.client_auth import (
    AUTH_PRIVATE_SUFFIX,
    ClientPrivateKey,
    ClientPublicKey,
    authorise_client,
    authorised_clients,
    check_client_name,
    revoke_client,
    write_auth_private_file,
)
from tor.config import TorConfig, check_target
from tor.errors import BadArguments, MalformedKey, TorConfigError, TorError, TorStartFailed
from tor.host import OnionAddresses, init_keys, load_addresses, publish_public_host
from tor.keys import ensure_private_dir, load_or_create_onion_key
from tor.process import open_tor

FIRST_OFFICER = "officer"


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script; returns the exit status."""
    args = _parser().parse_args(argv)
    try:
        status: int = args.handler(args, TorConfig.from_env(), sys.stdout)
        return status
    except BadArguments as exc:
        print(f"iblagh-tor: error: {exc}", file=sys.stderr)
        return 2
    except TorError as exc:
        print(f"iblagh-tor: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("iblagh-tor: interrupted", file=sys.stderr)
        return 130


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="iblagh-tor",
        description=(
            "Onion services of Iblagh's public host (public site with PoW defence, sync "
            "API with client authorisation). Configuration: IBLAGH_DATA_DIR, IBLAGH_TOR_*."
        ),
    )
    commands = parser.add_subparsers(required=True, metavar="COMMAND")

    init = commands.add_parser(
        "init", help="create the onion keys (once) and the first officer client key"
    )
    init.add_argument(
        "--no-officer-key",
        action="store_true",
        help="do not make a client key here (the officer host makes its own: client-key)",
    )
    init.set_defaults(handler=cmd_init)

    show = commands.add_parser("show", help="print both addresses and the authorised officers")
    show.set_defaults(handler=cmd_show)

    address = commands.add_parser("address", help="print one address, bare")
    address.add_argument("which", choices=("public", "sync"))
    address.set_defaults(handler=cmd_address)

    serve = commands.add_parser("serve", help="publish both onion services until stopped")
    serve.set_defaults(handler=cmd_serve)

    authorise = commands.add_parser(
        "authorise-officer", help="let one more officer host reach the sync onion"
    )
    authorise.add_argument("--name", required=True, help="a name for that officer host")
    authorise.add_argument(
        "--public-key",
        help="its x25519 public key (from 'client-key' on that host); "
        "without it a key pair is made and the private half printed once",
    )
    authorise.set_defaults(handler=cmd_authorise)

    revoke = commands.add_parser("revoke-officer", help="remove an officer host's client key")
    revoke.add_argument("--name", required=True)
    revoke.set_defaults(handler=cmd_revoke)

    client_key = commands.add_parser(
        "client-key", help="(officer host) make this host's client key for the sync onion"
    )
    client_key.add_argument("--sync-onion", required=True, help="the sync onion's address")
    client_key.add_argument(
        "--out",
        required=True,
        type=Path,
        help=f"file to write, in tor's ClientOnionAuthDir, ending in {AUTH_PRIVATE_SUFFIX}",
    )
    client_key.set_defaults(handler=cmd_client_key)

    balance = commands.add_parser(
        "balance-config",
        help="OnionBalance (v3): the public onion in front of several replicas' onions",
    )
    balance.add_argument(
        "--backend",
        action="append",
        default=[],
        metavar="ADDRESS",
        help="a replica's own onion address (repeat for each)",
    )
    balance.add_argument(
        "--backend-hostname",
        action="append",
        default=[],
        type=Path,
        metavar="FILE",
        help="a replica tor's HiddenServiceDir/hostname file, copied here (repeat for each)",
    )
    balance.add_argument(
        "--out",
        type=Path,
        help="folder to write (0700); default: tor/onionbalance/ in the data dir",
    )
    balance.add_argument(
        "--backend-hs-dir",
        default=DEFAULT_BACKEND_HS_DIR,
        help="HiddenServiceDir of the replicas' tor, for the torrc lines "
        f"(default {DEFAULT_BACKEND_HS_DIR})",
    )
    balance.add_argument(
        "--backend-target",
        help="where a replica's site listens, for the torrc lines "
        "(default: IBLAGH_TOR_PUBLIC_TARGET)",
    )
    balance.set_defaults(handler=cmd_balance_config)
    return parser


# --- commands ---------------------------------------------------------------------------


def cmd_init(args: argparse.Namespace, config: TorConfig, out: TextIO) -> int:
    addresses, created = init_keys(config)
    if created:
        print(
            f"onion keys created in {config.tor_dir}: back them up (they are the addresses)",
            file=out,
        )
    else:
        print(f"onion keys already in {config.tor_dir}: unchanged", file=out)
    _print_addresses(addresses, out)
    if not authorised_clients(config.clients_dir) and not args.no_officer_key:
        _new_client(config, FIRST_OFFICER, addresses.sync, out)
    elif not authorised_clients(config.clients_dir):
        print(
            "\nno officer host is authorised yet: on the officer host run\n"
            f"  iblagh-tor client-key --sync-onion {addresses.sync}.onion --out FILE\n"
            "then here: iblagh-tor authorise-officer --name NAME --public-key KEY",
            file=out,
        )
    return 0


def cmd_show(_args: argparse.Namespace, config: TorConfig, out: TextIO) -> int:
    addresses = load_addresses(config)
    _print_addresses(addresses, out)
    clients = authorised_clients(config.clients_dir)
    print(f"officer hosts authorised for the sync onion: {len(clients)}", file=out)
    for name, key in clients.items():
        print(f"  {name}: {key.base32}", file=out)
    return 0


def cmd_address(args: argparse.Namespace, config: TorConfig, out: TextIO) -> int:
    addresses = load_addresses(config)
    chosen = addresses.public if args.which == "public" else addresses.sync
    print(chosen + ".onion", file=out)
    return 0


def cmd_authorise(args: argparse.Namespace, config: TorConfig, out: TextIO) -> int:
    addresses = load_addresses(config)
    check_client_name(args.name)
    if args.public_key:
        key = ClientPublicKey.from_base32(args.public_key)
        authorise_client(config.clients_dir, args.name, key)
        print(f"officer host {args.name!r} authorised: {key.base32}", file=out)
    else:
        _new_client(config, args.name, addresses.sync, out)
    print("restart 'iblagh-tor serve' for it to take effect", file=out)
    return 0


def cmd_revoke(args: argparse.Namespace, config: TorConfig, out: TextIO) -> int:
    if not revoke_client(config.clients_dir, args.name):
        raise MalformedKey(f"no officer host named {args.name!r} is authorised")
    print(f"officer host {args.name!r} revoked: restart 'iblagh-tor serve'", file=out)
    return 0


def cmd_client_key(args: argparse.Namespace, _config: TorConfig, out: TextIO) -> int:
    key = ClientPrivateKey.generate()
    path = write_auth_private_file(args.out, args.sync_onion, key)
    print(f"client key written to {path} (keep it there: tor's ClientOnionAuthDir)", file=out)
    print("give this public key to the public host's operator:", file=out)
    print(f"  iblagh-tor authorise-officer --name NAME --public-key {key.public.base32}", file=out)
    return 0


def cmd_balance_config(args: argparse.Namespace, config: TorConfig, out: TextIO) -> int:
    backends = [parse_onion_address(text, "--backend") for text in args.backend]
    backends += [read_hostname_file(path) for path in args.backend_hostname]
    try:
        target = check_target("--backend-target", args.backend_target or config.public_target)
    except TorConfigError as exc:
        raise BadArguments(str(exc)) from None
    if not args.backend_hs_dir.startswith("/"):
        raise BadArguments("--backend-hs-dir must be an absolute path")
    check_backends(backends, frontend="")  # refuse before any key is made
    # The frontend is the public onion: reporters keep the address they know.
    ensure_private_dir(config.tor_dir)
    frontend_key, key_made = load_or_create_onion_key(config.public_key_path)
    files = write_balance_config(
        args.out or config.balance_dir,
        frontend_key,
        backends,
        backend_hs_dir=args.backend_hs_dir,
        backend_target=target,
    )
    if key_made:
        print(f"public onion key created in {config.public_key_path}: back it up", file=out)
    print(f"frontend (the address reporters use): http://{files.frontend}.onion/", file=out)
    print(f"backends: {len(files.backends)}", file=out)
    for address in files.backends:
        print(f"  {address}.onion", file=out)
    made = "written" if files.key_created else "unchanged"
    print(f"OnionBalance key ({made}, 0600): {files.key}", file=out)
    print(f"OnionBalance configuration: {files.config}", file=out)
    print(
        f"each replica's tor: the lines of {files.backend_torrc}, and {files.ob_config} "
        f"in its HiddenServiceDir ({args.backend_hs_dir}); docs/operator.md §12.7",
        file=out,
    )
    return 0


def cmd_serve(_args: argparse.Namespace, config: TorConfig, out: TextIO) -> int:
    addresses = load_addresses(config)
    stop = _stop_on_signals()
    started = time.monotonic()
    with open_tor(config) as tor:
        host = publish_public_host(tor.controller, config)
        where = f"launched, log {tor.log_path}" if tor.launched else f"attached at {config.control}"
        print(f"tor {where}; published in {time.monotonic() - started:.1f} s", file=out)
        _print_addresses(addresses, out)
        if host.public is None:
            print(
                "public onion: not published here (IBLAGH_TOR_PUBLIC_ONION=0): "
                "OnionBalance publishes it",
                file=out,
            )
        else:
            pow_settings = host.public.pow
            print(
                "PoW defence on the public onion: "
                + (
                    f"on (queue rate {pow_settings.queue_rate}, burst {pow_settings.queue_burst})"
                    if pow_settings
                    else "off"
                ),
                file=out,
            )
        print(f"officer hosts authorised for the sync onion: {len(host.sync.clients)}", file=out)
        out.flush()
        while not stop.wait(1.0):
            if not tor.alive():
                raise TorStartFailed("tor stopped unexpectedly; its log says:\n" + tor.log_tail())
    print("onion services withdrawn", file=out)
    return 0


# --- helpers ----------------------------------------------------------------------------


def _print_addresses(addresses: OnionAddresses, out: TextIO) -> None:
    print(f"public onion (reporters):   http://{addresses.public}.onion/", file=out)
    print(
        f"sync onion (officer hosts): http://{addresses.sync}.onion/  "
        "(client authorisation required)",
        file=out,
    )


def _new_client(config: TorConfig, name: str, sync_id: str, out: TextIO) -> None:
    key = ClientPrivateKey.generate()
    authorise_client(config.clients_dir, name, key.public)
    print(
        f"\nofficer host {name!r} authorised. Its client key is shown ONCE and kept nowhere "
        "here:\nput this line alone in a file ending in .auth_private in the officer host "
        "tor's\nClientOnionAuthDir (mode 0600), then set there IBLAGH_SYNC_URL="
        f"http://{sync_id}.onion\nand IBLAGH_SYNC_SOCKS=127.0.0.1:9050.\n\n"
        f"  {key.auth_private_line(sync_id)}\n",
        file=out,
    )


def _stop_on_signals() -> threading.Event:
    stop = threading.Event()

    def handler(_signum: int, _frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)
    return stop


if __name__ == "__main__":
    sys.exit(main())
