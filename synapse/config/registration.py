"""The `registration` section: who may sign up, and how passwords are hashed."""

from typing import Optional

import attrs

from synapse.config._base import ParseContext

KEYS = frozenset(
    {
        "enable_registration",
        "enable_registration_without_verification",
        "registration_shared_secret",
        "registration_shared_secret_path",
        "registration_requires_token",
        "registrations_require_3pid",
        "enable_registration_captcha",
        "allow_guest_access",
        "bcrypt_rounds",
        "password_config",
    }
)


@attrs.frozen
class RegistrationConfig:
    enable_registration: bool
    enable_registration_without_verification: bool
    registration_shared_secret: Optional[str]
    registration_shared_secret_path: Optional[str]
    registration_requires_token: bool
    registrations_require_3pid: list[str]
    enable_registration_captcha: bool
    allow_guest_access: bool
    bcrypt_rounds: int
    # password_config.enabled / password_config.pepper
    password_enabled: bool
    password_pepper: str

    @classmethod
    def parse(cls, ctx: ParseContext) -> "RegistrationConfig":
        root = ctx.root
        enable = root["enable_registration"].as_bool(False)
        without_verification = root["enable_registration_without_verification"].as_bool(False)
        requires_token = root["registration_requires_token"].as_bool(False)
        require_3pid = root["registrations_require_3pid"].str_list([])
        captcha = root["enable_registration_captcha"].as_bool(False)
        if enable and not (without_verification or requires_token or require_3pid or captcha):
            # Synapse refuses open registration nobody verifies: it invites spam
            raise root["enable_registration"].error(
                "open registration without any verification is refused; set "
                "enable_registration_without_verification: true if you really want it, or require "
                "a token (registration_requires_token), a captcha or a 3pid"
            )

        secret = root["registration_shared_secret"].as_str(None)
        secret_path_node = root["registration_shared_secret_path"]
        secret_path = secret_path_node.as_str(None)
        if secret is not None and secret_path is not None:
            raise secret_path_node.error("set registration_shared_secret or registration_shared_secret_path, not both")
        if secret_path is not None:
            try:
                with open(secret_path, encoding="utf-8") as f:
                    secret = f.read().strip()
            except OSError as e:
                raise secret_path_node.error(f"cannot read {secret_path}: {e.strerror}") from None

        password = root["password_config"]
        password.mapping()
        return cls(
            enable_registration=enable,
            enable_registration_without_verification=without_verification,
            registration_shared_secret=secret,
            registration_shared_secret_path=secret_path,
            registration_requires_token=requires_token,
            registrations_require_3pid=require_3pid,
            enable_registration_captcha=captcha,
            allow_guest_access=root["allow_guest_access"].as_bool(False),
            bcrypt_rounds=root["bcrypt_rounds"].as_int(12, minimum=4, maximum=31),
            password_enabled=password["enabled"].as_bool(True),
            password_pepper=password["pepper"].as_str(""),
        )
