"""The `federation` section: whom we federate with, and how carefully.

The IP range lists guard outbound requests (federation, media downloads,
push) against reaching private networks; `is_ip_blocked` applies them.
"""

import ipaddress
from typing import Optional, Union

import attrs

from synapse.config._base import Node, ParseContext

IPNetwork = Union[ipaddress.IPv4Network, ipaddress.IPv6Network]

KEYS = frozenset(
    {
        "federation_domain_whitelist",
        "federation_verify_certificates",
        "federation_client_minimum_tls_version",
        "federation_certificate_verification_whitelist",
        "ip_range_blacklist",
        "ip_range_whitelist",
    }
)

# private, loopback, link-local, documentation and multicast ranges
DEFAULT_IP_RANGE_BLACKLIST = (
    "127.0.0.0/8", "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "192.0.0.0/24",
    "169.254.0.0/16", "192.88.99.0/24", "198.18.0.0/15", "192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24",
    "224.0.0.0/4", "::1/128", "fe80::/10", "fc00::/7", "2001:db8::/32", "ff00::/8", "fec0::/10",
)
# never reachable destinations, blocked whatever the configuration says
_ALWAYS_BLOCKED = ("0.0.0.0/32", "::/128")


def _networks(node: Node, default: tuple[str, ...]) -> list[IPNetwork]:
    result = []
    for i, text in enumerate(node.str_list(list(default))):
        try:
            result.append(ipaddress.ip_network(text, strict=False))
        except ValueError:
            raise Node(text, node.path + (i,), node.file).error(f"{text!r} is not an IP range") from None
    return result


@attrs.frozen
class FederationConfig:
    # None means federate with everyone
    federation_domain_whitelist: Optional[list[str]]
    federation_verify_certificates: bool
    federation_client_minimum_tls_version: str
    federation_certificate_verification_whitelist: list[str]
    ip_range_blacklist: list[IPNetwork]
    ip_range_whitelist: list[IPNetwork]

    @classmethod
    def parse(cls, ctx: ParseContext) -> "FederationConfig":
        root = ctx.root
        blacklist = _networks(root["ip_range_blacklist"], DEFAULT_IP_RANGE_BLACKLIST)
        blacklist += [ipaddress.ip_network(n) for n in _ALWAYS_BLOCKED]
        return cls(
            federation_domain_whitelist=root["federation_domain_whitelist"].str_list(None),
            federation_verify_certificates=root["federation_verify_certificates"].as_bool(True),
            federation_client_minimum_tls_version=root["federation_client_minimum_tls_version"].choice(
                ("1", "1.1", "1.2", "1.3"), "1"
            ),
            federation_certificate_verification_whitelist=root[
                "federation_certificate_verification_whitelist"
            ].str_list([]),
            ip_range_blacklist=blacklist,
            ip_range_whitelist=_networks(root["ip_range_whitelist"], ()),
        )

    def is_domain_allowed(self, server_name: str) -> bool:
        whitelist = self.federation_domain_whitelist
        return whitelist is None or server_name in whitelist

    def is_ip_blocked(self, ip: str) -> bool:
        """True if outbound requests must not go to `ip`."""
        address = ipaddress.ip_address(ip)
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            address = address.ipv4_mapped
        if any(address in net for net in self.ip_range_whitelist):
            return False
        return any(address in net for net in self.ip_range_blacklist)
