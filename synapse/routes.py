"""The endpoint table: every HTTP route, declared once.

Each entry names the servlet (whose PATTERNS give the paths and whose
on_<METHOD> methods give the methods), the listener resource it is served
under, and where it may run. Processes mount servlets from this table; the
nginx generator of the workers issue reads the same table, so routing and
serving cannot disagree.
"""

from typing import Optional

import attrs

from synapse.http.servlet import RestServlet


@attrs.frozen
class Route:
    servlet: type[RestServlet]
    # listener resource name: client, federation, keys, media, replication, openid
    resource: str = "client"
    # "generic": any generic worker may serve it; "main": only the main process
    runs_on: str = "generic"
    # requests that must reach one process per key ("room" for /messages
    # pagination, "user" for /sync); None when any process will do
    sticky_by: Optional[str] = None
    # the stream whose writer must receive the request (typing, to_device,
    # account_data, receipts, presence, push_rules); None for any process
    stream: Optional[str] = None


def build_routes() -> list[Route]:
    """The full table. Imports servlets here so that importing routes is cheap."""
    routes: list[Route] = []
    # --- accounts: versions, capabilities, login, logout, register, account,
    # --- devices, profile, admin register / server_version
    routes += _accounts_routes()
    # --- rooms: createRoom, membership, send, state, redact, aliases, directory
    routes += _rooms_routes()
    # --- reading: sync, filters, messages, context, members, events, initialSync
    routes += _reading_routes()
    # --- end-to-end encryption: keys upload/query/claim, cross-signing, backup
    routes += _e2ee_routes()
    # --- search and relations: /search, /relations, /threads
    routes += _search_relations_routes()
    # --- user directory: /user_directory/search
    routes += _user_directory_routes()
    # --- per-user streams: account data and tags
    routes += _user_streams_routes()
    # --- typing, read receipts and read markers
    routes += _typing_receipts_routes()
    # --- send-to-device messages (the to_device stream)
    routes += _to_device_routes()
    # --- presence (the presence stream)
    routes += _presence_routes()
    # --- push rules (the push_rules stream) and /notifications
    routes += _push_routes()
    return routes


def _push_routes() -> list[Route]:
    from synapse.rest.client import notifications, push_rule

    # The workers doc routes /pushrules/ to the push_rules writer (GETs to
    # any generic worker) and /notifications to any generic worker.
    return [
        Route(push_rule.PushRulesServlet, stream="push_rules"),
        Route(push_rule.PushRuleServlet, stream="push_rules"),
        Route(push_rule.PushRuleEnabledServlet, stream="push_rules"),
        Route(push_rule.PushRuleActionsServlet, stream="push_rules"),
        Route(notifications.NotificationsServlet),
    ]


def _user_streams_routes() -> list[Route]:
    from synapse.rest.client import account_data

    return [
        Route(account_data.AccountDataServlet, stream="account_data"),
        Route(account_data.RoomAccountDataServlet, stream="account_data"),
        Route(account_data.TagListServlet, stream="account_data"),
        Route(account_data.TagServlet, stream="account_data"),
    ]


def _typing_receipts_routes() -> list[Route]:
    from synapse.rest.client import receipts, typing

    return [
        Route(typing.RoomTypingServlet, stream="typing"),
        Route(receipts.ReceiptServlet, stream="receipts"),
        Route(receipts.ReadMarkerServlet, stream="receipts"),
    ]


def _e2ee_routes() -> list[Route]:
    from synapse.rest.client import keys, room_keys

    # The workers doc lets generic workers serve key queries, claims,
    # changes and backups; uploads of device and cross-signing keys and of
    # signatures run on main. None of these tables is a stream yet.
    return [
        Route(keys.KeyQueryServlet),
        Route(keys.KeyClaimServlet),
        Route(keys.KeyChangesServlet),
        Route(keys.KeyUploadServlet, runs_on="main"),
        Route(keys.SigningKeyUploadServlet, runs_on="main"),
        Route(keys.SignaturesUploadServlet, runs_on="main"),
        Route(room_keys.RoomKeysServlet),
        Route(room_keys.RoomKeysNewVersionServlet),
        Route(room_keys.RoomKeysVersionServlet),
    ]


def _search_relations_routes() -> list[Route]:
    from synapse.rest.client.relations import RelationsServlet, ThreadsServlet
    from synapse.rest.client.search import SearchRestServlet

    # reads only: any generic worker may serve them (the index is written
    # by the events persister)
    return [
        Route(SearchRestServlet),
        Route(RelationsServlet),
        Route(ThreadsServlet),
    ]


