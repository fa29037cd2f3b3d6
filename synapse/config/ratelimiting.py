"""The `ratelimiting` section: token-bucket settings per action.

Each limit is `{per_second, burst_count}`; absent keys take Synapse's
defaults so an unconfigured server limits the same way Synapse does.
"""

from typing import Optional

import attrs

from synapse.config._base import Node, ParseContext

KEYS = frozenset(
    {
        "rc_message",
        "rc_messages_per_second",
        "rc_message_burst_count",
        "rc_registration",
        "rc_login",
        "rc_joins",
        "rc_joins_per_room",
        "rc_invites",
        "rc_room_creation",
        "rc_presence",
        "rc_admin_redaction",
    }
)


@attrs.frozen
class RatelimitSettings:
    per_second: float
    burst_count: int


def _parse(node: Node, per_second: float, burst_count: int) -> RatelimitSettings:
    node.mapping()
    return RatelimitSettings(
        per_second=node["per_second"].as_float(per_second, minimum=0),
        burst_count=int(node["burst_count"].as_float(burst_count, minimum=0)),
    )


@attrs.frozen
class RatelimitConfig:
    rc_message: RatelimitSettings
    rc_registration: RatelimitSettings
    rc_login_address: RatelimitSettings
    rc_login_account: RatelimitSettings
    rc_login_failed_attempts: RatelimitSettings
    rc_joins_local: RatelimitSettings
    rc_joins_remote: RatelimitSettings
    rc_joins_per_room: RatelimitSettings
    rc_invites_per_room: RatelimitSettings
    rc_invites_per_user: RatelimitSettings
    rc_invites_per_issuer: RatelimitSettings
    rc_room_creation: RatelimitSettings
    rc_presence_per_user: RatelimitSettings
    # None: admins' redactions use the rc_message limit, as in Synapse
    rc_admin_redaction: Optional[RatelimitSettings]

    @classmethod
    def parse(cls, ctx: ParseContext) -> "RatelimitConfig":
        root = ctx.root
        if root["rc_message"].present:
            rc_message = _parse(root["rc_message"], 0.2, 10)
        else:
            # the pre-2019 spelling, still honoured by Synapse
            rc_message = RatelimitSettings(
                per_second=root["rc_messages_per_second"].as_float(0.2, minimum=0),
                burst_count=int(root["rc_message_burst_count"].as_float(10, minimum=0)),
            )
        login, joins, invites = root["rc_login"], root["rc_joins"], root["rc_invites"]
        admin_redaction = root["rc_admin_redaction"]
        return cls(
            rc_message=rc_message,
            rc_registration=_parse(root["rc_registration"], 0.17, 3),
            rc_login_address=_parse(login["address"], 0.003, 5),
            rc_login_account=_parse(login["account"], 0.003, 5),
            rc_login_failed_attempts=_parse(login["failed_attempts"], 0.17, 3),
            rc_joins_local=_parse(joins["local"], 0.1, 10),
            rc_joins_remote=_parse(joins["remote"], 0.01, 10),
            rc_joins_per_room=_parse(root["rc_joins_per_room"], 1, 10),
            rc_invites_per_room=_parse(invites["per_room"], 0.3, 10),
            rc_invites_per_user=_parse(invites["per_user"], 0.003, 5),
            rc_invites_per_issuer=_parse(invites["per_issuer"], 0.3, 10),
            rc_room_creation=_parse(root["rc_room_creation"], 0.016, 10),
            rc_presence_per_user=_parse(root["rc_presence"]["per_user"], 0.1, 1),
            rc_admin_redaction=_parse(admin_redaction, 0.17, 3) if admin_redaction.present else None,
        )
