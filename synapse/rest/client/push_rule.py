"""Push rules API: thin servlets over the push_rules stream.

Reads serve from the store on any process; writes go through
`hs.stream_writer("push_rules")`, which validates against the user's
current rules on the writer (missing rule, bad `before`/`after`).
"""

from typing import TYPE_CHECKING, Any

from twisted.web.server import Request

from synapse.api.errors import Codes, NotFoundError, SynapseError
from synapse.http.servlet import RestServlet, client_patterns, parse_json_object_from_request, parse_string
from synapse.push.rules import PushRule, check_kind, clean_actions

if TYPE_CHECKING:
    from synapse.server import HomeServer

JsonDict = dict[str, Any]


class _PushRulesServlet(RestServlet):
    def __init__(self, hs: "HomeServer") -> None:
        self._hs = hs
        self._stream = hs.user_streams["push_rules"]

    async def _user(self, request: Request) -> str:
        return (await self._hs.auth.get_user_by_req(request)).user_id

    async def _rule(self, user_id: str, scope: str, kind: str, rule_id: str) -> PushRule:
        check_kind(scope, kind)
        rule = await self._stream.get_rule(user_id, kind, rule_id)
        if rule is None:
            raise NotFoundError("Push rule not found")
        return rule


class PushRulesServlet(_PushRulesServlet):
    """GET /pushrules/ (every scope) and /pushrules/global/ (one ruleset)"""

    PATTERNS = client_patterns("/pushrules/") + client_patterns("/pushrules/{scope}/")

    async def on_GET(self, request: Request, scope: str = "") -> tuple[int, JsonDict]:
        user_id = await self._user(request)
        if scope and scope != "global":
            raise SynapseError(400, "Only the 'global' scope is supported", Codes.INVALID_PARAM)
        ruleset = await self._stream.get_ruleset(user_id)
        return 200, (ruleset if scope else {"global": ruleset})


class PushRuleServlet(_PushRulesServlet):
    """GET|PUT|DELETE /pushrules/{scope}/{kind}/{ruleId}"""

    PATTERNS = client_patterns("/pushrules/{scope}/{kind}/{ruleId}")

    async def on_GET(self, request: Request, scope: str, kind: str, ruleId: str) -> tuple[int, JsonDict]:
        user_id = await self._user(request)
        return 200, (await self._rule(user_id, scope, kind, ruleId)).to_json(user_id)

    async def on_PUT(self, request: Request, scope: str, kind: str, ruleId: str) -> tuple[int, JsonDict]:
        user_id = await self._user(request)
        check_kind(scope, kind)
        body = parse_json_object_from_request(request)
        await self._hs.stream_writer("push_rules").put_rule(
            user_id=user_id,
            kind=kind,
            rule_id=ruleId,
            body=body,
            before=parse_string(request, "before"),
            after=parse_string(request, "after"),
        )
        return 200, {}

    async def on_DELETE(self, request: Request, scope: str, kind: str, ruleId: str) -> tuple[int, JsonDict]:
        user_id = await self._user(request)
        check_kind(scope, kind)
        await self._hs.stream_writer("push_rules").delete_rule(user_id=user_id, kind=kind, rule_id=ruleId)
        return 200, {}


class _AttributeServlet(_PushRulesServlet):
    """GET|PUT of one attribute of a rule."""

    ATTRIBUTE: str

    def _value(self, body: JsonDict) -> Any:
        raise NotImplementedError

    async def on_GET(self, request: Request, scope: str, kind: str, ruleId: str) -> tuple[int, JsonDict]:
        user_id = await self._user(request)
        rule = await self._rule(user_id, scope, kind, ruleId)
        return 200, {self.ATTRIBUTE: getattr(rule, self.ATTRIBUTE)}

    async def on_PUT(self, request: Request, scope: str, kind: str, ruleId: str) -> tuple[int, JsonDict]:
        user_id = await self._user(request)
        check_kind(scope, kind)
        value = self._value(parse_json_object_from_request(request))
        await self._hs.stream_writer("push_rules").set_rule_attribute(
            user_id=user_id, kind=kind, rule_id=ruleId, attribute=self.ATTRIBUTE, value=value
        )
        return 200, {}


class PushRuleEnabledServlet(_AttributeServlet):
    """GET|PUT /pushrules/{scope}/{kind}/{ruleId}/enabled"""

    PATTERNS = client_patterns("/pushrules/{scope}/{kind}/{ruleId}/enabled")
    ATTRIBUTE = "enabled"

    def _value(self, body: JsonDict) -> Any:
        if not isinstance(body.get("enabled"), bool):
            raise SynapseError(400, "'enabled' must be a boolean", Codes.INVALID_PARAM)
        return body["enabled"]


class PushRuleActionsServlet(_AttributeServlet):
    """GET|PUT /pushrules/{scope}/{kind}/{ruleId}/actions"""

    PATTERNS = client_patterns("/pushrules/{scope}/{kind}/{ruleId}/actions")
    ATTRIBUTE = "actions"

    def _value(self, body: JsonDict) -> Any:
        return clean_actions(body.get("actions"))