def _user_directory_routes() -> list[Route]:
    from synapse.rest.client.user_directory import UserDirectorySearchRestServlet

    # searching only reads the directory tables, so any process serves it;
    # the updater runs where config.worker.should_update_user_directory says
    return [Route(UserDirectorySearchRestServlet)]


def _accounts_routes() -> list[Route]:
    from synapse.rest.admin.register import UserRegisterServlet
    from synapse.rest.admin.server_version import ServerVersionServlet
    from synapse.rest.client.account import DeactivateAccountRestServlet, PasswordRestServlet, WhoamiRestServlet
    from synapse.rest.client.capabilities import CapabilitiesRestServlet
    from synapse.rest.client.devices import DeleteDevicesRestServlet, DeviceRestServlet, DevicesRestServlet
    from synapse.rest.client.login import LoginRestServlet
    from synapse.rest.client.logout import LogoutAllRestServlet, LogoutRestServlet
    from synapse.rest.client.profile import ProfileFieldRestServlet, ProfileRestServlet
    from synapse.rest.client.register import RegisterAvailableRestServlet, RegisterRestServlet
    from synapse.rest.client.versions import VersionsRestServlet

    # Accounts tables are not streams: generic workers may serve logins,
    # registrations and profile reads/writes (as in Synapse's worker docs).
    # Token-deleting endpoints run on main, as the workers doc lists them.
    return [
        Route(VersionsRestServlet),
        Route(CapabilitiesRestServlet),
        Route(LoginRestServlet),
        Route(RegisterRestServlet),
        Route(RegisterAvailableRestServlet),
        Route(WhoamiRestServlet),
        Route(DevicesRestServlet),
        Route(ProfileRestServlet),
        Route(ProfileFieldRestServlet),
        Route(LogoutRestServlet, runs_on="main"),
        Route(LogoutAllRestServlet, runs_on="main"),
        Route(PasswordRestServlet, runs_on="main"),
        Route(DeactivateAccountRestServlet, runs_on="main"),
        Route(DeviceRestServlet, runs_on="main"),
        Route(DeleteDevicesRestServlet, runs_on="main"),
        Route(UserRegisterServlet, resource="admin", runs_on="main"),
        Route(ServerVersionServlet, resource="admin", runs_on="main"),
    ]


def _rooms_routes() -> list[Route]:
    from synapse.rest.client import directory, room

    # As in Synapse's worker docs: room writes run on any process (events
    # reach the room's event persister through hs.event_persister); forget
    # and directory visibility are main-process only.
    return [
        Route(room.RoomCreateRestServlet),
        Route(room.JoinRoomAliasServlet),
        Route(room.RoomMembershipRestServlet),
        Route(room.RoomForgetRestServlet, runs_on="main"),
        Route(room.RoomSendEventRestServlet),
        Route(room.RoomRedactEventRestServlet),
        Route(room.RoomStateEventRestServlet),
        Route(room.RoomStateRestServlet),
        Route(directory.ClientDirectoryServer),
        Route(directory.RoomAliasListServlet),
        Route(directory.ClientDirectoryListServer, runs_on="main"),
        Route(directory.PublicRoomListRestServlet),
    ]


def _reading_routes() -> list[Route]:
    from synapse.rest.client import events, filter, initial_sync, room_read, sync

    return [
        Route(sync.SyncServlet, sticky_by="user"),
        Route(events.EventStreamServlet, sticky_by="user"),
        Route(events.EventServlet, runs_on="main"),
        Route(initial_sync.InitialSyncServlet),
        Route(room_read.RoomInitialSyncServlet),
        Route(filter.CreateFilterServlet),
        Route(filter.GetFilterServlet),
        Route(room_read.RoomMessagesServlet, sticky_by="room"),
        Route(room_read.RoomContextServlet),
        Route(room_read.RoomEventServlet),
        Route(room_read.RoomMembersServlet),
        Route(room_read.JoinedMembersServlet),
        Route(room_read.JoinedRoomsServlet),
    ]


def _to_device_routes() -> list[Route]:
    from synapse.rest.client import sendtodevice

    # The workers doc routes sendToDevice to the to_device stream's writer;
    # any other process serves it too, forwarding the write.
    return [Route(sendtodevice.SendToDeviceRestServlet, stream="to_device")]


def _presence_routes() -> list[Route]:
    from synapse.rest.client import presence

    return [Route(presence.PresenceStatusServlet, stream="presence")]
